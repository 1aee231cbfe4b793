#!/bin/bash
# docs/benchmarks.md, "Lifecycle events and the publish path": usage: set BEFORE and AFTER to two edgemq
# binaries. Alternating before/after, pairs x100 QoS 0, 5 s: msg/s and msg per broker CPU-second (utime+stime from /proc).
BENCH=${BENCH:-build/src/bench/edgemq-bench}
TCK=$(getconf CLK_TCK)
for rep in 1 2 3 4; do
  for which in before after; do
    if [ $which = before ]; then BIN=${BEFORE:?set BEFORE}; else BIN=${AFTER:?set AFTER}; fi
    D=$(mktemp -d /tmp/edgemq-bench.XXXX)
    echo '{"statestore": {"enabled": false}, "queue": {"max_messages": 100000}}' > $D/c.json
    $BIN --listen 127.0.0.1:0 --data-dir $D/data --config $D/c.json --log-level info > $D/out 2>&1 &
    PID=$!
    for i in $(seq 100); do grep -q "ready: MQTT on" $D/out && break; sleep 0.1; done
    PORT=$(grep -o "ready: MQTT on [0-9.]*:[0-9]*" $D/out | sed "s/.*://")
    C0=$(awk '{print $14+$15}' /proc/$PID/stat)
    R=$($BENCH -p $PORT -s pairs -n 100 -q 0 -d 5 2>&1 | grep -o '"delivered":[0-9]*,"msg_per_s":[0-9]*')
    C1=$(awk '{print $14+$15}' /proc/$PID/stat)
    DEL=$(echo $R | sed 's/"delivered":\([0-9]*\),.*/\1/')
    RATE=$(echo $R | sed 's/.*"msg_per_s":\([0-9]*\)/\1/')
    CPU=$(echo "scale=2; ($C1-$C0)/$TCK" | bc)
    PERCPU=$(echo "$DEL/$CPU" | bc)
    echo "$which rep$rep msg/s=$RATE broker_cpu_s=$CPU msg_per_cpu_s=$PERCPU"
    kill $PID; wait $PID 2>/dev/null
    rm -rf $D
  done
done
