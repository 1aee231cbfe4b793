#!/usr/bin/python3
"""Across the cluster: the same edgemq-bench scenarios on one edgemq node and across three nodes
in cluster mode (docs/benchmarks.md "Across the cluster", ADR 0028), in one run, alternating,
several repetitions. Across the cluster, the publishers connect to node1 and the subscribers to
node2 and node3 in turn, so every delivery crosses NATS (3 nats-server with routes, as the tests
start them: tests/integration/support/cluster_engines.py; etcd members run too, unused by routing).
Prints medians of delivered msg/s and latency percentiles, the cluster/single ratio, and the CPU
microseconds the brokers (all edgemq nodes) and the nats-servers spent per delivered message
(from /proc: survives a loaded machine better than wall-clock rates).

    src/bench/cluster_compare.py [--reps 3] [--duration 5] [--only NAME]

A benchmark, not a test."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
os.environ.setdefault("EDGEMQ_BIN", os.path.join(BUILD, "src", "app", "edgemq"))
BENCH = os.path.join(BUILD, "src", "bench", "edgemq-bench")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from support.cluster_engines import ClusterEngines, EdgemqCluster  # noqa: E402
from support.edgemq_harness import EdgemqDaemon  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
SETTLE_S = 1.0  # lets the subscriptions cross the cluster (NATS SUB + routes) before publishing

SCENARIOS = [
    ("pairs x100 QoS0", ["-s", "pairs", "-n", "100", "-q", "0"]),
    ("pairs x100 QoS1", ["-s", "pairs", "-n", "100", "-q", "1"]),
    # Persistent subscribers: across nodes each PUBACK waits for the subscriber's node to confirm
    # it journaled the message (ADR 0038); on one node, for its own journal.
    ("pairs x100 QoS1 persistent", ["-s", "pairs", "-n", "100", "-q", "1", "--session-expiry", "300"]),
    ("fanout 1->2 QoS0", ["-s", "fanout", "-n", "2", "-q", "0"]),
    ("fanout 1->100 QoS0", ["-s", "fanout", "-n", "100", "-q", "0"]),
    ("latency 1000/s", ["-s", "latency", "--rate", "1000"]),
]


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total / TICK


def run_bench(args, port, sub_ports, duration):
    cmd = [BENCH, "--port", str(port), "-d", str(duration), "--settle", str(SETTLE_S)] + args
    for p in sub_ports:
        cmd += ["--sub-port", str(p)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError("edgemq-bench failed: %s" % out.stderr[-500:])
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--only", action="append", default=[], help="scenarios whose name contains this")
    a = ap.parse_args()
    scenarios = [s for s in SCENARIOS if not a.only or any(o in s[0] for o in a.only)]

    with ClusterEngines() as engines:
        cluster = EdgemqCluster(engines).start()
        single = EdgemqDaemon().start()
        try:
            broker_pids = {"single": [single.pid], "cluster": [n.pid for n in cluster.nodes]}
            nats_pids = [m.proc.pid for m in engines.nats]
            targets = {
                "single": (single.port, []),
                "cluster": (cluster.nodes[0].port, [cluster.nodes[1].port, cluster.nodes[2].port]),
            }
            results = {}
            for name, args in scenarios:
                for rep in range(a.reps):
                    order = ["single", "cluster"] if rep % 2 == 0 else ["cluster", "single"]
                    for t in order:
                        port, subs = targets[t]
                        b0, n0 = cpu_seconds(broker_pids[t]), cpu_seconds(nats_pids)
                        r = run_bench(args, port, subs, a.duration)
                        r["broker_cpu"] = cpu_seconds(broker_pids[t]) - b0
                        r["nats_cpu"] = cpu_seconds(nats_pids) - n0 if t == "cluster" else 0.0
                        results.setdefault((name, t), []).append(r)
                        print("  %-20s %-8s %8.0f msg/s p50 %5d us p99 %6d us" %
                              (name, t, r["msg_per_s"], r["p50_us"], r["p99_us"]), file=sys.stderr)
        finally:
            single.stop()
            cluster.stop()

    print("\n| scenario | single node msg/s | across nodes msg/s | ratio | p50/p99 us single | p50/p99 us across |"
          " CPU us/msg single (edgemq) | across (edgemq nodes + nats-servers) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, _ in scenarios:
        row = {}
        for t in ("single", "cluster"):
            rs = results[(name, t)]
            med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
            per_k = lambda k: statistics.median(1e6 * r[k] / max(1, r["delivered"]) for r in rs)  # noqa: E731
            row[t] = (med("msg_per_s"), med("p50_us"), med("p99_us"), per_k("broker_cpu"), per_k("nats_cpu"))
        s, c = row["single"], row["cluster"]
        print("| %s | %.0f | %.0f | %.2f | %d / %d | %d / %d | %.2f | %.2f + %.2f |" %
              (name, s[0], c[0], c[0] / s[0] if s[0] else 0, s[1], s[2], c[1], c[2], s[3], c[3], c[4]))


if __name__ == "__main__":
    main()
