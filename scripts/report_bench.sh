#!/usr/bin/env bash
# The bureau reporting benchmark: COUNT synthetic contracts (default 100,000) from a JSON Lines
# file to zipped batches (`kuzet report run --dry-run`: read, validate, enforce, check consent,
# detect changes, build the datapump XML and zip it, batch by batch). Goal: <= 10 s and a peak
# resident memory <= 150 MB. Prints the elapsed time and the peak RSS of each run.
#
#   scripts/report_bench.sh [COUNT] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${1:-100000}"
RUNS="${2:-3}"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
cargo build --release --quiet --bin kuzet --example report_setup
target/release/examples/report_setup "$DIR" "$COUNT"
ls -l "$DIR/contracts.jsonl" | awk '{print "source: " $5 " bytes"}'
for i in $(seq 1 "$RUNS"); do
  /usr/bin/time -f "run $i: %e s elapsed, %M KB peak RSS" \
    target/release/kuzet --data "$DIR/data" report run --dry-run --source "$DIR/contracts.jsonl" \
    2>&1 >"$DIR/out.txt" | grep -E "^run [0-9]+:" || true; head -n 1 "$DIR/out.txt"
done
