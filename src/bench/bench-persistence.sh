#!/usr/bin/env bash
# Acknowledged QoS 1 publishes per second to one persistent (offline) subscriber under each
# durability policy, and with persistence off, at 1 and 16 publishers. A benchmark, not a test.
#   scripts/bench-persistence.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
BUILD=${BUILD_DIR:-build}
cmake --build "$BUILD" -j2 --target edgemq edgemq-publish-bench >/dev/null
TMP=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
printf '%-22s %8s %12s %8s %8s\n' policy clients "msgs/s" "p50 us" "p99 us"
for policy in sync batch none off; do
  for c in 1 16; do
    rm -rf "$TMP/data"
    if [ "$policy" = off ]; then persist='"enabled": false'; else persist="\"sync\": \"$policy\", \"batch_ms\": 5"; fi
    printf '{"persistence": {%s}, "statestore": {"enabled": false}, "queue": {"max_messages": 100000000, "max_bytes": 17179869184}, "log_level": "warn"}' "$persist" > "$TMP/cfg.json"
    "$BUILD/src/app/edgemq" --listen 127.0.0.1:0 --data-dir "$TMP/data" --config "$TMP/cfg.json" --log-level info > "$TMP/log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do grep -q "ready: MQTT on" "$TMP/log" && break; sleep 0.1; done
    port=$(grep -o 'ready: MQTT on [0-9.]*:[0-9]*' "$TMP/log" | sed 's/.*://')
    out=$("$BUILD/src/bench/edgemq-publish-bench" --port "$port" -c "$c" -s "$SECS" --persistent-subscribers 1)
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
    field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<< "$out"; }
    label=$policy; [ "$policy" = batch ] && label="batch (5 ms)"
    printf '%-22s %8s %12s %8s %8s\n' "$label" "$c" "$(field msgs_per_sec)" "$(field p50_us)" "$(field p99_us)"
  done
done
