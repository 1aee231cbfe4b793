"""edgemq-bench runs its scenarios correctly against the real daemon (a short smoke run of the
load generator: the benchmarks themselves are not tests)."""

import json
import shutil
import subprocess
import tempfile
import unittest

from support.constants import require_program
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

    def bench(self, *args):
        return subprocess.run([BENCH, "-p", str(self.tls_port), "-d", "1", "--tls"] + list(args), capture_output=True,
                              text=True, timeout=60)

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
        # 64 KiB payloads: several TLS records per message, partial writes on both sides.
        r = self.bench("--cafile", self.pki.ca, "-s", "fanout", "-n", "5", "-q", "1", "--payload", "65536",
                       "--rate", "50")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertGreaterEqual(out["delivered"], (out["sent"] - 2) * 5)

    def test_a_server_the_cafile_does_not_vouch_for_is_refused(self):
        r = self.bench("--cafile", self.pki.other_ca, "-s", "pairs", "-n", "1")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("TLS handshake failed: unable to get local issuer certificate", r.stderr)


if __name__ == "__main__":
    unittest.main()
