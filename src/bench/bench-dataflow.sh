#!/usr/bin/env bash
# Dataflow throughput and CPU per message, loaded with --dataflows. A QoS 1 publisher sends N JSON
# messages ({"deviceId", "temperature", "pad"}) to in/bench; the run ends when all N arrived where
# the scenario delivers them. Prints messages/s end to end and the daemon's CPU (user + system)
# per message. Scenarios:
#   no dataflow:            a plain QoS 1 subscriber of in/bench (the broker alone)
#   pass -> local broker:   in/# -> default (republished to out/bench), no transformation
#   filter+map -> local:    the same with a filter rule and three map rules (cToF, a copy, $metadata.topic)
#   filter+map -> file:     the same transformation into a File endpoint (JSON Lines, fsync per batch)
#   filter+map -> MQTT:     the same into an Mqtt endpoint: Debian's mosquitto on loopback, QoS 1
#   src/bench/bench-dataflow.sh [messages] [pad bytes]
# Needs python3-paho-mqtt and mosquitto.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-20000}
SIZE=${2:-100}
BUILD=${BUILD_DIR:-build}
cmake --build "$BUILD" -j2 --target edgemq >/dev/null
TMP=$(mktemp -d)
PID=
MQ=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; [ -n "$MQ" ] && kill $MQ 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
mkdir -p "$TMP/defs" "$TMP/none" "$TMP/map" "$TMP/file" "$TMP/mqtt"
dataflow() {  # $1: transformation operation (JSON, with its trailing comma, or empty), $2: endpoint, $3: destination
  cat <<JSON
{"apiVersion": "connectivity.iotoperations.azure.com/v1", "kind": "Dataflow", "metadata": {"name": "bench"},
 "spec": {"mode": "Enabled", "operations": [
   {"operationType": "Source", "sourceSettings": {"endpointRef": "default", "dataSources": ["in/#"]}},
   $1
   {"operationType": "Destination", "destinationSettings": {"endpointRef": "$2", "dataDestination": "$3"}}]}}
JSON
}
TRANSFORM='{"operationType": "BuiltInTransformation", "builtInTransformationSettings": {
     "filter": [{"inputs": ["temperature"], "expression": "$1 < -100"}],
     "map": [{"inputs": ["temperature"], "output": "TemperatureF", "expression": "cToF($1)"},
             {"inputs": ["deviceId"], "output": "Device"},
             {"inputs": ["$metadata.topic"], "output": "Topic"}]}},'
dataflow "" default out/bench > "$TMP/defs/bench.json"
dataflow "$TRANSFORM" default out/bench > "$TMP/map/bench.json"
dataflow "$TRANSFORM" files bench > "$TMP/file/bench.json"
cat > "$TMP/file/files.json" <<JSON
{"apiVersion": "connectivity.iotoperations.azure.com/v1", "kind": "DataflowEndpoint", "metadata": {"name": "files"},
 "spec": {"endpointType": "File", "fileSettings": {"path": "$TMP/out", "batching": {"maxMessages": 1000}}}}
JSON
MQ_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 10000000\n' "$MQ_PORT" > "$TMP/mosquitto.conf"
dataflow "$TRANSFORM" remote out/bench > "$TMP/mqtt/bench.json"
cat > "$TMP/mqtt/remote.json" <<JSON
{"apiVersion": "connectivity.iotoperations.azure.com/v1", "kind": "DataflowEndpoint", "metadata": {"name": "remote"},
 "spec": {"endpointType": "Mqtt", "mqttSettings": {"host": "127.0.0.1:$MQ_PORT", "tls": {"mode": "Disabled"},
          "authentication": {"method": "Anonymous"}, "qos": 1, "maxInflightMessages": 100}}}
JSON
# Session queues large enough for the whole burst (the default, 1000 per session, drops what a
# slower consumer, the dataflow's source session included, has not taken yet: queue_full).
echo '{"queue": {"max_messages": 10000000, "max_bytes": 4294967296}}' > "$TMP/edgemq.json"
run() {  # $1: label, $2: where to count (a topic; port:topic on another broker; file:DIR), $3: definitions
  rm -rf "$TMP/data" "$TMP/out"
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
import glob, os
if topic.startswith("file:"):  # count the JSON Lines the file sink wrote
    directory = topic[5:]
    def count_files():
        while not done.is_set():
            lines = 0
            for f in glob.glob(os.path.join(directory, "*.jsonl")):
                with open(f, "rb") as fh:
                    lines += fh.read().count(b"\n")
            got[0] = lines
            if lines >= n:
                done.set()
            time.sleep(0.05)
    threading.Thread(target=count_files, daemon=True).start()
else:
    sub_port = port
    if ":" in topic:
        sub_port, topic = topic.split(":", 1)
    sub = mqtt.Client(client_id="bench-sub", protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    sub.connect("127.0.0.1", int(sub_port))
    sub.loop_start()
    sub.subscribe(topic, qos=1)
    time.sleep(0.5)
pub = mqtt.Client(client_id="bench-pub", protocol=mqtt.MQTTv5)
pub.max_inflight_messages_set(1000)
pub.max_queued_messages_set(0)
pub.connect("127.0.0.1", port)
pub.loop_start()
import json
payload = json.dumps({"deviceId": "device-1", "temperature": 21.5, "pad": "x" * size}).encode()
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
run "no dataflow" "in/bench" "$TMP/none"
run "pass -> local broker" "out/bench" "$TMP/defs"
run "filter+map -> local" "out/bench" "$TMP/map"
run "filter+map -> file" "file:$TMP/out" "$TMP/file"
mosquitto -c "$TMP/mosquitto.conf" > "$TMP/mosquitto.log" 2>&1 &
MQ=$!
run "filter+map -> MQTT" "$MQ_PORT:out/bench" "$TMP/mqtt"
