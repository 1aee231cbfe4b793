#!/usr/bin/python3
"""Side-by-side benchmark: the state store through MQTT against Debian's redis-server
(redis-benchmark), the same numbers of concurrent clients, each with one request in flight (-P 1),
the same value size, in one run, alternating, several repetitions. Prints a table of medians:
ops/s, the edgemq/Redis ratio, each daemon's CPU per operation (from /proc) and each load
generator's (getrusage of the finished child): on a small machine the generators share the cores
with the daemons.

The edgemq generator is edgemq-statestore-load (ADR 0030): one thread, one epoll loop, requests
encoded once per connection, like redis-benchmark's single event loop (redis-benchmark runs with
its default of one thread). `--generator bench` uses the older edgemq-statestore-bench (a thread
per client) instead. `--baseline BIN` also runs another edgemq binary (e.g. main's before a
change) with `statestore.sync none` and `sync`, and adds its figures as columns.

    src/bench/statestore_vs_redis.py [--reps 3] [--duration 3] [--clients 1,8,32,128] [--quick]
                                     [--baseline /path/to/old/edgemq]

Redis runs without persistence (--save '' --appendonly no); edgemq twice, `statestore.sync none`
(compared with Redis) and `sync` (SET only, at --sync-clients, the group-commit target of issue 15).
GET reads a key written before (edgemq-statestore-bench's first request per client is a SET; Redis
gets its key set with redis-cli first). A benchmark, not a test: installs redis-server and
redis-tools (Debian packages) if they are missing, and exits 3 if that fails."""

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
EDGEMQ = os.environ.get("EDGEMQ_BIN") or os.path.join(BUILD, "src", "app", "edgemq")
SSBENCH = os.environ.get("EDGEMQ_STATESTORE_BENCH") or os.path.join(BUILD, "src", "bench",
                                                                     "edgemq-statestore-bench")
SSLOAD = os.environ.get("EDGEMQ_STATESTORE_LOAD") or os.path.join(BUILD, "src", "bench", "edgemq-statestore-load")
TICK = os.sysconf("SC_CLK_TCK")
READY_RE = re.compile(r"ready: MQTT on [0-9.]+:(\d+)")
REDIS_KEY = "key:__rand_int__"  # redis-benchmark's key without -r: one key, the literal text
NO_REDIS = 3  # exit status when redis-server cannot be installed (the smoke test skips on it)


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def children_cpu_s():
    """CPU seconds of the waited-for children so far: around one load generator run, its own CPU."""
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_redis():
    missing = [p for p in ("redis-server", "redis-benchmark", "redis-cli") if not shutil.which(p)]
    if missing:
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server", "redis-tools"],
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), capture_output=True, text=True)
        if r.returncode != 0 or not all(shutil.which(p) for p in missing):
            print("redis-server cannot be installed (apt-get install redis-server redis-tools: %s)" %
                  (r.stderr.strip().splitlines() or ["failed"])[-1], file=sys.stderr)
            sys.exit(NO_REDIS)


class Daemon:
    def __init__(self, name, tmp, binary=None):
        self.name, self.tmp, self.proc, self.port = name, tmp, None, None
        self.binary = binary or EDGEMQ

    def start_redis(self):
        self.port = free_port()
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no", "--dir", self.tmp],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        ping = ["redis-cli", "-p", str(self.port), "ping"]
        while subprocess.run(ping, capture_output=True).stdout.strip() != b"PONG":
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        return self

    def start_edgemq(self, sync):
        cfg = os.path.join(self.tmp, "%s-%s.json" % (self.name, sync))
        with open(cfg, "w") as f:
            f.write('{"statestore": {"sync": "%s"}}' % sync)
        self.log = os.path.join(self.tmp, "%s-%s.log" % (self.name, sync))
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([self.binary, "--listen", "127.0.0.1:0", "--data-dir",
                                          os.path.join(self.tmp, self.name + "-data-" + sync), "--config", cfg,
                                          "--log-level",
                                          "info"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while self.port is None:
            with open(self.log) as f:
                m = READY_RE.search(f.read())
            if m:
                self.port = int(m.group(1))
            elif time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("edgemq (%s) did not print its ready line, see %s" % (sync, self.log))
            else:
                time.sleep(0.05)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_edgemq(d, op, clients, duration, value_size, generator):
    before, client_before = cpu_ticks(d.proc.pid), children_cpu_s()
    r = subprocess.run([SSLOAD if generator == "load" else SSBENCH, "--port", str(d.port), "--op", op, "-c", str(clients), "-s", str(duration),
                        "--value-size", str(value_size)], capture_output=True, text=True, timeout=duration + 120)
    after, client_after = cpu_ticks(d.proc.pid), children_cpu_s()
    if r.returncode != 0:
        raise RuntimeError("the edgemq load generator failed: " + r.stdout + r.stderr)
    fields = dict(kv.split("=", 1) for kv in r.stdout.strip().splitlines()[-1].split())
    ops = int(fields["ops"])
    return {"ops_s": float(fields["ops_per_sec"]), "p50_us": float(fields["p50_us"]),
            "cpu_us_op": (after - before) / TICK * 1e6 / max(ops, 1),
            "client_us_op": (client_after - client_before) * 1e6 / max(ops, 1)}


def fsync_p50_us(directory, n=100):
    """p50 of fdatasync after a 200-byte write, in the directory the daemons write to, over blocks
    written before (so only data is flushed, no size or extent change): the lower bound of a commit
    under SET with `sync` (ops/s <= clients / commit latency, one request in flight each)."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"\0" * (200 * n))
        os.fsync(fd)
        times = []
        for i in range(n):
            os.pwrite(fd, b"x" * 200, 200 * i)
            t = time.perf_counter()
            os.fdatasync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(times) * 1e6


def run_redis(d, op, clients, requests, value_size):
    before, client_before = cpu_ticks(d.proc.pid), children_cpu_s()
    r = subprocess.run(["redis-benchmark", "-p", str(d.port), "-t", op, "-c", str(clients), "-n", str(requests),
                        "-d", str(value_size), "-P", "1", "--csv"], capture_output=True, text=True, timeout=600)
    after, client_after = cpu_ticks(d.proc.pid), children_cpu_s()
    # --csv: a header line, then "SET","150375.94","0.190",... (rps, avg latency ms, min, p50, ...)
    rows = [line.replace('"', "").split(",") for line in r.stdout.splitlines() if line.startswith('"' + op.upper())]
    if r.returncode != 0 or not rows:
        raise RuntimeError("redis-benchmark failed: " + r.stdout + r.stderr)
    return {"ops_s": float(rows[-1][1]), "p50_us": float(rows[-1][4]) * 1000,
            "cpu_us_op": (after - before) / TICK * 1e6 / requests,
            "client_us_op": (client_after - client_before) * 1e6 / requests}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3, help="seconds per edgemq run; Redis runs get as many "
                    "requests as its previous repetition did in that time")
    ap.add_argument("--clients", default="1,8,32,128")
    ap.add_argument("--sync-clients", type=int, default=32)
    ap.add_argument("--value-size", type=int, default=16, help="bytes per value (edgemq-statestore-bench's default)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 repetition of 1 s, 1 client")
    ap.add_argument("--no-build", action="store_true", help="do not build edgemq and the load generators first")
    ap.add_argument("--generator", choices=("load", "bench"), default="load",
                    help="edgemq-statestore-load (one epoll loop, default) or edgemq-statestore-bench (a thread "
                    "per client)")
    ap.add_argument("--baseline", help="another edgemq binary to run beside (its figures become extra columns)")
    a = ap.parse_args()
    if a.quick:
        a.reps, a.duration, a.clients, a.sync_clients = 1, 1, "1", 1
    clients = [int(c) for c in a.clients.split(",")]
    ensure_redis()
    if not a.no_build:
        subprocess.run(["cmake", "--build", BUILD, "-j2", "--target", "edgemq", "edgemq-statestore-bench",
                        "edgemq-statestore-load"], check=True,
                       stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="edgemq-ss-redis-")
    daemons = []
    try:
        redis = Daemon("redis", tmp).start_redis()
        daemons.append(redis)
        subprocess.run(["redis-cli", "-p", str(redis.port), "set", REDIS_KEY, "v" * a.value_size], check=True,
                       capture_output=True)
        none = Daemon("edgemq-none", tmp).start_edgemq("none")
        daemons.append(none)
        sync = Daemon("edgemq-sync", tmp).start_edgemq("sync")
        daemons.append(sync)
        base = {}
        if a.baseline:
            base["none"] = Daemon("baseline", tmp, a.baseline).start_edgemq("none")
            daemons.append(base["none"])
            base["sync"] = Daemon("baseline", tmp, a.baseline).start_edgemq("sync")
            daemons.append(base["sync"])
        # (label, op, clients, edgemq daemon, baseline daemon)
        rows = [(op.upper(), op, c, none, base.get("none")) for c in clients for op in ("get", "set")]
        rows.append(("SET sync", "set", a.sync_clients, sync, base.get("sync")))
        res = {r[0] + str(r[2]): {"edgemq": [], "redis": [], "baseline": []} for r in rows}
        fsyncs = []
        for rep in range(a.reps):
            for label, op, c, d, bd in rows:
                key = label + str(c)
                prev = res[key]["redis"]
                # Redis's run as long as edgemq's: its last rate times the duration (a first guess before).
                n = int(prev[-1]["ops_s"] * a.duration) if prev else (2000 if a.quick else min(20000 * c, 200000))
                order = ["edgemq", "redis"] if rep % 2 == 0 else ["redis", "edgemq"]
                if bd:
                    order.insert(1, "baseline")
                for who in order:
                    if who == "redis":
                        r = run_redis(redis, op, c, max(n, 1000), a.value_size)
                    else:
                        r = run_edgemq(d if who == "edgemq" else bd, op, c, a.duration, a.value_size, a.generator)
                    res[key][who].append(r)
                    if label == "SET sync" and who == "edgemq":
                        fsyncs.append(fsync_p50_us(tmp))
                    print("rep %d %-8s c=%-4d %-6s %10.0f ops/s p50 %7.0f us daemon cpu %6.1f us/op client cpu "
                          "%6.1f us/op" % (rep, label, c, who, r["ops_s"], r["p50_us"], r["cpu_us_op"],
                                           r["client_us_op"]), file=sys.stderr, flush=True)
        med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
        gen = "edgemq-statestore-load" if a.generator == "load" else "edgemq-statestore-bench"
        extra_head = " baseline ops/s | baseline CPU µs/op |" if a.baseline else ""
        print("\n| op | clients | edgemq ops/s | Redis ops/s | edgemq/Redis | edgemq CPU µs/op | Redis CPU µs/op |"
              " edgemq p50 µs | Redis p50 µs | %s CPU µs/op | redis-benchmark CPU µs/op |%s" % (gen, extra_head))
        print("|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if a.baseline else ""))
        for label, _, c, _, _ in rows:
            e, r, b = (res[label + str(c)][k] for k in ("edgemq", "redis", "baseline"))
            extra = " %.0f | %.1f |" % (med(b, "ops_s"), med(b, "cpu_us_op")) if b else ""
            print("| %s | %d | %.0f | %.0f | %.2f | %.1f | %.1f | %.0f | %.0f | %.1f | %.1f |%s" % (
                label, c, med(e, "ops_s"), med(r, "ops_s"), med(e, "ops_s") / max(med(r, "ops_s"), 1),
                med(e, "cpu_us_op"), med(r, "cpu_us_op"), med(e, "p50_us"), med(r, "p50_us"), med(e, "client_us_op"),
                med(r, "client_us_op"), extra))
        fs = statistics.median(fsyncs)
        print("\nfdatasync p50 in the data directory (preallocated file, after each SET sync run, median): %.0f µs; "
              "with one request in flight per client and every client in each commit, SET sync at %d clients "
              "could reach %d / %.0f µs = %.0f ops/s." % (
                  fs, a.sync_clients, a.sync_clients, fs, a.sync_clients / fs * 1e6))
        print("\n%d repetitions, medians; edgemq %.1f s per run; value %d bytes; Redis without persistence; "
              "\"SET sync\" is edgemq with statestore.sync sync against the same Redis SET; generator %s." % (
                  a.reps, a.duration, a.value_size, gen))
    finally:
        for d in daemons:
            d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
