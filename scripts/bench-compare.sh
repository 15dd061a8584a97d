#!/usr/bin/env bash
# Compare Nagare with kinesalite on this machine, through the same client (`nagare bench`:
# the AWS SDK, and for PutRecord also its lean `--client raw`), one server at a time; measure
# Nagare's push latency (SubscribeToShard, which kinesalite lacks) beside its polling latency,
# and its memory while it writes and drains a large volume.
#
# Usage: scripts/bench-compare.sh [options]
#   --duration S        seconds per timed put/latency scenario (default 15)
#   --drain-records N   pre-fill size of the GetRecords drain (default 200000)
#   --repeat N          run each scenario N times per server; the table shows the median (default 1)
#   --memory-gb G       volume written then drained in the memory run, in GB (default 2; 0 skips)
#   --memory-record-size B   record size of the memory run (default 10240)
#   --kinesalite-disk   run kinesalite on LevelDB (--path) instead of its default in-memory store
#   --skip-kinesalite   only measure Nagare (no ratios)
#   --out DIR           where the JSON lines and logs go (default .bench/results/<timestamp>)
#   --no-wait-idle      do not wait (up to 5 min) for the CPUs to be >= 90% idle before each server
#   --nagare-args "..." extra `nagare serve` arguments (default: `--throughput-limits off` when the
#                       binary has that flag: AWS's per-shard limits would cap every scenario at
#                       1,000 records/s per shard, and kinesalite enforces none)
#
# Nagare runs with its default durability (fsync always: every acknowledged write is on disk)
# on a fresh temporary data directory, from a private copy of the binary built here.
# Output: one JSON line per run in DIR/*.jsonl, a summary on stdout. See docs/benchmarks.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION=15
DRAIN_RECORDS=200000
REPEAT=1
MEMORY_GB=2
MEMORY_RECORD_SIZE=10240
KINESALITE_DISK=0
SKIP_KINESALITE=0
WAIT_IDLE=1
NAGARE_ARGS=()
NAGARE_ARGS_SET=0
OUT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --drain-records) DRAIN_RECORDS="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --memory-gb) MEMORY_GB="$2"; shift 2 ;;
        --memory-record-size) MEMORY_RECORD_SIZE="$2"; shift 2 ;;
        --kinesalite-disk) KINESALITE_DISK=1; shift ;;
        --skip-kinesalite) SKIP_KINESALITE=1; shift ;;
        --out) OUT="$2"; shift 2 ;;
        --no-wait-idle) WAIT_IDLE=0; shift ;;
        --nagare-args) NAGARE_ARGS_SET=1; read -r -a NAGARE_ARGS <<<"$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
OUT="${OUT:-.bench/results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

log() { echo "== $*" >&2; }

# --- build and install ------------------------------------------------------------------------
log "building nagare (release)"
cargo build --release -p nagare-cli >&2
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
# Run a private copy: on a shared checkout another build may replace target/release/nagare
# while the benchmark runs, and the numbers would silently belong to a different binary.
mkdir -p "$OUT/bin"
cp "$TARGET_DIR/release/nagare" "$OUT/bin/nagare"
NAGARE="$OUT/bin/nagare"
{
    echo "binary sha256: $(sha256sum "$NAGARE" | cut -d' ' -f1)"
    if git rev-parse --git-dir >/dev/null 2>&1; then
        echo "commit: $(git rev-parse HEAD)"
        echo "uncommitted changes: $(git status --porcelain --untracked-files=no | wc -l) files"
    fi
} >"$OUT/source.txt"
if [[ "$NAGARE_ARGS_SET" == 0 ]] && "$NAGARE" serve --help | grep -q -- '--throughput-limits'; then
    NAGARE_ARGS=(--throughput-limits off)
fi
echo "nagare serve extra args: ${NAGARE_ARGS[*]:-(none)}" >>"$OUT/source.txt"

KINESALITE_CLI="$ROOT/.bench/kinesalite/node_modules/kinesalite/cli.js"
if [[ "$SKIP_KINESALITE" == 0 && ! -f "$KINESALITE_CLI" ]]; then
    log "installing kinesalite 3.3.3 into .bench/kinesalite"
    npm install --prefix .bench/kinesalite kinesalite@3.3.3 >&2
fi

# --- server lifecycle -------------------------------------------------------------------------
SERVER_PID=""
TMP_DIRS=()
SAMPLER_PID=""
cleanup() {
    [[ -n "$SAMPLER_PID" ]] && kill "$SAMPLER_PID" 2>/dev/null || true
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
    [[ -n "$SERVER_PID" ]] && wait "$SERVER_PID" 2>/dev/null || true
    for d in "${TMP_DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

# Wait until FILE has a line matching REGEX (server readiness), or fail after 30 s.
wait_for_line() {
    local file="$1" regex="$2" pid="$3"
    for _ in $(seq 300); do
        if grep -Eq "$regex" "$file" 2>/dev/null; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "server exited early; log:" >&2; cat "$file" >&2; return 1
        fi
        sleep 0.1
    done
    echo "server not ready after 30 s" >&2; return 1
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Start Nagare on a fresh data dir; sets SERVER_PID and ENDPOINT.
start_nagare() {
    local name="$1" data
    data="$(mktemp -d "${TMPDIR:-/tmp}/nagare-bench-data.XXXXXX")"
    TMP_DIRS+=("$data")
    "$NAGARE" serve --listen 127.0.0.1:0 --data-dir "$data" "${NAGARE_ARGS[@]}" \
        >"$OUT/$name.stdout" 2>"$OUT/$name.log" &
    SERVER_PID=$!
    wait_for_line "$OUT/$name.stdout" '^nagare listening on http://' "$SERVER_PID"
    ENDPOINT="$(sed -n 's/^nagare listening on \(http:\/\/[^ ]*\).*/\1/p' "$OUT/$name.stdout" | head -1)"
    log "nagare pid $SERVER_PID at $ENDPOINT (data $data)"
}

# Start kinesalite; sets SERVER_PID and ENDPOINT.
start_kinesalite() {
    local port extra=()
    port="$(free_port)"
    if [[ "$KINESALITE_DISK" == 1 ]]; then
        local data
        data="$(mktemp -d "${TMPDIR:-/tmp}/kinesalite-bench-data.XXXXXX")"
        TMP_DIRS+=("$data")
        extra=(--path "$data")
    fi
    # Stream state changes are immediate, as Nagare's defaults are; --shardLimit lifts the
    # default 10-shard account limit.
    node "$KINESALITE_CLI" --port "$port" --shardLimit 100 \
        --createStreamMs 0 --deleteStreamMs 0 --updateStreamMs 0 "${extra[@]}" \
        >"$OUT/kinesalite.log" 2>&1 &
    SERVER_PID=$!
    wait_for_line "$OUT/kinesalite.log" '^Listening at' "$SERVER_PID"
    ENDPOINT="http://127.0.0.1:$port"
    log "kinesalite pid $SERVER_PID at $ENDPOINT"
}

# Idle share of all CPUs over one second, in percent (from /proc/stat).
cpu_idle_pct() {
    local a b
    a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
    local total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    local idle=$(( (b[4] - a[4]) + (b[5] - a[5]) ))
    echo $(( total > 0 ? 100 * idle / total : 100 ))
}

# Client and server share this machine; anything else running skews the numbers. Wait for
# three consecutive seconds of >= 90% idle CPU (at most 5 minutes), and say so when it never came.
wait_idle() {
    [[ "$WAIT_IDLE" == 1 ]] || return 0
    local quiet=0 idle
    for _ in $(seq 300); do
        idle="$(cpu_idle_pct)"
        if (( idle >= 90 )); then quiet=$((quiet + 1)); else quiet=0; fi
        (( quiet >= 3 )) && return 0
    done
    log "WARNING: machine not idle (last second ${idle}% idle); measuring anyway"
    echo "not idle before $1 at $(date -Is): ${idle}% idle" >>"$OUT/warnings.txt"
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

bench() {
    local server="$1"; shift
    log "$server: nagare bench $*"
    "$NAGARE" bench "$@" --endpoint "$ENDPOINT" --label "$server" --server-pid "$SERVER_PID" \
        2>>"$OUT/bench-client.log" | tee -a "$OUT/$server.jsonl"
}

run_scenarios() {
    local server="$1"
    bench "$server" put-records --connections 8 --batch 500 --record-size 100 --shards 4 \
        --duration-secs "$DURATION"
    # PutRecord twice: through the lean client (the server-throughput comparison: the SDK
    # spends as much CPU per call as the server, on the same two cores) and through the SDK.
    bench "$server" put-record --client raw --connections 16 --record-size 100 --shards 4 \
        --duration-secs "$DURATION"
    bench "$server" put-record --client sdk --connections 16 --record-size 100 --shards 4 \
        --duration-secs "$DURATION"
    bench "$server" get-records-drain --connections 8 --batch 500 --record-size 100 \
        --shards 4 --records "$DRAIN_RECORDS" --get-limit 10000
    bench "$server" latency --rate 1000 --record-size 100 --shards 4 \
        --duration-secs "$DURATION"
    # kinesalite has no SubscribeToShard.
    if [[ "$server" == nagare ]]; then
        bench "$server" push-latency --rate 1000 --record-size 100 --shards 4 \
            --duration-secs "$DURATION"
    fi
}

# --- comparison -------------------------------------------------------------------------------
# Repeats alternate between the servers, so a burst of outside load hits both alike.
uname -a >"$OUT/machine.txt"
nproc >>"$OUT/machine.txt"
grep -m1 'model name' /proc/cpuinfo >>"$OUT/machine.txt" || true
free -m >>"$OUT/machine.txt"
for _ in $(seq "$REPEAT"); do
    wait_idle nagare
    start_nagare nagare
    run_scenarios nagare
    stop_server
    if [[ "$SKIP_KINESALITE" == 0 ]]; then
        wait_idle kinesalite
        start_kinesalite
        run_scenarios kinesalite
        stop_server
    fi
done

# --- memory run -------------------------------------------------------------------------------
if python3 -c "import sys; sys.exit(0 if float('$MEMORY_GB') > 0 else 1)"; then
    MEMORY_RECORDS="$(python3 -c "print(int(float('$MEMORY_GB') * 1e9 // $MEMORY_RECORD_SIZE))")"
    wait_idle nagare-memory
    start_nagare nagare-memory
    # Sample the server's resident set every 200 ms; VmHWM is the kernel's own peak.
    (
        echo -e "t_s\tVmRSS_kB\tVmHWM_kB"
        start=$(date +%s.%N)
        while kill -0 "$SERVER_PID" 2>/dev/null; do
            awk -v t="$(date +%s.%N)" -v s="$start" \
                '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {if (r != "") printf "%.1f\t%s\t%s\n", t-s, r, h}' \
                "/proc/$SERVER_PID/status" 2>/dev/null || true
            sleep 0.2
        done
    ) >"$OUT/memory-rss.tsv" &
    SAMPLER_PID=$!
    # Batches of 500 x 10 KB (~5 MB) stay under the 5 MiB PutRecords limit.
    bench nagare-memory get-records-drain --connections 4 --batch 500 \
        --record-size "$MEMORY_RECORD_SIZE" --shards 4 --records "$MEMORY_RECORDS" --get-limit 10000
    FINAL_STATUS="$(grep -E '^(VmRSS|VmHWM):' "/proc/$SERVER_PID/status" | tr -s ' \t' ' ' | tr '\n' ' ')"
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
    stop_server
    echo "$FINAL_STATUS" >"$OUT/memory-final-status.txt"
fi

# --- summary ----------------------------------------------------------------------------------
python3 - "$OUT" <<'PY'
import json, os, statistics, sys

out = sys.argv[1]

def load(name):
    path = os.path.join(out, name + ".jsonl")
    runs = {}
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line:
                r = json.loads(line)
                key = r["scenario"] + ("/raw" if r.get("client") == "raw" else "")
                runs.setdefault(key, []).append(r)
    return runs

def med(runs, scenario, key):
    vals = [r[key] for r in runs.get(scenario, []) if r.get(key) is not None]
    return statistics.median(vals) if vals else None

n, k = load("nagare"), load("kinesalite")
rows = [
    ("PutRecords 500x100 B, 8 conn, 4 shards", "put-records", "records_per_s", "records/s", 10, True),
    ("PutRecord 100 B, 16 conn (raw client)", "put-record/raw", "records_per_s", "records/s", 3, True),
    ("PutRecord 100 B, 16 conn (SDK client)", "put-record", "records_per_s", "records/s", None, True),
    ("GetRecords drain (Limit 10000)", "get-records-drain", "records_per_s", "records/s", 10, True),
    ("GetRecords drain", "get-records-drain", "mb_per_s", "MB/s", None, True),
    ("PutRecords server CPU per record", "put-records", "server_cpu_us_per_record", "us", None, False),
    ("PutRecord server CPU per record (raw)", "put-record/raw", "server_cpu_us_per_record", "us", None, False),
    ("PutRecord client CPU per record (raw)", "put-record/raw", "client_cpu_us_per_record", "us", None, False),
    ("PutRecord client CPU per record (SDK)", "put-record", "client_cpu_us_per_record", "us", None, False),
    ("drain server CPU per record", "get-records-drain", "server_cpu_us_per_record", "us", None, False),
    ("put->visible latency p50", "latency", "p50_ms", "ms", None, False),
    ("put->visible latency p99", "latency", "p99_ms", "ms", None, False),
    ("put->delivered (SubscribeToShard) p50", "push-latency", "p50_ms", "ms", None, False),
    ("put->delivered (SubscribeToShard) p99", "push-latency", "p99_ms", "ms", None, False),
]
fmt = lambda v: "-" if v is None else (f"{v:,.1f}" if v >= 100 else f"{v:,.3f}")
print()
print(f"{'scenario':42} {'unit':10} {'nagare':>14} {'kinesalite':>14} {'ratio n/k':>10}  target")
for label, sc, key, unit, target, higher in rows:
    a, b = med(n, sc, key), med(k, sc, key)
    ratio = a / b if a is not None and b else None
    verdict = ""
    if target is not None and ratio is not None:
        verdict = f">= {target}x: {'MET' if ratio >= target else 'NOT MET'}"
    elif not higher:
        verdict = "(lower is better)"
    print(f"{label:42} {unit:10} {fmt(a):>14} {fmt(b):>14} {fmt(ratio):>10}  {verdict}")
errs = {name: sum(r.get("errors", 0) + r.get("throttles", 0) + r.get("dropped", 0)
                  for rs in runs.values() for r in rs)
        for name, runs in (("nagare", n), ("kinesalite", k))}
push_p99 = med(n, "push-latency", "p99_ms")
if push_p99 is not None:
    print(f"push p99 at 1,000 records/s: {push_p99:.3f} ms; target <= 5 ms: "
          f"{'MET' if push_p99 <= 5 else 'NOT MET'}")
print(f"\nerrors+throttles+dropped across runs: {errs}")
print(f"runs per scenario: nagare {max((len(v) for v in n.values()), default=0)}, "
      f"kinesalite {max((len(v) for v in k.values()), default=0)} (table shows medians)")
warn = os.path.join(out, "warnings.txt")
if os.path.exists(warn):
    print("WARNINGS:\n" + open(warn).read())

rss_path = os.path.join(out, "memory-rss.tsv")
if os.path.exists(rss_path):
    rows = [l.split("\t") for l in open(rss_path).read().splitlines()[1:] if l.strip()]
    max_rss = max((int(r[1]) for r in rows), default=0)
    max_hwm = max((int(r[2]) for r in rows if len(r) > 2 and r[2].strip()), default=0)
    final = open(os.path.join(out, "memory-final-status.txt")).read().strip() if os.path.exists(os.path.join(out, "memory-final-status.txt")) else ""
    mem = load("nagare-memory").get("get-records-drain", [{}])[0]
    print(f"\nmemory run: {mem.get('prefill_records')} x {mem.get('record_size')} B "
          f"= {mem.get('prefill_records', 0) * mem.get('record_size', 0) / 1e9:.2f} GB written in "
          f"{mem.get('prefill_secs')} s, drained {mem.get('records')} in {mem.get('secs')} s")
    print(f"nagare RSS: peak sampled VmRSS {max_rss / 1024:.1f} MiB, VmHWM {max_hwm / 1024:.1f} MiB "
          f"(final: {final}); target < 256 MB: {'MET' if max_hwm * 1024 < 256e6 else 'NOT MET'}")
print(f"\nresults: {out}")
PY
