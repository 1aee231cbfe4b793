#!/usr/bin/python3
"""State store ops/s through a cluster node (docs/cluster.md), beside a single node, in one run:
three etcd members and three NATS servers (tests/integration/support/cluster_engines.py: loopback,
data on tmpfs) under three edgemq nodes, and one single-node edgemq (`statestore.sync sync`, its
data dir on tmpfs too, so both sides fsync to the same medium). For each op and client count,
edgemq-statestore-bench runs against node 1 of the cluster and against the single node,
alternating which goes first, --reps times. Prints medians: ops/s, p50, the cluster/single ratio,
and CPU per operation of the edgemq node and of the three etcd members together (from /proc).

    src/bench/statestore_cluster.py [--reps 3] [--duration 3] [--clients 1,8,32]

A benchmark, not a test. Needs etcd and nats-server (scripts/install-deps.sh --test)."""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "integration"))

import statestore_vs_redis as base  # noqa: E402  (its daemon runner and edgemq-statestore-bench driver)
from support.cluster_engines import ClusterEngines, missing_engines  # noqa: E402


def start_edgemq(tmp, name, args, sync="sync"):
    """An edgemq with `args` (a cluster node's, or none), as statestore_vs_redis starts its own."""
    d = base.Daemon(name, tmp)
    cfg = os.path.join(tmp, "edgemq-%s.json" % name)
    with open(cfg, "w") as f:
        f.write('{"statestore": {"sync": "%s"}}' % sync)
    d.log = os.path.join(tmp, "edgemq-%s.log" % name)
    with open(d.log, "w") as log:
        d.proc = subprocess.Popen([base.EDGEMQ, "--listen", "127.0.0.1:0", "--data-dir", os.path.join(tmp, "data-" + name),
                                   "--config", cfg, "--log-level", "info"] + args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while d.port is None:
        with open(d.log) as f:
            m = base.READY_RE.search(f.read())
        if m:
            d.port = int(m.group(1))
        elif time.monotonic() > deadline or d.proc.poll() is not None:
            raise RuntimeError("edgemq %s did not print its ready line, see %s" % (name, d.log))
        else:
            time.sleep(0.05)
    return d


def etcd_ticks(engines):
    return sum(base.cpu_ticks(m.proc.pid) for m in engines.etcd)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--value-size", type=int, default=16)
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    why = missing_engines()
    if why:
        print("statestore_cluster: " + why, file=sys.stderr)
        return 3
    if not a.no_build:
        subprocess.run(["cmake", "--build", base.BUILD, "-j2", "--target", "edgemq", "edgemq-statestore-bench"],
                       check=True, stdout=subprocess.DEVNULL)
    clients = [int(c) for c in a.clients.split(",")]
    tmp = tempfile.mkdtemp(prefix="edgemq-ss-cluster-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    results = {}
    with ClusterEngines() as engines:
        engines.wait_healthy(30)
        nodes = [start_edgemq(tmp, "node%d" % (i + 1), engines.node_args("node%d" % (i + 1), i)) for i in range(3)]
        single = start_edgemq(tmp, "single", [])
        try:
            for rep in range(a.reps):
                for op in ("set", "get"):
                    for c in clients:
                        order = [("cluster", nodes[0]), ("single", single)]
                        if rep % 2:
                            order.reverse()
                        for name, d in order:
                            e0 = etcd_ticks(engines)
                            r = base.run_edgemq(d, op, c, a.duration, a.value_size)
                            ops = r["ops_s"] * a.duration
                            r["etcd_us_op"] = (etcd_ticks(engines) - e0) / base.TICK * 1e6 / max(ops, 1)
                            results.setdefault((op, c, name), []).append(r)
        finally:
            for d in nodes + [single]:
                d.stop()
    med = lambda op, c, name, k: statistics.median(r[k] for r in results[(op, c, name)])  # noqa: E731
    print("| op | clients | cluster ops/s | single ops/s | cluster/single | cluster p50 µs | single p50 µs "
          "| node CPU µs/op | etcd CPU µs/op (3 members) | single CPU µs/op |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for op in ("set", "get"):
        for c in clients:
            co, so = med(op, c, "cluster", "ops_s"), med(op, c, "single", "ops_s")
            print("| %s | %d | %s | %s | %.3f | %s | %s | %.0f | %.0f | %.1f |" % (
                op.upper(), c, format(round(co), ","), format(round(so), ","), co / so,
                format(round(med(op, c, "cluster", "p50_us")), ","), format(round(med(op, c, "single", "p50_us")), ","),
                med(op, c, "cluster", "cpu_us_op"), med(op, c, "cluster", "etcd_us_op"),
                med(op, c, "single", "cpu_us_op")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
