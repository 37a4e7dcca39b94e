#!/usr/bin/env bash
# End-to-end load test: the gateway (release build, durable SQLite log, in-process mock bureau)
# and a load generator in a second process, both on loopback. Bounded in time; stops by itself.
#
#   scripts/load.sh [full|two_contracts] [seconds] [concurrency] [credit-report|check]
#
# Prints requests/s, p50 and p99. "full" reports are about 300 KB (like the sample report),
# "two_contracts" about 60 KB. "check" sends POST /v1/applicants/check (credit history, income
# and vehicle at once) instead of credit reports.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-full}
seconds=${2:-20}
concurrency=${3:-32}
endpoint=${4:-credit-report}

cargo build --release --quiet --bin kuzet --example load
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
printf '[server]\nlisten = "127.0.0.1:0"\n[mocks]\nfcb_report_size = "%s"\n' "$size" >"$work/kuzet.toml"

RUST_LOG=warn ./target/release/kuzet --data "$work/data" --config "$work/kuzet.toml" \
  serve --mock-upstreams >"$work/out" 2>"$work/err" &
server=$!
for _ in $(seq 1 200); do
  grep -q '^kuzet listening on ' "$work/out" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/err"; exit 1; }
  sleep 0.05
done
url=$(sed -n 's/^kuzet listening on //p' "$work/out")
token=$(awk '$1 == "demo-underwriting" {print $3}' "$work/out")
echo "gateway at $url, $endpoint, reports: $size, $concurrency in flight, ${seconds}s ($(nproc) cores)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
before=$(cpu_ticks)
./target/release/examples/load --url "$url" --token "$token" \
  --concurrency "$concurrency" --seconds "$seconds" --endpoint "$endpoint" | tee "$work/load"
after=$(cpu_ticks)
# CPU time the gateway spent per request: steadier than req/s on a shared, noisy machine.
requests=$(sed -n 's/^requests: \([0-9]*\).*/\1/p' "$work/load")
awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
  'BEGIN { printf "gateway CPU: %.2f ms per request (the consents included)\n", 1000 * t / hz / n }'
./target/release/kuzet --data "$work/data" log verify
