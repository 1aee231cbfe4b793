#!/usr/bin/env bash
# Start-up time of the daemon on a large store: N persistent sessions and M retained messages
# written straight into the database, then the time from exec to the ready line, and RSS.
#   scripts/bench-restart.sh [sessions] [retained]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}
M=${2:-1000000}
BUILD=${BUILD_DIR:-build}
cmake --build "$BUILD" -j2 --target edgemq edgemq-store-fill >/dev/null
TMP=$(mktemp -d)
trap 'kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
PID=
"$BUILD/src/bench/edgemq-store-fill" --data-dir "$TMP/data" --sessions "$N" --retained "$M"
du -sh "$TMP/data/broker" | awk '{print "database size: " $1}'
start=$(date +%s.%N)
"$BUILD/src/app/edgemq" --listen 127.0.0.1:0 --data-dir "$TMP/data" --log-level info > "$TMP/log" 2>&1 &
PID=$!
while ! grep -q "ready: MQTT on" "$TMP/log"; do sleep 0.05; done
end=$(date +%s.%N)
grep "persistence: restored" "$TMP/log" | sed 's/.*persistence: //'
printf 'start-up to ready: %.2f s, RSS %s MB\n' "$(echo "$end - $start" | bc)" "$(( $(awk '/VmRSS/ {print $2}' /proc/$PID/status) / 1024 ))"
