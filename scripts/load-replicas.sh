#!/usr/bin/env bash
# End-to-end load on PostgreSQL: N gateway replicas (release builds, each with its in-process
# mock bureau) sharing one PostgreSQL transfer log, and one load generator spreading its
# workers over them. Bounded in time; stops by itself; drops its schema afterwards.
#
#   KUZET_BENCH_PG=postgres://USER@HOST:PORT/DB scripts/load-replicas.sh [replicas] [seconds] \
#       [concurrency] [full|two_contracts]
#
# KUZET_BENCH_PG defaults to KUZET_TEST_PG, then to postgres://postgres@127.0.0.1:5432/test.
# Each run gets a fresh schema (psql creates and drops it). Prints requests/s, p50, p99, and the
# verification of the shared chain. Compare `1` and `2` replicas in one session: on a 2-core
# machine the replicas, PostgreSQL and the load generator share the same two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
replicas=${1:-2}
seconds=${2:-20}
concurrency=${3:-32}
size=${4:-two_contracts}
base=${KUZET_BENCH_PG:-${KUZET_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}}
schema="kz_bench_$$"

cargo build --release --quiet --bin kuzet --example load
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  psql -q "$base" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql -q "$base" -c "CREATE SCHEMA $schema" >/dev/null
case "$base" in *\?*) sep='&' ;; *) sep='?' ;; esac
export KUZET_DATABASE_URL="${base}${sep}options=-csearch_path%3D${schema}"
printf '[server]\nlisten = "127.0.0.1:0"\n[mocks]\nlisten = "127.0.0.1:0"\nfcb_report_size = "%s"\n' \
  "$size" >"$work/kuzet.toml"

urls=()
for r in $(seq 1 "$replicas"); do
  mkdir -p "$work/r$r"
  if [ "$r" -gt 1 ]; then
    cp -p "$work/r1/master.key" "$work/r1/checkpoint.key" "$work/r$r/"
  fi
  RUST_LOG=warn ./target/release/kuzet --data "$work/r$r" --config "$work/kuzet.toml" \
    serve --mock-upstreams >"$work/out$r" 2>"$work/err$r" &
  pids+=($!)
  for _ in $(seq 1 200); do
    grep -q '^kuzet listening on ' "$work/out$r" 2>/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/err$r"; exit 1; }
    sleep 0.05
  done
  urls+=("$(sed -n 's/^kuzet listening on //p' "$work/out$r")")
  # The first replica creates the demo clients; its keys must exist before the next starts.
  [ "$r" -eq 1 ] && for _ in $(seq 1 100); do grep -q '^  curl' "$work/out1" && break; sleep 0.05; done
done
token=$(awk '$1 == "demo-underwriting" {print $3}' "$work/out1")
joined=$(IFS=,; echo "${urls[*]}")
echo "$replicas replica(s) on PostgreSQL ($schema), reports: $size, $concurrency in flight, ${seconds}s ($(nproc) cores)"
./target/release/examples/load --url "$joined" --token "$token" \
  --concurrency "$concurrency" --seconds "$seconds"
./target/release/kuzet --data "$work/r1" log verify
