#!/usr/bin/env bash
# Dataflow throughput and CPU per message: a dataflow from local topics to the local broker
# (source -> map-free pass -> disk buffer -> local sink, republished to another topic), loaded
# with --dataflows. A QoS 1 publisher sends N messages to in/bench; a QoS 1 subscriber of out/#
# counts them. Prints messages/s end to end and the daemon's CPU (user + system) per message,
# also for the same traffic without the dataflow (a plain subscriber of in/bench), so the
# dataflow's own cost is the difference.
#   src/bench/bench-dataflow.sh [messages] [payload bytes]
# Needs --dataflows (definitions branch) and python3-paho-mqtt.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-20000}
SIZE=${2:-100}
BUILD=${BUILD_DIR:-build}
cmake --build "$BUILD" -j2 --target edgemq >/dev/null
TMP=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
mkdir -p "$TMP/defs" "$TMP/none"
cat > "$TMP/defs/bench.json" <<'JSON'
{"apiVersion": "connectivity.iotoperations.azure.com/v1", "kind": "Dataflow", "metadata": {"name": "bench"},
 "spec": {"mode": "Enabled", "operations": [
   {"operationType": "Source", "sourceSettings": {"endpointRef": "default", "dataSources": ["in/#"]}},
   {"operationType": "Destination", "destinationSettings": {"endpointRef": "default", "dataDestination": "out/bench"}}]}}
JSON
# Session queues large enough for the whole burst (the default, 1000 per session, drops what a
# slower consumer, the dataflow's source session included, has not taken yet: queue_full).
echo '{"queue": {"max_messages": 10000000, "max_bytes": 4294967296}}' > "$TMP/edgemq.json"
run() {  # $1: label, $2: topic the subscriber counts, $3: definitions directory
  rm -rf "$TMP/data"
  "$BUILD/src/app/edgemq" --listen 127.0.0.1:0 --data-dir "$TMP/data" --dataflows "$3" --config "$TMP/edgemq.json" --log-level info \
    --workers 1 > "$TMP/log" 2>&1 &
  PID=$!
  while ! grep -q "ready: MQTT on .*(data dir" "$TMP/log"; do sleep 0.05; done
  PORT=$(sed -n 's/.*ready: MQTT on [a-z:/]*127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/log")
  [ -n "$PORT" ] || { cat "$TMP/log"; exit 1; }
  /usr/bin/python3 - "$PORT" "$N" "$SIZE" "$PID" "$1" "$2" <<'PY'
import sys, threading, time
import paho.mqtt.client as mqtt
port, n, size, pid, label, topic = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
tick = __import__("os").sysconf("SC_CLK_TCK")
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick
done = threading.Event()
got = [0]
def on_message(c, u, m):
    got[0] += 1
    if got[0] == n:
        done.set()
sub = mqtt.Client(client_id="bench-sub", protocol=mqtt.MQTTv5)
sub.on_message = on_message
sub.connect("127.0.0.1", port)
sub.loop_start()
sub.subscribe(topic, qos=1)
time.sleep(0.5)
pub = mqtt.Client(client_id="bench-pub", protocol=mqtt.MQTTv5)
pub.max_inflight_messages_set(1000)
pub.max_queued_messages_set(0)
pub.connect("127.0.0.1", port)
pub.loop_start()
payload = b"x" * size
c0, t0 = cpu(), time.monotonic()
for i in range(n):
    pub.publish("in/bench", payload, qos=1)
if not done.wait(300):
    sys.exit("%s: received %d of %d" % (label, got[0], n))
t1, c1 = time.monotonic(), cpu()
print("%-24s %8.0f msg/s   %6.1f us CPU/msg   (%d x %d B, QoS 1)" % (label, n / (t1 - t0), (c1 - c0) / n * 1e6, n, size))
PY
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}
run "no dataflow (in/bench)" "in/bench" "$TMP/none"
run "dataflow in/# -> out/bench" "out/bench" "$TMP/defs"
