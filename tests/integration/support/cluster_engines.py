"""Three etcd members and three NATS servers on 127.0.0.1, for the cluster tests (docs/cluster.md).

Every run gets fresh ports, a fresh data directory on /dev/shm (tmpfs: fsync does not make CI times
vary) and a fresh etcd cluster token, so a leftover member of an earlier run can never join. The
engines are Debian's `etcd` and `nats-server` (installed by scripts/install-deps.sh --test).

    with ClusterEngines() as engines:
        engines.etcd_urls    # ["http://127.0.0.1:P1", ...]
        engines.nats_urls    # ["nats://127.0.0.1:Q1", ...]
        engines.kill_etcd_leader()
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

START_TIMEOUT = 30.0  # the three of each answer healthy within this (measured: about 2 s)
ETCD_BIN = shutil.which("etcd") or "/usr/bin/etcd"
NATS_BIN = shutil.which("nats-server") or "/usr/sbin/nats-server"


class EnginesError(AssertionError):
    pass


def missing_engines():
    """Why the cluster tests cannot run here (None: they can)."""
    for path, pkg in ((ETCD_BIN, "etcd-server"), (NATS_BIN, "nats-server")):
        if not os.access(path, os.X_OK):
            return "%s not installed (Debian package %s; scripts/install-deps.sh --test)" % (path, pkg)
    return None


def free_ports(n):
    """n distinct loopback ports free now (all bound at once, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_json(url, body=None, timeout=2.0, headers=None):
    """POST `body` as JSON (GET when None); returns the decoded answer. Raises OSError/HTTPError."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=dict(headers or {}, **{"Content-Type": "application/json"}))
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"{}")


class _Member:
    def __init__(self, name, cmd, log_path):
        self.name = name
        self.cmd = cmd
        self.log_path = log_path
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""


class ClusterEngines:
    """Three etcd members and three clustered NATS servers. start()/stop() or a context manager."""

    def __init__(self, size=3):
        self.size = size
        self.root = None
        self.token = None
        self.etcd = []  # _Member, with .client_port, .peer_port
        self.nats = []  # _Member, with .client_port, .route_port, .http_port

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        why = missing_engines()
        if why:
            raise EnginesError(why)
        base = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.root = tempfile.mkdtemp(prefix="edgemq-cluster-", dir=base)
        self.token = "edgemq-%s" % uuid.uuid4().hex
        ports = free_ports(5 * self.size)
        n = self.size
        etcd_client, etcd_peer = ports[0:n], ports[n:2 * n]
        nats_client, nats_route, nats_http = ports[2 * n:3 * n], ports[3 * n:4 * n], ports[4 * n:5 * n]
        initial = ",".join("e%d=http://127.0.0.1:%d" % (i + 1, etcd_peer[i]) for i in range(n))
        for i in range(n):
            name = "e%d" % (i + 1)
            cmd = [ETCD_BIN, "--name", name, "--data-dir", os.path.join(self.root, name),
                   "--listen-client-urls", "http://127.0.0.1:%d" % etcd_client[i],
                   "--advertise-client-urls", "http://127.0.0.1:%d" % etcd_client[i],
                   "--listen-peer-urls", "http://127.0.0.1:%d" % etcd_peer[i],
                   "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % etcd_peer[i],
                   "--initial-cluster", initial, "--initial-cluster-state", "new",
                   "--initial-cluster-token", self.token,
                   "--heartbeat-interval", "100", "--election-timeout", "1000", "--pre-vote",
                   "--experimental-enable-lease-checkpoint",
                   "--auto-compaction-mode", "revision", "--auto-compaction-retention", "10000",
                   "--logger", "zap", "--log-level", "warn"]
            m = _Member(name, cmd, os.path.join(self.root, name + ".log"))
            m.client_port, m.peer_port = etcd_client[i], etcd_peer[i]
            self.etcd.append(m)
        routes = ", ".join("nats-route://127.0.0.1:%d" % p for p in nats_route)
        for i in range(n):
            name = "n%d" % (i + 1)
            conf = os.path.join(self.root, name + ".conf")
            with open(conf, "w") as f:
                f.write("server_name: %s\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\nmax_payload: 8MB\n"
                        "cluster { name: edgemq, listen: 127.0.0.1:%d, routes: [%s] }\n"
                        % (name, nats_client[i], nats_http[i], nats_route[i], routes))
            m = _Member(name, [NATS_BIN, "-c", conf], os.path.join(self.root, name + ".log"))
            m.client_port, m.route_port, m.http_port = nats_client[i], nats_route[i], nats_http[i]
            self.nats.append(m)
        try:
            for m in self.etcd + self.nats:
                m.start()
            self.wait_healthy(START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for m in self.etcd + self.nats:
            try:
                m.kill(signal.SIGKILL)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def etcd_urls(self):
        return ["http://127.0.0.1:%d" % m.client_port for m in self.etcd]

    @property
    def nats_urls(self):
        return ["nats://127.0.0.1:%d" % m.client_port for m in self.nats]

    def node_args(self, node, i=None):
        """edgemq's cluster flags for `node`; with i, that node lists member i first (its "local" one)."""
        etcd, nats = self.etcd_urls, self.nats_urls
        if i is not None:
            etcd = etcd[i:] + etcd[:i]
            nats = nats[i:] + nats[:i]
        return ["--cluster-node", node, "--etcd", ",".join(etcd), "--nats", ",".join(nats)]

    # ------------------------------------------------------------------ health
    def etcd_healthy(self, i):
        try:
            return http_json("http://127.0.0.1:%d/health" % self.etcd[i].client_port).get("health") == "true"
        except (OSError, ValueError):
            return False

    def nats_routes(self, i):
        try:
            return http_json("http://127.0.0.1:%d/routez" % self.nats[i].http_port).get("num_routes", 0)
        except (OSError, ValueError):
            return -1

    def wait_healthy(self, timeout):
        """Until every live etcd member says healthy and every live NATS server routes to the other live ones."""
        deadline = time.monotonic() + timeout
        while True:
            live_nats = [i for i, m in enumerate(self.nats) if m.alive()]
            ok = all(self.etcd_healthy(i) for i, m in enumerate(self.etcd) if m.alive()) and all(
                self.nats_routes(i) >= len(live_nats) - 1 for i in live_nats)
            if ok:
                return
            for m in self.etcd + self.nats:
                if m.proc is not None and m.proc.poll() is not None and m.proc.returncode not in (0, -9):
                    raise EnginesError("%s exited with %s:\n%s" % (m.name, m.proc.returncode, m.log_tail()))
            if time.monotonic() > deadline:
                tails = "\n".join("--- %s\n%s" % (m.name, m.log_tail()) for m in self.etcd + self.nats)
                raise EnginesError("the cluster engines were not healthy within %.0fs\n%s" % (timeout, tails))
            time.sleep(0.1)  # polling a server's health endpoint: there is no event to await

    # ------------------------------------------------------------------ failures
    def etcd_status(self, i):
        """The member's /v3/maintenance/status answer (leader, raftTerm, ...)."""
        return http_json("http://127.0.0.1:%d/v3/maintenance/status" % self.etcd[i].client_port, {})

    def etcd_leader_index(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, m in enumerate(self.etcd):
                if not m.alive():
                    continue
                try:
                    st = self.etcd_status(i)
                except (OSError, ValueError):
                    continue
                if st.get("leader") and st.get("leader") == st.get("header", {}).get("member_id"):
                    return i
            time.sleep(0.1)
        raise EnginesError("no etcd leader within %.0fs" % timeout)

    def kill_etcd_leader(self):
        """SIGKILLs the current etcd leader; returns its index (restart it with restart_etcd)."""
        i = self.etcd_leader_index()
        self.etcd[i].kill(signal.SIGKILL)
        return i

    def restart_etcd(self, i):
        self.etcd[i].cmd = [c if c != "new" else "existing" for c in self.etcd[i].cmd]
        self.etcd[i].start()

    def kill_nats(self, i):
        self.nats[i].kill(signal.SIGKILL)

    def restart_nats(self, i):
        self.nats[i].start()


class EdgemqCluster:
    """`size` edgemq nodes in cluster mode over `engines` (a started ClusterEngines): node i is
    named "node<i+1>" and lists etcd member i and NATS server i first. Each node is an
    edgemq_harness.EdgemqDaemon (its own data dir, a free MQTT port); `extra_args` go to every node.

        with ClusterEngines() as engines, EdgemqCluster(engines) as nodes:
            nodes[0].port, nodes[1].port ...
    """

    def __init__(self, engines, size=3, extra_args=None, config=None, **daemon_kwargs):
        from support.edgemq_harness import EdgemqDaemon  # the harness needs EDGEMQ_BIN only when used

        self.engines = engines
        self.nodes = [
            EdgemqDaemon(config=config, extra_args=engines.node_args("node%d" % (i + 1), i % len(engines.etcd))
                         + list(extra_args or []), **daemon_kwargs) for i in range(size)
        ]

    def start(self):
        try:
            for n in self.nodes:
                n.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for n in self.nodes:
            try:
                n.stop()
            except Exception:  # noqa: BLE001 - stop the others whatever one did
                pass

    def __enter__(self):
        self.start()
        return self.nodes

    def __exit__(self, *exc):
        self.stop()

    def __getitem__(self, i):
        return self.nodes[i]
