#!/usr/bin/env bash
# Acknowledged QoS 1 publishes per second to one persistent (offline) subscriber under each
# durability policy, and with persistence off, at 1 and 16 publishers, with the broker's fsyncs per
# acknowledged message (fsync + fdatasync counted by strace --seccomp-bpf, which stops the broker on
# those calls only; "-" without strace). A benchmark, not a test.
#   src/bench/bench-persistence.sh [seconds-per-run]
# POLICIES="batch off" CLIENTS=16 REPS=3 narrow it (each repetition runs every policy in turn, so the
# ones compared share the machine's load).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
BUILD=${BUILD_DIR:-build}
cmake --build "$BUILD" -j2 --target edgemq edgemq-publish-bench >/dev/null
TMP=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
STRACE=()
command -v strace >/dev/null && STRACE=(strace -f --seccomp-bpf -e trace=fsync,fdatasync -c -o "$TMP/strace")
printf '%-22s %8s %12s %8s %8s %12s\n' policy clients "msgs/s" "p50 us" "p99 us" "fsyncs/msg"
for rep in $(seq "${REPS:-1}"); do
for policy in ${POLICIES:-sync batch none off}; do
  for c in ${CLIENTS:-1 16}; do
    rm -rf "$TMP/data"
    if [ "$policy" = off ]; then persist='"enabled": false'; else persist="\"sync\": \"$policy\", \"batch_ms\": 5"; fi
    printf '{"persistence": {%s}, "statestore": {"enabled": false}, "queue": {"max_messages": 100000000, "max_bytes": 17179869184}, "log_level": "warn"}' "$persist" > "$TMP/cfg.json"
    rm -f "$TMP/strace"
    "${STRACE[@]}" "$BUILD/src/app/edgemq" --listen 127.0.0.1:0 --data-dir "$TMP/data" --config "$TMP/cfg.json" \
      --log-level info > "$TMP/log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do grep -q "ready: MQTT on" "$TMP/log" && break; sleep 0.1; done
    port=$(grep -o 'ready: MQTT on [0-9.]*:[0-9]*' "$TMP/log" | sed 's/.*://')
    out=$("$BUILD/src/bench/edgemq-publish-bench" --port "$port" -c "$c" -s "$SECS" --persistent-subscribers 1)
    # SIGTERM to the broker itself (under strace it is the child); strace writes its count as it exits.
    broker=$(pgrep -P "$PID" -x edgemq || echo "$PID")
    kill "$broker"; wait "$PID" 2>/dev/null || true; PID=""
    field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<< "$out"; }
    fsyncs="-"
    if [ -s "$TMP/strace" ]; then
      n=$(awk '$NF == "fsync" || $NF == "fdatasync" { s += $4 } END { print s + 0 }' "$TMP/strace")
      fsyncs=$(awk -v n="$n" -v m="$(field acked)" 'BEGIN { printf "%.4f", (m > 0 ? n / m : 0) }')
    fi
    label=$policy; [ "$policy" = batch ] && label="batch (5 ms)"
    printf '%-22s %8s %12s %8s %8s %12s\n' "$label" "$c" "$(field msgs_per_sec)" "$(field p50_us)" "$(field p99_us)" "$fsyncs"
  done
done
done
