"""A cluster node cut off from the others (issue 16, docs/cluster.md "Failures"): its state store
requests fail instead of diverging, and once healed it reads what the majority wrote.

Three "hosts" are network namespaces on a bridge that lives in its own namespace (the layout of
/work/shared/reference/cluster-engines.md §3.4), so the root namespace is never touched: host i is
`<prefix>-n<i>` at 10.231.X.i/24 and runs one etcd member, one nats-server and one edgemq node.
The partition is `ip -n <prefix>-br link set p1 down`; healing is `... up`. Every client is
`edgemq-cli` run inside the host namespace of the node it talks to. The prefix and X are random per
run, so parallel or leftover runs never clash; everything is torn down in tearDownClass.

Creating namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN): where `ip netns add` fails, the
module is skipped with the reason."""

import os
import random
import shutil
import json
import select
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

from support.cluster_engines import ETCD_BIN, NATS_BIN, missing_engines
from support.constants import UNDER_TSAN, require_program
from support.edgemq_harness import EdgemqDaemon
from support.statestore_client import NIL, OK, bulk, err

IP_BIN = shutil.which("ip") or "/usr/sbin/ip"
ETCDCTL_BIN = shutil.which("etcdctl") or "/usr/bin/etcdctl"
STORAGE_ERROR = "the state store cannot write to its storage; try again later"
INTEGRATION_DIR = os.path.dirname(os.path.abspath(__file__))
ENGINES_TIMEOUT = 30.0  # 3 etcd + 3 nats healthy (measured: about 2 s)
FAIL_BOUND = 8.0  # a partitioned node answers a request within this (its etcd request timeout is 3 s)
HEAL_BOUND = 20.0  # after the heal, the cut-off node reads the majority's value within this
# After the heal a new CONNECT grants the node a new session lease itself when the cut outlived the
# old one (no waiting for the keep-alive tick, no refusal while etcd answers). It may still wait for a few
# etcd round trips (each bounded by the session directory's 2 s client timeout) while the cut-off member
# catches up, or be refused (0x88) when etcd answers with an error meanwhile; measured: 0.0 to 7.0 s.
LEASE_GAP_BOUND = 9.0
CLI_TIMEOUT = 10.0  # edgemq-cli's own --timeout: longer than FAIL_BOUND, so a hang shows as exit 3

# Run inside one host namespace: waits until the 3 etcd members say healthy and the 3 nats-servers
# route to each other (polling their HTTP endpoints: there is no event to await).
_WAIT_ENGINES = r"""
import json, sys, time, urllib.request
x, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
def get(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return json.loads(r.read() or b"{}")
    except Exception:
        return {}
while True:
    ok = all(get("http://10.231.%s.%d:2379/health" % (x, i)).get("health") == "true" for i in (1, 2, 3))
    ok = ok and all(get("http://10.231.%s.%d:8222/routez" % (x, i)).get("num_routes", 0) >= 2 for i in (1, 2, 3))
    if ok:
        sys.exit(0)
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.1)
"""


# Run inside one host namespace: a state store client connected once (support/statestore_client.py),
# driven by JSON lines on stdin ({"op": "set"|"get", "key", "value"}), answering one JSON line each:
# {"payload": <RESP3 reply, latin-1>, "took": s} or {"error": <no reply / refused ...>, "took": s}.
_NS_CLIENT = r"""
import json, sys, time
from support.statestore_client import StateStoreClient
host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
c = StateStoreClient(host, port, subscribe_notifications=False)
c.connect()
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    t0 = time.monotonic()
    try:
        if req["op"] == "set":
            r = c.set(req["key"].encode(), req["value"].encode(), timeout=timeout)
        else:
            r = c.get(req["key"].encode(), timeout=timeout)
        out = {"payload": r.payload.decode("latin-1")}
    except AssertionError as e:
        out = {"error": str(e)}
    out["took"] = time.monotonic() - t0
    print(json.dumps(out), flush=True)
c.close()
"""


def ip(*args):
    r = subprocess.run([IP_BIN] + list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        raise AssertionError("ip %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r.stdout


class NamespacedDaemon(EdgemqDaemon):
    """An edgemq node run inside a network namespace (`ip netns exec` execs it: the pid is edgemq's)."""

    root_prefix = "edgemq-part-"

    def __init__(self, ns, **kw):
        super().__init__(**kw)
        self.ns = ns

    def command(self):
        return [IP_BIN, "netns", "exec", self.ns] + super().command()


class NsClient:
    """A state store client process in a host namespace, connected once (before any partition)."""

    def __init__(self, ns, host, timeout):
        self.timeout = timeout
        self.proc = subprocess.Popen([IP_BIN, "netns", "exec", ns, sys.executable, "-c", _NS_CLIENT, host, "1883",
                                      str(timeout)], cwd=INTEGRATION_DIR, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        first = self._read(15.0)
        if not first.get("ready"):
            raise AssertionError("the state store client in %s did not connect: %r" % (ns, first))

    def _read(self, timeout):
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise AssertionError("the namespaced client gave no answer within %.0fs" % timeout)
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                raise AssertionError("the namespaced client exited: %s" % self.proc.stderr.read().decode())
            line += chunk
        return json.loads(line)

    def request(self, **req):
        if self.proc.poll() is not None:
            raise AssertionError("the namespaced client exited: %s" % self.proc.stderr.read().decode())
        self.proc.stdin.write(json.dumps(req).encode() + b"\n")
        self.proc.stdin.flush()
        return self._read(self.timeout + 5)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(5)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()


class ClusterPartitionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = missing_engines()
        if why:
            raise unittest.SkipTest(why)
        if UNDER_TSAN:  # the other cluster modules run the same code under TSan, without a clock on failure
            raise unittest.SkipTest("partition test skipped under ThreadSanitizer: it bounds how fast a cut-off node "
                                    "answers, and TSan slows the daemon by an order of magnitude")
        if not os.access(IP_BIN, os.X_OK):
            raise unittest.SkipTest("partition test skipped: %s (iproute2) is not installed" % IP_BIN)
        if os.geteuid() != 0:
            raise unittest.SkipTest("partition test skipped: creating network namespaces (`ip netns add`) needs root, "
                                    "and this runs as uid %d" % os.geteuid())
        cls.cli = require_program("EDGEMQ_CLI")
        require_program("EDGEMQ_BIN")
        cls.prefix = "emqp-%s" % uuid.uuid4().hex[:8]
        cls.x = random.randrange(1, 255)
        cls.br = cls.prefix + "-br"
        cls.hosts = ["%s-n%d" % (cls.prefix, i) for i in (1, 2, 3)]
        cls.namespaces = []
        cls.procs = []
        cls.nodes = []
        cls.root = None
        r = subprocess.run([IP_BIN, "netns", "add", cls.br], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if r.returncode != 0:
            raise unittest.SkipTest("partition test skipped: this runner may not create network namespaces "
                                    "(`ip netns add` exit %d: %s)" % (r.returncode, r.stderr.strip()))
        cls.namespaces.append(cls.br)
        try:
            cls._build_hosts()
            cls._start_engines()
            cls._start_nodes()
        except BaseException:
            cls._teardown()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._teardown()

    # ------------------------------------------------------------------ the three hosts
    @classmethod
    def addr(cls, i):
        return "10.231.%d.%d" % (cls.x, i)

    @classmethod
    def _build_hosts(cls):
        ip("-n", cls.br, "link", "set", "lo", "up")
        ip("-n", cls.br, "link", "add", "br0", "type", "bridge")
        ip("-n", cls.br, "link", "set", "br0", "up")
        for i, ns in enumerate(cls.hosts, 1):
            ip("netns", "add", ns)
            cls.namespaces.append(ns)
            # Both ends are created straight in their namespaces; the root one never sees them.
            ip("link", "add", "veth0", "netns", ns, "type", "veth", "peer", "name", "p%d" % i, "netns", cls.br)
            ip("-n", cls.br, "link", "set", "p%d" % i, "master", "br0", "up")
            ip("-n", ns, "addr", "add", "%s/24" % cls.addr(i), "dev", "veth0")
            ip("-n", ns, "link", "set", "veth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")  # a host reaches its own address through lo

    @classmethod
    def _spawn(cls, ns, cmd, log_name):
        with open(os.path.join(cls.root, log_name), "ab") as log:
            p = subprocess.Popen([IP_BIN, "netns", "exec", ns] + cmd, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        p.log_name = log_name
        cls.procs.append(p)
        return p

    @classmethod
    def _start_engines(cls):
        base = "/dev/shm" if os.path.isdir("/dev/shm") else None
        cls.root = tempfile.mkdtemp(prefix="edgemq-partition-", dir=base)
        token = "edgemq-part-%s" % uuid.uuid4().hex
        initial = ",".join("e%d=http://%s:2380" % (i, cls.addr(i)) for i in (1, 2, 3))
        routes = ", ".join("nats-route://%s:6222" % cls.addr(i) for i in (1, 2, 3))
        for i, ns in enumerate(cls.hosts, 1):
            a = cls.addr(i)
            cls._spawn(ns, [
                ETCD_BIN, "--name", "e%d" % i, "--data-dir", os.path.join(cls.root, "e%d" % i),
                "--listen-client-urls", "http://%s:2379" % a, "--advertise-client-urls", "http://%s:2379" % a,
                "--listen-peer-urls", "http://%s:2380" % a, "--initial-advertise-peer-urls", "http://%s:2380" % a,
                "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", token,
                "--heartbeat-interval", "100", "--election-timeout", "1000", "--pre-vote",
                "--experimental-enable-lease-checkpoint", "--logger", "zap", "--log-level", "warn"
            ], "e%d.log" % i)
            conf = os.path.join(cls.root, "n%d.conf" % i)
            with open(conf, "w") as f:
                f.write("server_name: n%d\nlisten: %s:4222\nhttp: %s:8222\n"
                        "cluster { name: edgemq, listen: %s:6222, routes: [%s] }\n" % (i, a, a, a, routes))
            cls._spawn(ns, [NATS_BIN, "-c", conf], "n%d.log" % i)
        r = subprocess.run([IP_BIN, "netns", "exec", cls.hosts[0], sys.executable, "-c", _WAIT_ENGINES,
                            str(cls.x), str(ENGINES_TIMEOUT)], stdin=subprocess.DEVNULL, timeout=ENGINES_TIMEOUT + 10)
        if r.returncode != 0:
            raise AssertionError("etcd and nats were not healthy within %.0fs\n%s" % (ENGINES_TIMEOUT, cls._logs()))

    @classmethod
    def _start_nodes(cls):
        for i, ns in enumerate(cls.hosts, 1):
            order = [i] + [j for j in (1, 2, 3) if j != i]  # its own host's engines first
            args = ["--cluster-node", "node%d" % i,
                    "--etcd", ",".join("http://%s:2379" % cls.addr(j) for j in order),
                    "--nats", ",".join("nats://%s:4222" % cls.addr(j) for j in order), "--allow-anonymous"]
            node = NamespacedDaemon(ns, listen="%s:1883" % cls.addr(i), extra_args=args)
            cls.nodes.append(node)
            node.start()

    @classmethod
    def _logs(cls):
        out = []
        for p in cls.procs:
            try:
                with open(os.path.join(cls.root, p.log_name), "rb") as f:
                    out.append("--- %s\n%s" % (p.log_name, b"".join(f.readlines()[-10:]).decode("utf-8", "replace")))
            except OSError:
                pass
        for i, node in enumerate(cls.nodes, 1):
            text = (node.stdout.text() if node.stdout else "") + (node.stderr.text() if node.stderr else "")
            out.append("--- node%d\n%s" % (i, "\n".join(text.splitlines()[-15:])))
        return "\n".join(out)

    @classmethod
    def _teardown(cls):
        for node in cls.nodes:
            try:
                node.stop()
            except Exception:  # noqa: BLE001 - stop the others whatever one did
                pass
        for p in cls.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGKILL)
                    p.wait(10)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        for ns in reversed(cls.namespaces):  # deleting a namespace deletes its veth ends
            subprocess.run([IP_BIN, "netns", "del", ns], stdin=subprocess.DEVNULL, capture_output=True)
        cls.namespaces = []
        if cls.root:
            shutil.rmtree(cls.root, ignore_errors=True)
            cls.root = None

    # ------------------------------------------------------------------ clients
    def cli_cmd(self, node, *args):
        """edgemq-cli run in node's host namespace against node (0-based)."""
        return [IP_BIN, "netns", "exec", self.hosts[node], self.cli, "--host", self.addr(node + 1), "--port", "1883",
                "--timeout", str(CLI_TIMEOUT)] + list(args)

    def run_cli(self, node, *args):
        t0 = time.monotonic()
        r = subprocess.run(self.cli_cmd(node, *args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=CLI_TIMEOUT + 10)
        return r.returncode, r.stdout.strip(), r.stderr.strip(), time.monotonic() - t0

    def until(self, what, deadline_s, node, *args, want=0, out=None):
        """Repeats a CLI request until it exits `want` (and prints `out`); returns the seconds taken."""
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < deadline_s:
            last = self.run_cli(node, *args)
            if last[0] == want and (out is None or last[1] == out):
                return time.monotonic() - t0
            if last[3] < 0.1:
                time.sleep(0.1)  # polling: a fast refusal is retried after a pause, not in a busy loop
        self.fail("%s: not within %.0fs; last answer %r" % (what, deadline_s, last))

    def link(self, i, state):
        ip("-n", self.br, "link", "set", "p%d" % i, state)

    def report(self, text):
        sys.stderr.write("\n  partition: %s" % text)

    def request_until(self, what, client, deadline_s, want, **req):
        """Repeats a request of the connected client until its reply is `want`; returns the seconds taken."""
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < deadline_s:
            last = client.request(**req)
            if last.get("payload") == want:
                return time.monotonic() - t0
            if last["took"] < 0.1:
                time.sleep(0.1)  # polling: a fast refusal is retried after a pause, not in a busy loop
        self.fail("%s: not within %.0fs; last answer %r" % (what, deadline_s, last))

    def new_connection_after_heal(self, node, key, want):
        """A GET on a new connection to `node` answers `want` within a bounded time after the heal.

        The cut outlived node1's session lease (4 s): its first CONNECT grants a new one (it used to be
        refused with 0x88 until the keep-alive thread's next tick). When the cut-off etcd member was
        the leader, etcd 3.4.23 may revoke the majority nodes' leases too once the partition heals
        (consistent with etcd-io/etcd#15247, fixed after 3.4.23): their CONNECTs renew them the same way."""
        t0 = time.monotonic()
        refusals = []
        while True:
            rc, out, err_text, _ = self.run_cli(node, "state", "get", key)
            if rc != 3 or "0x88" not in err_text or time.monotonic() - t0 > HEAL_BOUND:
                break
            refusals.append(err_text)
            time.sleep(0.1)  # polling the node's recovery: a refused CONNECT is answered at once
        gap = time.monotonic() - t0
        self.report("new connection to node%d accepted %.2fs after its first try (%d refusals with 0x88 before)"
                    % (node + 1, gap, len(refusals)))
        self.assertEqual((rc, out), (0, want), "GET through node%d on a new connection: %s" % (node + 1, err_text))
        self.assertLess(gap, LEASE_GAP_BOUND,
                        "new CONNECTs to node%d refused for %.1fs after the heal" % (node + 1, gap))

    def etcd_leader(self):
        """Which host's etcd member leads (1..3), asked from host 1 while all are connected."""
        r = subprocess.run([IP_BIN, "netns", "exec", self.hosts[0], ETCDCTL_BIN, "--endpoints",
                            ",".join("http://%s:2379" % self.addr(i) for i in (1, 2, 3)), "endpoint", "status",
                            "-w", "json"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10,
                           env=dict(os.environ, ETCDCTL_API="3"))
        try:
            for i, st in enumerate(json.loads(r.stdout), 1):
                if st["Status"]["leader"] == st["Status"]["header"]["member_id"]:
                    return i
        except (ValueError, KeyError, TypeError):
            pass
        return None

    # ------------------------------------------------------------------ the scenario
    def test_partitioned_node_fails_requests_and_converges_after_heal(self):
        try:
            self.scenario()
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self._logs())) from None

    def scenario(self):
        key = "part-%s" % uuid.uuid4().hex[:8]
        storage_error = err(STORAGE_ERROR).decode("latin-1")
        # node1's client connects before the cut: a CONNECT to a cut-off node is refused (below).
        c1 = NsClient(self.hosts[0], self.addr(1), FAIL_BOUND + 4)
        self.addCleanup(c1.close)
        self.assertEqual(c1.request(op="set", key=key, value="v1").get("payload"), OK.decode())
        rc, out, err_text, _ = self.run_cli(2, "state", "get", key)
        self.assertEqual((rc, out), (0, "v1"), "GET through node3: %s" % err_text)

        self.report("etcd leader before the cut: e%s" % self.etcd_leader())
        # Cut host 1 off the switch. Its etcd member, nats-server and edgemq keep running.
        self.link(1, "down")
        try:
            # A new connection to node1 meanwhile (answered below): edgemq-cli exit 3 if refused.
            connect_probe = subprocess.Popen(self.cli_cmd(0, "state", "get", key), stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            probe_t0 = time.monotonic()

            # A SET through node1 must be answered with the store's error, not applied.
            r = c1.request(op="set", key=key, value="v-partitioned")
            self.report("SET through node1: %r after %.2fs" % (r.get("payload", r.get("error")), r["took"]))
            self.assertEqual(r.get("payload"), storage_error,
                             "SET through the cut-off node1 must be answered -ERR; got %r" % r)
            self.assertLess(r["took"], FAIL_BOUND)

            # The majority side goes on: SET v2 through node2 (after an election if e1 led), read on node3.
            took = self.until("SET v2 through node2", HEAL_BOUND, 1, "state", "set", key, "v2")
            self.report("SET v2 through node2 accepted %.2fs after its first try" % took)
            rc, out, err_text, _ = self.run_cli(2, "state", "get", key)
            self.assertEqual((rc, out), (0, "v2"), "GET through node3: %s" % err_text)

            # A GET through node1 must not give its stale v1 (or anything) as a success.
            r = c1.request(op="get", key=key)
            self.report("GET through node1: %r after %.2fs" % (r.get("payload", r.get("error")), r["took"]))
            self.assertNotIn(r.get("payload"), (bulk("v1").decode(), bulk("v2").decode(), NIL.decode()),
                             "GET through the cut-off node1 answered a value as a success: %r" % r)
            self.assertEqual(r.get("payload"), storage_error, "GET through the cut-off node1: %r" % r)
            self.assertLess(r["took"], FAIL_BOUND)

            out, err_text = connect_probe.communicate(timeout=CLI_TIMEOUT + 10)
            took = time.monotonic() - probe_t0
            self.report("new connection to node1: edgemq-cli exit %d within %.2fs (%s)"
                        % (connect_probe.returncode, took, err_text.strip() or out.strip()))
            self.assertEqual(connect_probe.returncode, 3, "a CONNECT to the cut-off node1: %r %r" % (out, err_text))
            self.assertIn("server unavailable (0x88)", err_text)
        finally:
            self.link(1, "up")

        # Healed: node1 reads the majority's value (no divergence), through the old and a new connection.
        took = self.request_until("GET v2 through node1 after the heal", c1, HEAL_BOUND, bulk("v2").decode(),
                                  op="get", key=key)
        self.report("node1 read v2 %.2fs after the heal" % took)
        # New connections, on every node, once node1 reaches etcd again (it just read v2 through it).
        for node in (0, 1, 2):
            self.new_connection_after_heal(node, key, "v2")
        self.assertEqual(c1.request(op="set", key=key, value="v3").get("payload"), OK.decode())
        for node in (1, 2):
            rc, out, err_text, _ = self.run_cli(node, "state", "get", key)
            self.assertEqual((rc, out), (0, "v3"), "GET through node%d: %s" % (node + 1, err_text))
        for i, node in enumerate(self.nodes):
            self.assertTrue(node.alive(), "node%d died:\n%s" % (i + 1, node.stderr.text()))


if __name__ == "__main__":
    unittest.main()
