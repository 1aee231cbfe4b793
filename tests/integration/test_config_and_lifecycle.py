"""The daemon as a process: command line, configuration errors (exit 2 naming the JSON
path), configuration effects on the protocol, listeners, and graceful shutdown."""

import json
import os
import re
import shutil
import signal
import socket
import tempfile
import unittest

from support import rawmqtt as raw
from support.edgemq_harness import EdgemqDaemon, DaemonTestCase, run_edgemq
from support.paho_helper import PahoClient


class CommandLineTest(unittest.TestCase):
    def test_version(self):
        r = run_edgemq(["--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.strip(), r"^edgemq \d+\.\d+\.\d+$")

    def test_help_lists_options(self):
        r = run_edgemq(["--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for opt in ("--listen", "--data-dir", "--config", "--log-level", "--workers", "--version"):
            self.assertIn(opt, r.stdout)

    def test_bad_listen_argument(self):
        with tempfile.TemporaryDirectory() as d:
            r = run_edgemq(["--listen", "example.org:1883", "--data-dir", d])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--listen 'example.org:1883'", r.stderr)
        self.assertNotIn("ready", r.stdout)

    def assertUsageError(self, args, *expected):
        """Exit 2, nothing started, and exactly one stderr line naming the option and the problem."""
        with tempfile.TemporaryDirectory() as d:
            r = run_edgemq(["--data-dir", os.path.join(d, "data")] + list(args))
            self.assertFalse(os.path.exists(os.path.join(d, "data")), "a usage error must not touch the data dir")
        self.assertEqual(r.returncode, 2, "%s\nstderr: %s" % (args, r.stderr))
        self.assertNotIn("ready", r.stdout)
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, "one line for %s, got:\n%s" % (args, r.stderr))
        self.assertTrue(lines[0].startswith("edgemq: "), lines[0])
        for e in expected:
            self.assertIn(e, lines[0])
        return lines[0]

    def test_every_usage_error_exits_2_with_one_line(self):
        self.assertUsageError(["--no-such-option"], "--no-such-option")
        self.assertUsageError(["--workers", "abc"], "--workers: must be a whole number between 0 and 1024, got 'abc'")
        self.assertUsageError(["--workers", "-1"], "--workers")
        self.assertUsageError(["--workers", "5000"], "--workers: must be a whole number between 0 and 1024, got '5000'")
        self.assertUsageError(["--log-level", "loud"], "--log-level: must be one of trace, debug, info, warn, error, "
                                                       "critical, off, got 'loud'")
        self.assertUsageError(["--listen", "abc:1883"], "--listen 'abc:1883': 'abc' is not an IP address")
        self.assertUsageError(["--listen", "::1:1883"], "--listen '::1:1883': IPv6 address '::1' must be in brackets")
        self.assertUsageError(["--listen", "127.0.0.1:65536"], "--listen '127.0.0.1:65536': port '65536'")
        self.assertUsageError(["--listen", "127.0.0.1"], "--listen '127.0.0.1': '127.0.0.1' has no port")
        self.assertUsageError(["--config"], "--config")
        self.assertUsageError(["stray-argument"], "stray-argument")
        # Cluster mode (docs/cluster.md): a node needs etcd and NATS URLs of the right shape.
        self.assertUsageError(["--cluster-node", "a b", "--etcd", "http://127.0.0.1:2379", "--nats",
                               "nats://127.0.0.1:4222"], "--cluster-node: must be 1 to 63 characters")
        self.assertUsageError(["--cluster-node", "n1", "--etcd", "127.0.0.1:2379", "--nats", "nats://127.0.0.1:4222"],
                              "--etcd: must be http://HOST:PORT or https://HOST:PORT, got '127.0.0.1:2379'")
        self.assertUsageError(["--cluster-node", "n1", "--nats", "nats://127.0.0.1:4222"],
                              "--etcd: required in cluster mode")
        self.assertUsageError(["--etcd", "http://127.0.0.1:2379"], "--cluster-node: required when")

    def test_repeated_option_last_one_wins(self):
        # A wrapper (or a test harness) may append an override to a fixed command line.
        with tempfile.TemporaryDirectory() as d:
            with EdgemqDaemon(extra_args=["--data-dir", d, "--workers", "1", "--workers", "2"]) as daemon:
                self.assertIn("(data dir %s)" % d, daemon.ready_line)

    def test_localhost_listener_is_accepted(self):
        with EdgemqDaemon(listen="localhost:0") as d:
            self.assertIn("ready: MQTT on 127.0.0.1:", d.ready_line)
            c = raw.RawClient("127.0.0.1", d.port)
            c.connect("via-localhost")
            c.ping()
            c.close()
        with EdgemqDaemon(config={"listeners": ["localhost:0"]}, listen=None) as d:
            self.assertIn("ready: MQTT on 127.0.0.1:", d.ready_line)

    def test_bad_log_level_argument(self):
        with tempfile.TemporaryDirectory() as d:
            r = run_edgemq(["--log-level", "loud", "--data-dir", d, "--listen", "127.0.0.1:0"])
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("ready", r.stdout)

    def test_unknown_option(self):
        r = run_edgemq(["--no-such-option"])
        self.assertNotEqual(r.returncode, 0)


class ConfigErrorTest(unittest.TestCase):
    def run_config(self, text):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.json")
            with open(path, "w") as f:
                f.write(text if isinstance(text, str) else json.dumps(text))
            r = run_edgemq(["--config", path, "--data-dir", os.path.join(d, "data"), "--listen", "127.0.0.1:0"])
            return r, path

    def assertConfigError(self, cfg, *expected):
        r, path = self.run_config(cfg)
        self.assertEqual(r.returncode, 2, "bad config must exit 2\nstdout: %s\nstderr: %s" % (r.stdout, r.stderr))
        self.assertNotIn("ready", r.stdout)
        for e in expected:
            self.assertIn("edgemq: config error in %s at %s" % (path, e), r.stderr)
        # One line per problem, nothing else.
        self.assertEqual(len(r.stderr.splitlines()), len(expected), r.stderr)
        return r

    def test_max_packet_size_out_of_range(self):
        self.assertConfigError({"mqtt": {"max_packet_size": 3}},
                               "/mqtt/max_packet_size: must be between 64 and 268435460, got 3")

    def test_unknown_keys(self):
        self.assertConfigError({"mqtt": {"max_packet_sise": 100}}, "/mqtt/max_packet_sise: unknown key")
        self.assertConfigError({"listener": ["127.0.0.1:1883"]}, "/listener: unknown key")
        self.assertConfigError({"queue": {"max_message": 1}}, "/queue/max_message: unknown key")

    def test_every_error_is_reported(self):
        r = self.assertConfigError({"workers": -1, "log_level": "loud", "mqtt": {"maximum_qos": 3, "retain_available": 1},
                                    "queue": {"max_bytes": 10}},
                                   "/workers: must be a non-negative integer",
                                   "/log_level: must be one of",
                                   "/mqtt/maximum_qos: must be between 0 and 2, got 3",
                                   "/mqtt/retain_available: must be true or false",
                                   "/queue/max_bytes: must be between 1024")
        self.assertEqual(len([l for l in r.stderr.splitlines() if "config error" in l]), 5)

    def test_wrong_types(self):
        self.assertConfigError({"workers": "two"}, "/workers: must be a non-negative integer")
        self.assertConfigError({"mqtt": {"max_keep_alive": 1.5}}, "/mqtt/max_keep_alive: must be a non-negative integer")
        self.assertConfigError({"mqtt": []}, "/mqtt: must be an object")
        self.assertConfigError({"data_dir": ""}, "/data_dir: must be a non-empty string")

    def test_connect_timeout_minimum(self):
        self.assertConfigError({"mqtt": {"connect_timeout_ms": 50}},
                               "/mqtt/connect_timeout_ms: must be between 100 and 3600000, got 50")

    def test_bad_listeners(self):
        self.assertConfigError({"listeners": []}, "/listeners: must be a non-empty array")
        self.assertConfigError({"listeners": ["127.0.0.1:1883", "example.org:1883", 5]},
                               "/listeners/1: must be \"host:port\"", "/listeners/2: must be \"host:port\"")

    def test_listener_addresses_are_validated_up_front(self):
        # These used to pass validation and fail later, when binding, with exit status 1.
        self.assertConfigError({"listeners": ["abc:1883"]},
                               "/listeners/0: must be \"host:port\": 'abc' is not an IP address")
        self.assertConfigError({"listeners": ["0.0.0.0:1883", "fe80::zz:1883", "[1.2.3.4]:1883"]},
                               "/listeners/1: must be \"host:port\": IPv6 address 'fe80::zz' must be in brackets",
                               "/listeners/2: must be \"host:port\": '[1.2.3.4]' is not an IPv6 address")

    def test_not_json(self):
        self.assertConfigError('{"mqtt": {', "(file): not valid JSON")
        self.assertConfigError("[1, 2]", "/: the configuration must be a JSON object")

    def test_missing_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "missing.json")
            r = run_edgemq(["--config", path, "--data-dir", d])
        self.assertEqual(r.returncode, 2)
        self.assertIn("config error in %s at (file): cannot read config file" % path, r.stderr)

    def test_comments_allowed_and_valid_config_starts(self):
        cfg = '{\n  // workers for a tiny box\n  "workers": 1,\n  "mqtt": {"max_packet_size": 64}\n}'
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ok.json")
            with open(path, "w") as f:
                f.write(cfg)
            daemon = EdgemqDaemon(extra_args=["--config", path]).start()
            try:
                c = raw.RawClient("127.0.0.1", daemon.port)
                ack = c.connect("commented")
                self.assertEqual(ack.props.get(raw.P_MAXIMUM_PACKET_SIZE), 64)
                c.close()
            finally:
                daemon.stop()


class ListenerTest(unittest.TestCase):
    def test_listeners_from_config_file(self):
        with EdgemqDaemon(config={"listeners": ["127.0.0.1:0"]}, listen=None) as d:
            self.assertIn("ready: MQTT on 127.0.0.1:", d.ready_line)
            c = raw.RawClient("127.0.0.1", d.port)
            c.connect("from-config")
            c.ping()
            c.close()

    def test_two_listeners_share_one_broker(self):
        d = EdgemqDaemon(extra_args=["--listen", "127.0.0.1:0"]).start()
        try:
            ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", d.ready_line.split("ready:")[1])]
            self.assertEqual(len(ports), 2, d.ready_line)
            self.assertNotEqual(ports[0], ports[1])
            a = raw.RawClient("127.0.0.1", ports[0])
            a.connect("on-first")
            a.subscribe([("cross/listener", 1)])
            b = raw.RawClient("127.0.0.1", ports[1], raw.V311)
            b.connect("on-second")
            b.publish("cross/listener", b"hop", qos=1)
            self.assertEqual(a.expect(raw.PUBLISH).payload, b"hop")
            a.close()
            b.close()
        finally:
            d.stop()

    def test_port_in_use_fails_to_start(self):
        with EdgemqDaemon() as first:
            c = raw.RawClient("127.0.0.1", first.port)
            self.addCleanup(c.close)
            c.connect("first")
            second = EdgemqDaemon(listen="127.0.0.1:%d" % first.port)
            with self.assertRaises(AssertionError):
                second.start()
            self.assertEqual(second.returncode, 1)
            self.assertIn("cannot listen on 127.0.0.1:%d" % first.port, second.stdout.text() + second.stderr.text())
            second.cleanup()
            self.assertTrue(first.alive())
            c.ping()

    def test_data_dir_is_created(self):
        with EdgemqDaemon() as d:
            c = raw.RawClient("127.0.0.1", d.port)
            self.addCleanup(c.close)
            c.connect("data-dir")
            self.assertTrue(os.path.isdir(d.data_dir))
            self.assertIn("(data dir %s)" % d.data_dir, d.ready_line)


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Ipv6ListenerTest(unittest.TestCase):
    def setUp(self):
        if not ipv6_loopback_available():
            self.skipTest("IPv6 loopback (::1) is not available on this host")

    def ready_port(self, daemon):
        m = re.search(r"ready: MQTT on \[::1\]:(\d+) ", daemon.ready_line)
        self.assertIsNotNone(m, "IPv6 endpoints are printed as [::1]:PORT: %s" % daemon.ready_line)
        return int(m.group(1))

    def test_ipv6_endpoint_printed_in_brackets_and_serves(self):
        with EdgemqDaemon(listen="[::1]:0") as d:
            port = self.ready_port(d)
            c = raw.RawClient("::1", port)
            c.connect("over-ipv6")
            c.ping()
            c.close()

    def test_ipv6_port_in_use_names_the_endpoint_in_brackets(self):
        with EdgemqDaemon(listen="[::1]:0") as first:
            port = self.ready_port(first)
            with tempfile.TemporaryDirectory() as d:
                r = run_edgemq(["--listen", "[::1]:%d" % port, "--data-dir", d])
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("cannot listen on [::1]:%d" % port, r.stdout + r.stderr)


class DataDirTest(unittest.TestCase):
    """One daemon per data directory; only a really corrupt database is ever moved aside."""

    MOVE_ASIDE = {"persistence": {"move_aside_on_corruption": True}}

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="edgemq-datadir-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.data_dir = os.path.join(self.root, "data")

    def daemon(self, config=None):
        """A daemon on this test's data dir (the last --data-dir wins over the harness's own)."""
        d = EdgemqDaemon(config=config, extra_args=["--data-dir", self.data_dir])
        self.addCleanup(d.cleanup)
        return d.start()

    def retain(self, d, payload):
        c = raw.RawClient("127.0.0.1", d.port)
        c.connect("retainer")
        c.publish("datadir/retained", payload, qos=1, retain=True)
        c.close()

    def retained(self, d):
        """The retained payload, or None: a retained message is sent on SUBSCRIBE, before the
        broker handles our next PUBLISH (the marker), so the marker arriving first means none."""
        c = raw.RawClient("127.0.0.1", d.port)
        try:
            c.connect("reader")
            c.subscribe([("datadir/retained", 0), ("datadir/marker", 0)])
            c.publish("datadir/marker", b"marker")
            p = c.expect(raw.PUBLISH)
            return None if p.topic == "datadir/marker" else p.payload
        finally:
            c.close()

    def moved_aside(self):
        return [n for n in os.listdir(self.data_dir) if ".corrupt-" in n]

    def test_second_daemon_on_same_data_dir_exits_2_and_moves_nothing(self):
        first = self.daemon(self.MOVE_ASIDE)
        self.retain(first, b"precious")
        cfg = os.path.join(self.root, "move-aside.json")
        with open(cfg, "w") as f:
            json.dump(self.MOVE_ASIDE, f)
        r = run_edgemq(["--config", cfg, "--data-dir", self.data_dir, "--listen", "127.0.0.1:0"])
        self.assertEqual(r.returncode, 2, "second daemon must refuse to start\nstdout: %s\nstderr: %s"
                         % (r.stdout, r.stderr))
        self.assertEqual(r.stderr.splitlines(), ["edgemq: data dir '%s' in use by another process" % self.data_dir])
        self.assertNotIn("ready", r.stdout)
        self.assertEqual(self.moved_aside(), [])
        self.assertTrue(first.alive())
        self.assertEqual(self.retained(first), b"precious")
        first.stop()
        again = self.daemon(self.MOVE_ASIDE)
        self.assertEqual(self.retained(again), b"precious", "the first daemon's data must survive its restart")
        self.assertEqual(self.moved_aside(), [])

    def garble(self, path):
        n = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.write(bytes((i * 37 + 11) & 0xFF for i in range(n)))

    def manifest(self):
        broker = os.path.join(self.data_dir, "broker")
        names = [n for n in os.listdir(broker) if n.startswith("MANIFEST-")]
        self.assertEqual(len(names), 1, names)
        return os.path.join(broker, names[0])

    def test_really_corrupt_database_is_refused_or_moved_aside(self):
        d = self.daemon()
        self.retain(d, b"lost")
        d.stop()
        self.garble(self.manifest())
        # Default: refuse to start, naming the database and the corruption.
        broken = EdgemqDaemon(extra_args=["--data-dir", self.data_dir])
        self.addCleanup(broken.cleanup)
        with self.assertRaises(AssertionError):
            broken.start()
        self.assertEqual(broken.returncode, 1)
        self.assertIn("cannot open broker database '%s'" % os.path.join(self.data_dir, "broker"), broken.stdout.text())
        self.assertIn("Corruption", broken.stdout.text())
        self.assertEqual(self.moved_aside(), [])
        # move_aside_on_corruption: renamed, logged, started empty.
        d = self.daemon(self.MOVE_ASIDE)
        self.assertEqual(len(self.moved_aside()), 1, os.listdir(self.data_dir))
        self.assertTrue(self.moved_aside()[0].startswith("broker.corrupt-"))
        self.assertIn("moved it to", d.stdout.text())
        self.assertIsNone(self.retained(d))

    def test_unreadable_but_not_corrupt_database_is_never_moved_aside(self):
        d = self.daemon()
        self.retain(d, b"kept")
        d.stop()
        # A MANIFEST that cannot be found is an I/O error (e.g. a file removed by hand, a disk
        # problem), not corruption: fatal, and the data stays where it is.
        broker = os.path.join(self.data_dir, "broker")
        manifest = self.manifest()
        os.rename(manifest, manifest + ".away")
        broken = EdgemqDaemon(config=self.MOVE_ASIDE, extra_args=["--data-dir", self.data_dir])
        self.addCleanup(broken.cleanup)
        with self.assertRaises(AssertionError):
            broken.start()
        self.assertEqual(broken.returncode, 1)
        self.assertIn("cannot open broker database '%s'" % broker, broken.stdout.text())
        self.assertEqual(self.moved_aside(), [])
        os.rename(manifest + ".away", manifest)
        d = self.daemon(self.MOVE_ASIDE)
        self.assertEqual(self.retained(d), b"kept")


class ShutdownTest(unittest.TestCase):
    def test_sigterm_disconnects_v5_clients_with_0x8b_and_exits_0(self):
        d = EdgemqDaemon().start()
        try:
            v5 = raw.RawClient("127.0.0.1", d.port)
            self.addCleanup(v5.close)
            v5.connect("v5-at-shutdown")
            v311 = raw.RawClient("127.0.0.1", d.port, raw.V311)
            self.addCleanup(v311.close)
            v311.connect("v311-at-shutdown")
            paho = PahoClient("127.0.0.1", d.port)
            paho.connect()
            d.send_signal(signal.SIGTERM)
            got = v5.read_until_closed(10.0)
            self.assertEqual([(p.type, p.reason) for p in got], [(raw.DISCONNECT, 0x8B)],
                             "MQTT 5 client must get DISCONNECT Server shutting down")
            self.assertEqual(v311.read_until_closed(10.0), [], "MQTT 3.1.1 client is just closed")
            self.assertTrue(paho.disconnected.wait(10.0))
            paho.close()
            self.assertEqual(d.wait(), 0)
            self.assertIn("stopped", d.stdout.text())
        finally:
            d.cleanup()

    def test_sigint_exits_0(self):
        d = EdgemqDaemon().start()
        try:
            c = raw.RawClient("127.0.0.1", d.port)
            self.addCleanup(c.close)
            c.connect("sigint")
            d.send_signal(signal.SIGINT)
            self.assertEqual([p.reason for p in c.read_until_closed(10.0)], [0x8B])
            self.assertEqual(d.wait(), 0)
        finally:
            d.cleanup()

    def test_sigterm_immediately_after_ready_exits_0(self):
        # The ready line promises a running daemon: a SIGTERM sent the moment it is printed
        # must already get the graceful path (exit 0), not the default action (killed, -15).
        # start() returns the moment the ready line is read, so the signal follows it closely.
        codes = []
        for _ in range(30):
            d = EdgemqDaemon().start()
            try:
                d.send_signal(signal.SIGTERM)
                codes.append(d.wait())
            finally:
                d.cleanup()
        killed = len([c for c in codes if c != 0])
        self.assertEqual(killed, 0, "%d of %d daemons sent SIGTERM right after their ready line did not exit 0 "
                                    "(exit codes %s): the signal arrived before it was handled" % (killed, len(codes), codes))

    def test_sigterm_idle_and_mid_connect(self):
        d = EdgemqDaemon().start()
        try:
            ok = raw.RawClient("127.0.0.1", d.port)
            self.addCleanup(ok.close)
            ok.connect("complete")
            half = raw.RawClient("127.0.0.1", d.port)
            self.addCleanup(half.close)
            half.send(raw.connect("half")[:5])
            ok.ping()
            d.send_signal(signal.SIGTERM)
            self.assertEqual(half.read_until_closed(10.0), [])
            self.assertEqual([p.reason for p in ok.read_until_closed(10.0)], [0x8B])
            self.assertEqual(d.wait(), 0)
        finally:
            d.cleanup()

    def test_shutdown_with_client_that_does_not_read(self):
        d = EdgemqDaemon(config={"shutdown_timeout_ms": 1000}).start()
        try:
            sub = raw.RawClient("127.0.0.1", d.port)
            self.addCleanup(sub.close)
            sub.connect("sluggish")
            sub.subscribe([("flood", 0)])
            pub = raw.RawClient("127.0.0.1", d.port)
            self.addCleanup(pub.close)
            pub.connect("flooder")
            for _ in range(50):
                pub.send(raw.publish("flood", b"z" * 60000))
            pub.ping()
            d.send_signal(signal.SIGTERM)
            # sub never reads: the broker must still exit within its shutdown timeout
            self.assertEqual(d.wait(timeout=10.0), 0)
        finally:
            d.cleanup()


class ConfigEffectsTest(DaemonTestCase):
    config = {
        "workers": 2,
        "mqtt": {"maximum_qos": 1, "retain_available": False, "wildcard_subscription_available": False,
                 "subscription_identifiers_available": False, "max_keep_alive": 10, "max_session_expiry": 5,
                 "receive_maximum": 10, "topic_alias_maximum": 3, "max_packet_size": 2048},
        "queue": {"max_messages": 3, "qos0_offline": True},
    }

    def client(self, **kw):
        c = self.track(raw.RawClient(self.host, self.port))
        c.ack = c.connect(self.unique("cfg"), **kw)
        return c

    def test_connack_properties_reflect_config(self):
        ack = self.client(keepalive=60, properties=[(raw.P_SESSION_EXPIRY, 100)]).ack
        expected = {raw.P_MAXIMUM_QOS: 1, raw.P_RETAIN_AVAILABLE: 0, raw.P_WILDCARD_SUB_AVAILABLE: 0,
                    raw.P_SUB_ID_AVAILABLE: 0, raw.P_SERVER_KEEP_ALIVE: 10, raw.P_SESSION_EXPIRY: 5,
                    raw.P_RECEIVE_MAXIMUM: 10, raw.P_TOPIC_ALIAS_MAXIMUM: 3, raw.P_MAXIMUM_PACKET_SIZE: 2048}
        for pid, value in expected.items():
            self.assertEqual(ack.props.get(pid), value, "CONNACK property %#04x" % pid)

    def test_keep_alive_zero_gets_server_keep_alive(self):
        self.assertEqual(self.client(keepalive=0).ack.props.get(raw.P_SERVER_KEEP_ALIVE), 10)

    def test_maximum_qos_enforced(self):
        c = self.client()
        self.assertEqual(c.subscribe([(self.unique("q"), 2)]).reasons, [1], "granted QoS capped at 1")
        c.send(raw.publish(self.unique("q"), b"x", qos=2, packet_id=1))
        self.assertEqual([(p.type, p.reason) for p in c.read_until_closed()], [(raw.DISCONNECT, 0x9B)])

    def test_retain_not_available(self):
        c = self.client()
        c.send(raw.publish(self.unique("r"), b"x", retain=True))
        self.assertEqual([(p.type, p.reason) for p in c.read_until_closed()], [(raw.DISCONNECT, 0x9A)])

    def test_wildcards_not_available(self):
        c = self.client()
        sa = c.subscribe([("a/+", 0), ("a/#", 0), ("a/b", 0)])
        self.assertEqual(sa.reasons, [0xA2, 0xA2, 0x00])

    def test_subscription_identifiers_not_available(self):
        c = self.client()
        c.send(raw.subscribe(1, [("a", 0)], properties=[(raw.P_SUBSCRIPTION_IDENTIFIER, 1)]))
        self.assertEqual([(p.type, p.reason) for p in c.read_until_closed()], [(raw.DISCONNECT, 0xA1)])

    def test_topic_alias_maximum_enforced(self):
        c = self.client()
        c.send(raw.publish(self.unique("ta"), b"x", properties=[(raw.P_TOPIC_ALIAS, 4)]))
        self.assertEqual([(p.type, p.reason) for p in c.read_until_closed()], [(raw.DISCONNECT, 0x94)])

    def test_max_packet_size_enforced(self):
        c = self.client()
        c.send(bytes([0x30]) + raw.varint(2100) + b"\x00\x01a")
        self.assertEqual([(p.type, p.reason) for p in c.read_until_closed()], [(raw.DISCONNECT, 0x95)])

    def test_offline_queue_limit_and_qos0_offline(self):
        cid = self.unique("q")
        t = self.unique("q")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(cid, properties=[(raw.P_SESSION_EXPIRY, 5)])
        c.subscribe([(t, 1)])
        c.send(raw.disconnect(0))
        c.read_until_closed()
        pub = self.client()
        for i in range(6):
            pub.publish(t, b"%d" % i, qos=i % 2)  # QoS 0 and 1 alternately: QoS 0 is queued too
        c = self.track(raw.RawClient(self.host, self.port))
        self.assertTrue(c.connect(cid, clean=False, properties=[(raw.P_SESSION_EXPIRY, 0)]).session_present)
        got = []
        for _ in range(3):
            p = c.expect(raw.PUBLISH)
            if p.qos:
                c.send(raw.ack(raw.PUBACK, p.packet_id))
            got.append(p.payload)
        pub.publish(t, b"live", qos=1)
        live = c.expect(raw.PUBLISH)
        self.assertEqual(live.payload, b"live", "only queue.max_messages (3) messages may be kept offline")
        self.assertEqual(len(got), 3)
        self.assertIn(b"0", got, "QoS 0 messages are queued offline with queue.qos0_offline")


if __name__ == "__main__":
    unittest.main()
