#!/usr/bin/env bash
# The auditors' commands through the real binary on the 1,000,000-entry log of
# `benches/audit.rs` (built there once and cached under target/tmp/audit-bench-1m-v2; this
# script builds it first when it is missing). Goals (issue 5): a query by subject <= 50 ms, an
# export <= 10 s, verify <= 1 s. Prints the wall time and peak RSS of each command, RUNS times;
# a command's time includes starting the process and opening the databases.
#
#   scripts/audit_bench.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
LOG="target/tmp/audit-bench-1m-v2"
if [[ ! -e "$LOG/complete" || ! -e "$LOG/sample-iin" ]]; then
  # One pass of each benchmark builds and caches the log.
  cargo bench --quiet --bench audit -- --test >/dev/null
fi
cargo build --release --quiet --bin kuzet
IIN="$(cat "$LOG/sample-iin")"   # a synthetic subject of the bench log
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
K=(target/release/kuzet --data "$LOG")
timed() {
  local name="$1"; shift
  /usr/bin/time -f "$name: %e s elapsed, %M KB peak RSS" "$@" 2>&1 >"$OUT/stdout" \
    | grep -F "$name:" || true
}
for i in $(seq 1 "$RUNS"); do
  echo "run $i"
  timed "query by subject, first page of 50" "${K[@]}" log query --iin "$IIN"
  timed "query by subject, all its entries (json)" "${K[@]}" log query --iin "$IIN" --limit 1000 --format json
  timed "subject report (text)" "${K[@]}" log subject-report --iin "$IIN"
  timed "export jsonl" "${K[@]}" log export --format jsonl --out "$OUT/log.jsonl" --force
  timed "export csv" "${K[@]}" log export --format csv --out "$OUT/log.csv" --force
  timed "verify" "${K[@]}" log verify
done
ls -l "$OUT/log.jsonl" "$OUT/log.csv" | awk '{print $9 ": " $5 " bytes"}'
