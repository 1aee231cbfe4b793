#!/usr/bin/python3
"""Side-by-side benchmark: edgemq and Debian's mosquitto on loopback, the same edgemq-bench
scenarios against both in one run, alternating, several repetitions, with edgemq-limit (the
minimal forwarder of ADR 0026, this machine's ceiling) as a third target for the scenarios it can
serve (no wildcards, no TLS: the others are skipped for it and said so). Prints medians, the
edgemq/mosquitto and edgemq/edgemq-limit ratios, messages per broker CPU-second (from /proc), broker syscalls per
delivered message (strace -c on a separate short run), and RSS per idle connection. The "TLS"
scenarios run over each broker's TLS listener (TLS 1.3, both brokers with OpenSSL's default
suites; the certificates are made here with the openssl command); `edgemq-bench --tls --cafile`
verifies the server.

    src/bench/compare.py [--reps 3] [--duration 5] [--quick] [--syscalls] [--only NAME] [--conns N]
                         [--scaling | --no-scaling] [--plot PNG]

A full run (`src/bench/compare.py --syscalls`, no --only) also measures how cost grows (messages per
broker CPU-second at 10..5,000 pairs and fan-out to 10..10,000 subscribers, the three targets) and
draws it with matplotlib (python3-matplotlib; without it the tables are printed and the plot skipped)
into docs/images/routing-scaling.png. Broker CPU is counted over the measured window only.

A benchmark, not a test. Installs mosquitto (Debian package) if it is missing."""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD_DIR", os.path.join(ROOT, "build"))
EDGEMQ = os.path.join(BUILD, "src", "app", "edgemq")
BENCH = os.path.join(BUILD, "src", "bench", "edgemq-bench")
LIMIT = os.path.join(BUILD, "src", "bench", "edgemq-limit")
TARGETS = ("edgemq", "mosquitto", "limit")
TICK = os.sysconf("SC_CLK_TCK")

# (name, edgemq-bench arguments); a name ending in "TLS" runs against the brokers' TLS listeners.
SCENARIOS = [
    ("pairs x100 QoS0", ["-s", "pairs", "-n", "100", "-q", "0"]),
    ("pairs x100 QoS1", ["-s", "pairs", "-n", "100", "-q", "1"]),
    ("pairs x1000 QoS0", ["-s", "pairs", "-n", "1000", "-q", "0"]),
    ("pairs x1000 QoS1", ["-s", "pairs", "-n", "1000", "-q", "1"]),
    ("pairs x100 QoS0 1KiB", ["-s", "pairs", "-n", "100", "-q", "0", "--payload", "1024"]),
    ("fanout 1->1000 QoS0", ["-s", "fanout", "-n", "1000", "-q", "0"]),
    ("fanin 1000->1 QoS0", ["-s", "fanin", "-n", "1000", "-q", "0"]),
    ("latency 1000/s", ["-s", "latency", "--rate", "1000"]),
    ("pairs x100 20k/s", ["-s", "pairs", "-n", "100", "-q", "0", "--rate", "200"]),
    ("pairs x100 QoS0 TLS", ["-s", "pairs", "-n", "100", "-q", "0"]),
    ("pairs x100 QoS1 TLS", ["-s", "pairs", "-n", "100", "-q", "1"]),
    ("latency 1000/s TLS", ["-s", "latency", "--rate", "1000"]),
]


def limit_skip_reason(name, args):
    """Why edgemq-limit cannot serve a scenario (None: it can): it has no TLS."""
    if name.endswith("TLS"):
        return "TLS"
    return None


def make_certificates(tmp):
    """A CA and a server certificate for 127.0.0.1 (EC P-256), as an operator would make them.
    Readable by all: mosquitto started as root reads them after switching to its own user."""
    os.chmod(tmp, 0o711)
    tmp = os.path.join(tmp, "certs")
    os.mkdir(tmp, 0o755)

    def openssl(*args):
        subprocess.run(["openssl"] + list(args), cwd=tmp, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=compare CA")
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(tmp, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "server.crt")
    paths = {n: os.path.join(tmp, n) for n in ("ca.crt", "server.crt", "server.key")}
    for p in paths.values():
        os.chmod(p, 0o644)  # a throwaway key, for this run only
    return paths


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Broker:
    def __init__(self, name, tmp, certs):
        self.name, self.tmp, self.certs = name, tmp, certs
        self.proc = None
        self.port = None
        self.tls_port = None

    def start(self):
        if self.name == "edgemq":
            cfg = os.path.join(self.tmp, "edgemq.json")
            with open(cfg, "w") as f:
                json.dump({"log_level": "warn", "statestore": {"enabled": False},
                           "queue": {"max_messages": 100000}}, f)
            data = tempfile.mkdtemp(dir=self.tmp)
            self.proc = subprocess.Popen([EDGEMQ, "--listen", "127.0.0.1:0", "--listen", "mqtts://127.0.0.1:0",
                                          "--tls-cert", self.certs["server.crt"], "--tls-key",
                                          self.certs["server.key"], "--data-dir", data, "--config", cfg,
                                          "--log-level", "info"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True)
            deadline = time.time() + 30
            for line in self.proc.stdout:
                m = re.search(r"ready: MQTT on [0-9.]+:(\d+), mqtts://[0-9.]+:(\d+)", line)
                if m:
                    self.port, self.tls_port = int(m.group(1)), int(m.group(2))
                    break
                if time.time() > deadline:
                    raise RuntimeError("edgemq did not start")
            subprocess.Popen(["cat"], stdin=self.proc.stdout, stdout=subprocess.DEVNULL)
        elif self.name == "limit":
            self.proc = subprocess.Popen([LIMIT, "--port", "0"], stdout=subprocess.PIPE, text=True)
            m = re.search(r"edgemq-limit ready on [0-9.]+:(\d+)", self.proc.stdout.readline())
            if not m:
                raise RuntimeError("edgemq-limit did not start")
            self.port = int(m.group(1))
        else:
            self.port, self.tls_port = free_port(), free_port()
            conf = os.path.join(self.tmp, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n"
                        "max_inflight_messages 100\n" % self.port)
                f.write("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n" % (
                    self.tls_port, self.certs["ca.crt"], self.certs["server.crt"], self.certs["server.key"]))
            self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            import socket
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def bench_target(broker, name):
    """-p PORT, and --tls --cafile for a TLS scenario."""
    if name.endswith("TLS"):
        return ["-p", str(broker.tls_port), "--tls", "--cafile", broker.certs["ca.crt"]]
    return ["-p", str(broker.port)]


def run_bench(broker, name, args, duration):
    """One edgemq-bench run. The broker's CPU time is read when the bench starts measuring ("# measuring")
    and when it prints its result, before its connections close: set-up and teardown are left out."""
    before = cpu_ticks(broker.proc.pid)
    p = subprocess.Popen([BENCH, "-d", str(duration)] + bench_target(broker, name) + args, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    res, after = {}, None
    for line in p.stdout:
        if line.startswith("# measuring"):
            before = cpu_ticks(broker.proc.pid)
        elif line.startswith("{"):
            after = cpu_ticks(broker.proc.pid)
            res = json.loads(line)
    p.wait(timeout=duration + 300)
    if after is None:
        after = cpu_ticks(broker.proc.pid)
    res["broker_cpu_s"] = (after - before) / TICK
    return res


# How cost grows (issue 15): QoS 0, 64-byte payloads, messages per broker CPU-second as the number of
# pairs and of fan-out subscribers grows. Connections are opened as fast as the broker takes them.
SCALING = [("pairs", 10), ("pairs", 100), ("pairs", 1000), ("pairs", 5000), ("fanout", 10), ("fanout", 1000),
           ("fanout", 10000)]


def scaling_args(kind, n):
    return ["-s", kind, "-n", str(n), "-q", "0", "--connect-rate", "0"]


def run_scaling(brokers, reps, duration):
    """{(kind, n): {target: [result, ...]}}, each target first in turn per repetition."""
    out = {point: {b: [] for b in TARGETS} for point in SCALING}
    for rep in range(reps):
        for kind, n in SCALING:
            for b in TARGETS[rep % 3:] + TARGETS[:rep % 3]:
                r = run_bench(brokers[b], "scaling", scaling_args(kind, n), duration)
                out[(kind, n)][b].append(r)
                print("rep %d scaling %-6s x%-5d %-9s %9.0f msg/s broker cpu %.2f s (%.0f msg/CPU-s)" % (
                    rep, kind, n, b, r.get("msg_per_s", 0), r["broker_cpu_s"],
                    r.get("delivered", 0) / max(r["broker_cpu_s"], 1e-3)), file=sys.stderr)
    return out


def per_cpu(rs):
    return statistics.median(r.get("delivered", 0) / max(r["broker_cpu_s"], 1e-3) for r in rs) if rs else 0


def print_scaling(results):
    print("\n| scaling (QoS 0, 64 B) | edgemq msg/CPU-s | mosquitto msg/CPU-s | limit msg/CPU-s | edgemq CPU µs/msg |"
          " edgemq vs limit (per CPU) | edgemq msg/s | mosquitto msg/s | limit msg/s | edgemq vs limit (msg/s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (kind, n), by in results.items():
        e, m, lim = (per_cpu(by[b]) for b in TARGETS)
        er, mr, lr = (statistics.median(r.get("msg_per_s", 0) for r in by[b]) if by[b] else 0 for b in TARGETS)
        print("| %s x%d | %.0f | %.0f | %.0f | %.3f | %.2f | %.0f | %.0f | %.0f | %.2f |" % (
            kind, n, e, m, lim, 1e6 / max(e, 1), e / max(lim, 1), er, mr, lr, er / max(lr, 1)))
    e100, e5000 = per_cpu(results[("pairs", 100)]["edgemq"]), per_cpu(results[("pairs", 5000)]["edgemq"])
    if e100 and e5000:
        print("\nedgemq CPU per message at 5,000 pairs / at 100 pairs: %.2f (target: at most 1.5)" % (e100 / e5000))


def plot_scaling(results, path):
    """Messages per broker CPU-second against pairs and fan-out subscribers, one line per target."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\nno plot: matplotlib is missing (Debian: apt-get install python3-matplotlib, or "
              "scripts/install-deps.sh --bench); the tables above are complete", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    labels = {"edgemq": "edgemq", "mosquitto": "mosquitto", "limit": "edgemq-limit (ceiling)"}
    for ax, kind, xlabel in ((axes[0], "pairs", "publisher/subscriber pairs"),
                             (axes[1], "fanout", "subscribers of one topic (fan-out)")):
        points = [n for k, n in SCALING if k == kind]
        for b in TARGETS:
            ax.plot(points, [per_cpu(results[(kind, n)][b]) for n in points], marker="o", label=labels[b])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("messages delivered per broker CPU-second")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle("How cost grows: QoS 0, 64-byte payloads, loopback (src/bench/compare.py)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print("\nplot: %s" % path, file=sys.stderr)


def syscalls_per_message(broker, args):
    """strace -c -f on the broker during a short run: total syscalls / delivered messages."""
    out = os.path.join(broker.tmp, "strace-%s.txt" % broker.name)
    st = subprocess.Popen(["strace", "-c", "-f", "-p", str(broker.proc.pid), "-o", out], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    res = json.loads(subprocess.run([BENCH, "-p", str(broker.port), "-d", "3"] + args, capture_output=True,
                                    text=True).stdout.strip().splitlines()[-1])
    st.send_signal(signal.SIGINT)
    st.wait()
    total = 0
    with open(out) as f:
        for line in f:
            if line.strip().endswith("total"):  # "100.00  secs  usecs/call  calls  [errors]  total"
                total = int(line.split()[3])
    return total / max(1, res.get("delivered", 1)), res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--quick", action="store_true", help="first three scenarios only")
    ap.add_argument("--syscalls", action="store_true", help="also measure syscalls per message (strace)")
    ap.add_argument("--conns", type=int, default=10000, help="idle connections for the memory measurement (0: skip)")
    ap.add_argument("--only", action="append", default=[], help="run the scenarios whose name contains this (repeatable)")
    ap.add_argument("--scaling", action="store_true",
                    help="also how cost grows (pairs x10..x5000, fan-out to 10..10000), with a plot; a full run "
                         "(no --only, --quick) includes it")
    ap.add_argument("--no-scaling", action="store_true", help="leave the scaling runs out of a full run")
    ap.add_argument("--plot", default=os.path.join(ROOT, "docs", "images", "routing-scaling.png"),
                    help="where the scaling plot goes (PNG)")
    a = ap.parse_args()
    scaling = a.scaling or (not a.only and not a.quick and not a.no_scaling)
    import resource
    # 5,000 pairs and 10,000 subscribers: every process started here may open that many sockets.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not shutil.which("mosquitto"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "mosquitto"], check=True)
    subprocess.run(["cmake", "--build", BUILD, "-j2", "--target", "edgemq", "edgemq-bench", "edgemq-limit"],
                   check=True, stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="edgemq-compare-")
    certs = make_certificates(tmp)
    brokers = {n: Broker(n, tmp, certs).start() for n in TARGETS}
    scenarios = SCENARIOS[:3] if a.quick else SCENARIOS
    if a.only:
        scenarios = [sc for sc in scenarios if any(o in sc[0] for o in a.only)]
    results = {name: {b: [] for b in TARGETS} for name, _ in scenarios}
    try:
        if scaling:
            scaled = run_scaling(brokers, a.reps, a.duration)
        for rep in range(a.reps):
            for name, args in scenarios:
                for b in TARGETS[rep % 3:] + TARGETS[:rep % 3]:  # each target first in turn
                    if b == "limit" and limit_skip_reason(name, args):
                        continue
                    r = run_bench(brokers[b], name, args, a.duration)
                    results[name][b].append(r)
                    print("rep %d %-22s %-9s %9.0f msg/s p50 %6d us p99 %6d us broker cpu %.2f s" % (
                        rep, name, b, r.get("msg_per_s", 0), r.get("p50_us", 0), r.get("p99_us", 0),
                        r["broker_cpu_s"]), file=sys.stderr)
        # Ratios are edgemq's: "vs mosquitto" above 1 is faster than mosquitto, "vs limit" is the
        # fraction of the ceiling edgemq reaches.
        print("\n| scenario | edgemq msg/s | mosquitto msg/s | limit msg/s | vs mosquitto | vs limit |"
              " edgemq msg/CPU-s | mosquitto msg/CPU-s | limit msg/CPU-s | vs mosquitto | vs limit |"
              " edgemq p50/p99 us | mosquitto p50/p99 us | limit p50/p99 us |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        skipped = []
        for name, args in scenarios:
            row = {}
            for b in TARGETS:
                rs = results[name][b]
                if not rs:
                    continue
                rate = statistics.median(r.get("msg_per_s", 0) for r in rs)
                per_cpu = statistics.median(r.get("delivered", 0) / max(r["broker_cpu_s"], 1e-3) for r in rs)
                p50 = statistics.median(r.get("p50_us", 0) for r in rs)
                p99 = statistics.median(r.get("p99_us", 0) for r in rs)
                row[b] = (rate, per_cpu, p50, p99)
            (er, ec, e50, e99), (mr, mc, m50, m99) = row["edgemq"], row["mosquitto"]
            if "limit" in row:
                lr, lc, l50, l99 = row["limit"]
                lim = ("%.0f" % lr, "%.2f" % (er / max(lr, 1)), "%.0f" % lc, "%.2f" % (ec / max(lc, 1)),
                       "%d/%d" % (l50, l99))
            else:
                skipped.append("%s (%s)" % (name, limit_skip_reason(name, args)))
                lim = ("skipped", "-", "skipped", "-", "-")
            print("| %s | %.0f | %.0f | %s | %.1fx | %s | %.0f | %.0f | %s | %.1fx | %s | %d/%d | %d/%d | %s |" % (
                name, er, mr, lim[0], er / max(mr, 1), lim[1], ec, mc, lim[2], ec / max(mc, 1), lim[3], e50, e99,
                m50, m99, lim[4]))
        if skipped:
            print("\nedgemq-limit skipped (no TLS): " + ", ".join(skipped))
        if scaling:
            print_scaling(scaled)
            os.makedirs(os.path.dirname(os.path.abspath(a.plot)), exist_ok=True)
            plot_scaling(scaled, a.plot)
        if a.syscalls:
            print("\n| scenario | edgemq syscalls/msg | mosquitto syscalls/msg | limit syscalls/msg |\n"
                  "|---|---|---|---|")
            for name, args in (("pairs x100 QoS0", SCENARIOS[0][1]), ("pairs x100 QoS1", SCENARIOS[1][1])):
                e, m, lim = (syscalls_per_message(brokers[b], args)[0] for b in TARGETS)
                print("| %s | %.2f | %.2f | %.2f |" % (name, e, m, lim))
        # edgemq-limit keeps no per-connection state worth comparing: memory is edgemq and mosquitto only.
        print("\n| idle connections | broker | connect rate /s | RSS per connection |\n|---|---|---|---|")
        for b in (("edgemq", "mosquitto") if a.conns else ()):
            brokers[b].stop()  # a fresh broker: memory freed by earlier runs would hide the growth
            brokers[b] = Broker(b, tmp, certs).start()
            pid = brokers[b].proc.pid
            base = rss_kb(pid)
            p = subprocess.Popen([BENCH, "-p", str(brokers[b].port), "-s", "conns", "-n", str(a.conns), "-d", "5",
                                  "--connect-rate", "0"], stdout=subprocess.PIPE, text=True)
            # Sample RSS while the connections are held (the bench holds them for 5 s after set-up).
            peak = base
            while p.poll() is None:
                peak = max(peak, rss_kb(pid))
                time.sleep(0.2)
            out = json.loads(p.stdout.read().strip().splitlines()[-1])
            print("| %d | %s | %.0f | %.0f B |" % (out.get("connections", 0), b, out.get("connect_rate", 0),
                                                  (peak - base) * 1024.0 / max(1, out.get("connections", 1))))
    finally:
        for b in brokers.values():
            b.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
