#!/usr/bin/env bash
# Issue 6's producer targets, measured: the raw PutRecords benchmark against nagare-producer
# with aggregation off and on, 100 B records, same server, alternating, one fresh server per
# round. Prints the medians, the ratios and a verdict per target, for both server configurations:
#   limits on  (the default, AWS's per-shard limits: 1,000 records/s and 1 MiB/s per shard)
#   limits off (no limits: then the client's CPU per record decides)
# The server runs with --fsync never so that its cost per record stays small next to the
# client's: the comparison is about the producer's overhead.
#
# Usage: scripts/bench-producer.sh [--repeat N] [--duration S] [--limits on|off|both]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REPEAT=3; DURATION=8; LIMITS=both
while [[ $# -gt 0 ]]; do
    case "$1" in
        --repeat) REPEAT="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --limits) LIMITS="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
cargo build --release -p nagare-cli -p nagare-producer --examples >&2
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/nagare-bench-producer.XXXXXX")"
cp "$TARGET_DIR/release/nagare" "$TARGET_DIR/release/examples/producer_bench" "$OUT/"
RESULTS="$OUT/results.tsv"
SERVER_PID=""
trap '[[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null; true' EXIT

round() {
    local limits="$1" data
    data="$(mktemp -d "$OUT/data.XXXXXX")"
    "$OUT/nagare" serve --listen 127.0.0.1:0 --data-dir "$data" --fsync never \
        --throughput-limits "$limits" >"$data/stdout" 2>"$data/stderr" &
    SERVER_PID=$!
    for _ in $(seq 100); do grep -q 'listening on' "$data/stdout" 2>/dev/null && break; sleep 0.1; done
    local ep
    ep="$(sed -n 's/^nagare listening on \(http:\/\/[^ ]*\).*/\1/p' "$data/stdout" | head -1)"
    "$OUT/nagare" bench put-records --endpoint "$ep" --duration-secs "$DURATION" 2>/dev/null \
        | python3 -c 'import json,sys; print(sys.argv[1], "raw", json.loads(sys.stdin.read())["records_per_s"])' "$limits" >>"$RESULTS"
    for agg in off on; do
        "$OUT/producer_bench" --endpoint "$ep" --aggregation "$agg" --duration-secs "$DURATION" 2>/dev/null \
            | tail -1 | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(sys.argv[1], sys.argv[2], d["user_records_per_sec"])' "$limits" "$agg" >>"$RESULTS"
    done
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
    rm -rf "$data"
}

configs=(on off)
[[ "$LIMITS" == both ]] || configs=("$LIMITS")
for _ in $(seq "$REPEAT"); do
    for limits in "${configs[@]}"; do
        echo "== round, limits $limits" >&2
        round "$limits"
    done
done

python3 - "$RESULTS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    limits, kind, rate = line.split()
    runs.setdefault((limits, kind), []).append(float(rate))
print(f"{'limits':7} {'raw rec/s':>12} {'agg off':>12} {'agg on':>12} {'off/raw':>8} {'on/off':>8}  verdicts")
for limits in ("on", "off"):
    if (limits, "raw") not in runs:
        continue
    raw, off, on = (statistics.median(runs[(limits, k)]) for k in ("raw", "off", "on"))
    a, b = off / raw, on / off
    print(f"{limits:7} {raw:12,.0f} {off:12,.0f} {on:12,.0f} {a:8.1%} {b:7.2f}x  "
          f"off >= 80% of raw: {'MET' if a >= 0.8 else 'NOT MET'}; on >= 5x off: {'MET' if b >= 5 else 'NOT MET'}")
    print(f"        runs: raw {runs[(limits, 'raw')]}, off {runs[(limits, 'off')]}, on {runs[(limits, 'on')]}")
PY
echo "results: $RESULTS"
