"""The daemon as a process: command line, configuration errors (exit 2 naming the JSON
path), configuration effects on the protocol, listeners, and graceful shutdown."""

import json
import os
import re
import signal
import subprocess
import tempfile
import unittest

from support import rawmqtt as raw
from support.edgemq_harness import EDGEMQ_BIN, EdgemqDaemon, DaemonTestCase, run_edgemq
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
            r = run_edgemq(["--listen", "localhost:1883", "--data-dir", d])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--listen 'localhost:1883'", r.stderr)
        self.assertNotIn("ready", r.stdout)

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
        self.assertIn("not starting", r.stderr)
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
