#!/usr/bin/python3
"""Memory figures of issue 15 in one command (a benchmark, not a test):

  - RSS per idle connection: N idle MQTT 5 connections from `edgemq-bench -s conns` against a fresh
    edgemq (and Debian's mosquitto beside it), peak RSS while they are held minus RSS before.
  - Retained messages: M retained 64-byte messages written straight into a broker database by
    `edgemq-store-fill`, then the daemon started on it: time from exec to the ready line and RSS
    once ready, and the same for an empty database (the difference is what the messages cost).
  - Persistent sessions: S sessions with one subscription each, restored the same way; what they
    cost beyond their subscriptions is the RSS over an empty start minus what S subscriptions cost
    when held by a single session (measured the same way).

Each figure is the median of --reps runs (fresh database and daemon each time).

    [EDGEMQ_BIN=other/edgemq] src/bench/bench-memory.py [--reps 3] [--conns 10000] [--retained 1000000] [--sessions 100000]
                              [--only conns|retained|sessions]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
EDGEMQ = os.environ.get("EDGEMQ_BIN", os.path.join(BUILD, "src", "app", "edgemq"))  # another daemon: before/after
BENCH = os.environ.get("EDGEMQ_BENCH", os.path.join(BUILD, "src", "bench", "edgemq-bench"))
FILL = os.environ.get("EDGEMQ_STORE_FILL", os.path.join(BUILD, "src", "bench", "edgemq-store-fill"))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def start_edgemq(tmp, data, extra=()):
    """Starts edgemq on `data`; returns (process, port, seconds from exec to the ready line, CPU seconds
    it used until then: on a loaded machine the wall-clock time mostly measures the others)."""
    cfg = os.path.join(tmp, "edgemq.json")
    with open(cfg, "w") as f:
        json.dump({"log_level": "info", "statestore": {"enabled": False}}, f)
    t0 = time.monotonic()
    p = subprocess.Popen([EDGEMQ, "--listen", "127.0.0.1:0", "--data-dir", data, "--config", cfg,
                          "--log-level", "info", *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        m = re.search(r"ready: MQTT on [0-9.]+:(\d+)", line)
        if m:
            ready = time.monotonic() - t0, cpu_s(p.pid)
            # Keep draining the log so the daemon never blocks on a full pipe.
            subprocess.Popen(["cat"], stdin=p.stdout, stdout=subprocess.DEVNULL)
            return p, int(m.group(1)), ready
    raise RuntimeError("edgemq did not start")


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def settled_rss(pid):
    """RSS once it stops moving (start-up work on other threads finishing)."""
    last, same = -1, 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and same < 3:
        cur = rss_kb(pid)
        same = same + 1 if cur == last else 0
        last = cur
        time.sleep(0.1)
    return last


def start_on_store(tmp, sessions, retained, subscriptions=1):
    """Fills a fresh database, starts edgemq on it: ((ready seconds, CPU seconds), RSS kB)."""
    data = tempfile.mkdtemp(dir=tmp)
    if sessions or retained:
        subprocess.run([FILL, "--data-dir", data, "--sessions", str(sessions), "--retained", str(retained),
                        "--subscriptions", str(subscriptions)], check=True, stdout=subprocess.DEVNULL)
        # A first, untimed start: RocksDB compacts the freshly written files when it opens them,
        # which a broker's restart on its own database would not do again.
        p, _, _ = start_edgemq(tmp, data)
        settled_rss(p.pid)
        time.sleep(min(2.0, 0.1 + (sessions * subscriptions + retained) / 500000))  # let its compaction run
        stop(p)
    p, _, ready = start_edgemq(tmp, data)
    try:
        rss = settled_rss(p.pid)
    finally:
        stop(p)
        shutil.rmtree(data, ignore_errors=True)
    return ready, rss


def idle_conns(tmp, n, broker):
    if broker == "edgemq":
        data = tempfile.mkdtemp(dir=tmp)
        p, port, _ = start_edgemq(tmp, data)
    else:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        conf = os.path.join(tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\nmax_connections -1\n" % port)
        p = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
    try:
        base = settled_rss(p.pid)
        b = subprocess.Popen([BENCH, "-p", str(port), "-s", "conns", "-n", str(n), "-d", "3", "--connect-rate", "0"],
                             stdout=subprocess.PIPE, text=True)
        peak = base
        while b.poll() is None:
            peak = max(peak, rss_kb(p.pid))
            time.sleep(0.1)
        out = json.loads(b.stdout.read().strip().splitlines()[-1])
        return (peak - base) * 1024.0 / max(1, out.get("connections", 1)), out.get("connect_rate", 0)
    finally:
        stop(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--retained", type=int, default=1000000)
    ap.add_argument("--sessions", type=int, default=100000)
    ap.add_argument("--only", action="append", choices=["conns", "retained", "sessions"])
    ap.add_argument("--no-mosquitto", action="store_true")
    a = ap.parse_args()
    only = set(a.only or ["conns", "retained", "sessions"])
    med = statistics.median
    tmp = tempfile.mkdtemp(prefix="edgemq-mem-")
    try:
        rows = []
        if "conns" in only:
            for b in ("edgemq",) + (() if a.no_mosquitto or not shutil.which("mosquitto") else ("mosquitto",)):
                runs = [idle_conns(tmp, a.conns, b) for _ in range(a.reps)]
                rows.append(("%s: RSS per idle connection (%d connections)" % (b, a.conns),
                             "%.0f B" % med(r[0] for r in runs), "connect rate %.0f/s" % med(r[1] for r in runs),
                             "runs: " + ", ".join("%.0f" % r[0] for r in runs)))
        empty = [start_on_store(tmp, 0, 0) for _ in range(a.reps)] if only & {"retained", "sessions"} else []
        def ready(runs):
            return "%.2f s (CPU %.2f s)" % (med(r[0][0] for r in runs), med(r[0][1] for r in runs))

        if empty:
            rows.append(("empty database: ready, RSS", ready(empty),
                         "%.1f MB" % (med(r[1] for r in empty) / 1024), ""))
        if "retained" in only:
            runs = [start_on_store(tmp, 0, a.retained) for _ in range(a.reps)]
            rss = med(r[1] for r in runs)
            rows.append(("%d retained 64-byte messages: ready, RSS" % a.retained, ready(runs),
                         "%.1f MB" % (rss / 1024),
                         "%.0f B per message over empty; ready runs: %s" %
                         ((rss - med(r[1] for r in empty)) * 1024.0 / a.retained,
                          ", ".join("%.2f" % r[0][0] for r in runs))))
        if "sessions" in only:
            runs = [start_on_store(tmp, a.sessions, 0) for _ in range(a.reps)]
            subs = [start_on_store(tmp, 1, 0, a.sessions) for _ in range(a.reps)]
            base = med(r[1] for r in empty)
            per_sess = (med(r[1] for r in runs) - base) * 1024.0 / a.sessions
            per_sub = (med(r[1] for r in subs) - base) * 1024.0 / a.sessions
            rows.append(("%d persistent sessions, one subscription each: ready, RSS" % a.sessions,
                         ready(runs), "%.1f MB" % (med(r[1] for r in runs) / 1024),
                         "%.0f B per session with its subscription" % per_sess))
            rows.append(("1 session with %d subscriptions: ready, RSS" % a.sessions,
                         ready(subs), "%.1f MB" % (med(r[1] for r in subs) / 1024),
                         "%.0f B per subscription" % per_sub))
            rows.append(("persistent session beyond its subscription", "%.0f B" % (per_sess - per_sub), "", ""))
        print("| figure | value | | notes |\n|---|---|---|---|")
        for r in rows:
            print("| %s | %s | %s | %s |" % r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
