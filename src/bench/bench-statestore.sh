#!/usr/bin/env bash
# State store SET/GET round trips per second through edgemq (MQTT 5 request/response, RESP3
# payloads) at several client counts, printed beside redis-benchmark on Debian's redis-server
# for scale. A benchmark, not a test: numbers depend on the machine.
#   scripts/bench-statestore.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-5}
BUILD=${BUILD_DIR:-build}
command -v redis-server >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
cmake --build "$BUILD" -j2 --target edgemq edgemq-statestore-bench >/dev/null
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}" $(cat "$TMP/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

start_edgemq() {  # $1: sync policy
  local log="$TMP/edgemq-$1.log"
  printf '{"statestore": {"sync": "%s"}, "log_level": "warn"}' "$1" > "$TMP/cfg-$1.json"
  "$BUILD/src/app/edgemq" --listen 127.0.0.1:0 --data-dir "$TMP/data-$1" --config "$TMP/cfg-$1.json" --log-level info > "$log" 2>&1 &
  echo $! >> "$TMP/pids"  # called in a subshell: the trap reads the file
  for _ in $(seq 100); do grep -q "ready: MQTT on" "$log" && break; sleep 0.1; done
  grep -o 'ready: MQTT on [0-9.]*:[0-9]*' "$log" | sed 's/.*://'
}

REDIS_PORT=$((20000 + RANDOM % 20000))
redis-server --port "$REDIS_PORT" --save "" --appendonly no --daemonize no > "$TMP/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

printf '%-10s %-5s %8s | %14s %8s %8s | %14s %8s %8s | %14s\n' policy op clients "edgemq ops/s" "p50 us" "p99 us" \
  "edgemq(none)" "p50 us" "p99 us" "redis ops/s"
PORT_SYNC=$(start_edgemq sync)
PORT_NONE=$(start_edgemq none)
for op in set get; do
  for c in 1 8 32; do
    a=$("$BUILD/src/bench/edgemq-statestore-bench" --port "$PORT_SYNC" --op "$op" -c "$c" -s "$SECS")
    b=$("$BUILD/src/bench/edgemq-statestore-bench" --port "$PORT_NONE" --op "$op" -c "$c" -s "$SECS")
    n=$(( c * 20000 ))
    r=$(redis-benchmark -p "$REDIS_PORT" -t "$op" -c "$c" -n "$n" -P 1 -q 2>/dev/null | tr '\r' '\n' | grep -i "^$op" | tail -1 | awk '{print $2}')
    field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<< "$1"; }
    printf '%-10s %-5s %8s | %14s %8s %8s | %14s %8s %8s | %14s\n' sync "$op" "$c" \
      "$(field "$a" ops_per_sec)" "$(field "$a" p50_us)" "$(field "$a" p99_us)" \
      "$(field "$b" ops_per_sec)" "$(field "$b" p50_us)" "$(field "$b" p99_us)" "$r"
  done
done
