"""edgemq-bench runs its scenarios correctly against the real daemon (a short smoke run of the
load generator: the benchmarks themselves are not tests), and edgemq-limit, the minimal forwarder
the benchmark compares with, forwards what it is meant to (ADR 0026)."""

import json
import select
import shutil
import signal
import subprocess
import tempfile
import unittest

from support import rawmqtt
from support.constants import HOST, READY_TIMEOUT, STOP_TIMEOUT, require_program
from support.paho_helper import PahoClient
from support.edgemq_harness import DaemonTestCase, EdgemqDaemon
from support.tls_pki import OPENSSL, Pki, ready_ports

BENCH = require_program("EDGEMQ_BENCH")


class BenchToolTest(DaemonTestCase):
    def bench(self, *args):
        r = subprocess.run([BENCH, "-p", str(self.port), "-d", "1"] + list(args), capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def test_pairs_qos0_and_qos1_deliver_what_was_sent(self):
        for q in ("0", "1", "2"):
            with self.subTest(qos=q):
                out = self.bench("-s", "pairs", "-n", "5", "-q", q)
                self.assertEqual(out["errors"], 0)
                self.assertGreater(out["delivered"], 100)
                self.assertLessEqual(out["delivered"], out["sent"])
                self.assertLessEqual(out["p50_us"], out["p99_us"])

    def test_persistent_subscribers_get_everything_at_qos1(self):
        # --session-expiry: the subscribers' sessions are persistent (journaled before each PUBACK).
        for version in ("5", "4"):
            with self.subTest(version=version):
                out = self.bench("-s", "pairs", "-n", "3", "-q", "1", "-V", version, "--session-expiry", "60")
                self.assertEqual(out["errors"], 0)
                self.assertGreater(out["delivered"], 50)
                self.assertLessEqual(out["delivered"], out["sent"])

    def test_fanout_delivers_to_every_subscriber(self):
        out = self.bench("-s", "fanout", "-n", "10", "--rate", "100")
        self.assertEqual(out["errors"], 0)
        # each of the ~100 messages reaches all 10 subscribers (the last ones may be in flight)
        self.assertGreaterEqual(out["delivered"], (out["sent"] - 5) * 10)
        self.assertLessEqual(out["delivered"], out["sent"] * 10)

    def test_fanin_and_v311(self):
        out = self.bench("-s", "fanin", "-n", "10", "-V", "4", "-q", "1")
        self.assertEqual(out["errors"], 0)
        self.assertGreater(out["delivered"], 100)

    def test_latency_rate_is_honoured(self):
        out = self.bench("-s", "latency", "--rate", "200")
        self.assertEqual(out["errors"], 0)
        self.assertTrue(150 <= out["delivered"] <= 220, out)

    def test_conns_holds_connections(self):
        r = subprocess.run([BENCH, "-p", str(self.port), "-s", "conns", "-n", "50", "-d", "0.2"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout.strip().splitlines()[-1])["connections"], 50)


@unittest.skipUnless(OPENSSL, "needs openssl")
class BenchToolTlsTest(unittest.TestCase):
    """--tls: the same scenarios over an mqtts listener, the server verified with --cafile."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="edgemq-bench-tls-")
        cls.pki = Pki(cls.dir)
        cert, key = cls.pki.server
        cls.daemon = EdgemqDaemon(extra_args=["--listen", "mqtts://127.0.0.1:0", "--tls-cert", cert, "--tls-key", key])
        cls.daemon.start()
        cls.tls_port = ready_ports(cls.daemon)[1][1]

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daemon.stop()
        finally:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def bench(self, *args, duration=1):
        return subprocess.run([BENCH, "-p", str(self.tls_port), "-d", str(duration), "--tls"] + list(args),
                              capture_output=True, text=True, timeout=60)

    def test_pairs_over_tls_deliver_what_was_sent(self):
        for q in ("0", "1", "2"):
            with self.subTest(qos=q):
                r = self.bench("--cafile", self.pki.ca, "-s", "pairs", "-n", "5", "-q", q)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                out = json.loads(r.stdout.strip().splitlines()[-1])
                self.assertEqual(out["errors"], 0)
                self.assertGreater(out["delivered"], 100)
                self.assertLessEqual(out["delivered"], out["sent"])

    def test_large_payloads_and_fanout_over_tls(self):
        # 64 KiB payloads: several TLS records per message, partial writes on both sides. At a rate a
        # daemon under ThreadSanitizer on a busy host keeps up with (at 50/s, 16 MB/s of TLS to 5
        # subscribers, it fell behind there), only the last messages can still be on their way.
        r = self.bench("--cafile", self.pki.ca, "-s", "fanout", "-n", "5", "-q", "1", "--payload", "65536",
                       "--rate", "10", duration=2)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertGreaterEqual(out["delivered"], (out["sent"] - 2) * 5)

    def test_a_server_the_cafile_does_not_vouch_for_is_refused(self):
        r = self.bench("--cafile", self.pki.other_ca, "-s", "pairs", "-n", "1")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("TLS handshake failed: unable to get local issuer certificate", r.stderr)


class LimitForwarderTest(unittest.TestCase):
    """edgemq-limit on port 0: paho clients (3.1.1 and 5) get each message once at the QoS they
    asked for, edgemq-bench's QoS 1 scenario completes against it, and it stops on SIGTERM."""

    def setUp(self):
        self.proc = subprocess.Popen([require_program("EDGEMQ_LIMIT"), "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.stop)
        ready, _, _ = select.select([self.proc.stdout], [], [], READY_TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        self.assertRegex(line, r"^edgemq-limit ready on 127\.0\.0\.1:\d+$")
        self.port = int(line.rsplit(":", 1)[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def client(self, version):
        c = PahoClient(HOST, self.port, version=version)
        c.connect()
        self.addCleanup(c.close)
        return c

    def test_qos0_and_qos1_arrive_once_for_311_and_5(self):
        for sub_v, pub_v in ((4, 4), (5, 5), (4, 5), (5, 4)):
            with self.subTest(subscriber=sub_v, publisher=pub_v):
                sub, pub = self.client(sub_v), self.client(pub_v)
                base = "limit/%d-%d" % (sub_v, pub_v)
                self.assertEqual(sub.subscribe(base + "/q0", 0), [0])
                self.assertEqual(sub.subscribe(base + "/q1", 1), [1])
                pub.publish(base + "/q0", b"zero", qos=0)
                pub.publish(base + "/q1", b"one", qos=1)  # waits for the forwarder's PUBACK
                pub.publish(base + "/q0", b"down", qos=1)  # to a QoS 0 subscription: delivered at QoS 0
                pub.publish(base + "/other", b"nobody", qos=0)
                pub.publish(base + "/q1", b"end", qos=1)
                got = sub.collect_until(base + "/q1", timeout=5) + sub.collect_until(base + "/q1", timeout=5)
                self.assertEqual([(m.topic, m.payload, m.qos) for m in got],
                                 [(base + "/q0", b"zero", 0), (base + "/q1", b"one", 1), (base + "/q0", b"down", 0),
                                  (base + "/q1", b"end", 1)])
                # One thread writing each socket in order: a second copy would have come before "end".
                self.assertEqual(sub.drain(), [])

    def test_wildcards_match_and_pingreq_is_answered(self):
        # Fan-in needs `+` (edgemq-bench subscribes to bench/PID/+); `#` is matched too.
        for version in (4, 5):
            with self.subTest(version=version):
                raw = rawmqtt.RawClient(HOST, self.port, version=version)
                self.addCleanup(raw.sock.close)
                raw.send(rawmqtt.connect("w%d" % version, version=version))
                self.assertEqual(raw.expect(rawmqtt.CONNACK).reason, 0)
                raw.send(rawmqtt.subscribe(7, [("w%d/+" % version, 1), ("x%d/#" % version, 0)], version=version))
                ack = raw.expect(rawmqtt.SUBACK)
                self.assertEqual((ack.packet_id, ack.reasons), (7, [1, 0]))
                raw.send(rawmqtt.pingreq())
                raw.expect(rawmqtt.PINGRESP)
                pub = self.client(version)
                for topic in ("w%d/a" % version, "w%d/a/b" % version, "x%d" % version, "x%d/c/d" % version,
                              "$SYS/w%d" % version, "w%d/end" % version):
                    pub.publish(topic, b"m", qos=0)
                got = []
                while not got or got[-1] != "w%d/end" % version:
                    got.append(raw.expect(rawmqtt.PUBLISH).topic)
                self.assertEqual(got, ["w%d/a" % version, "x%d" % version, "x%d/c/d" % version, "w%d/end" % version])

    def test_bench_qos1_pairs_and_fanout_complete(self):
        for args in (["-s", "pairs", "-n", "5", "-q", "1"], ["-s", "fanout", "-n", "5", "-q", "1", "-V", "4"]):
            r = subprocess.run([BENCH, "-p", str(self.port), "-d", "0.5"] + args, capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            out = json.loads(r.stdout.strip().splitlines()[-1])
            self.assertEqual(out["errors"], 0)
            self.assertGreater(out["delivered"], 100)

    def test_sigterm_stops_it(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(STOP_TIMEOUT), 0)


if __name__ == "__main__":
    unittest.main()
