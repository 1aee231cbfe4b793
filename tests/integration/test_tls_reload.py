"""SIGHUP reloads every TLS listener's certificate, key and client CA (docs/security.md, "Reload";
ADR 0014): connections made afterwards use the new files, connections already there keep theirs
and stay; a file that fails to load is logged and the listener keeps serving what it had.

Real clients: paho with tls_set (the connection that must survive), mosquitto_pub with
--cafile/--cert/--key, Python's ssl module for the handshake outcomes. Certificates are made with
the `openssl` command; the listener's files are replaced atomically (rename), as a certificate
manager would."""

import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import unittest

from support.edgemq_harness import EdgemqDaemon
from support.paho_helper import PahoClient
from support.tls_pki import OPENSSL, TIMEOUT, Pki, ready_ports, tls_connect, wait_log

MOSQUITTO_PUB = shutil.which("mosquitto_pub")


def replace_file(path, source=None, text=None):
    """Writes the new content beside `path` and renames it over (never a half-written file)."""
    tmp = path + ".new"
    if source is not None:
        shutil.copyfile(source, tmp)
    else:
        with open(tmp, "w") as f:
            f.write(text)
    os.replace(tmp, path)


@unittest.skipUnless(OPENSSL and MOSQUITTO_PUB, "needs openssl and mosquitto-clients")
class TlsReloadTest(unittest.TestCase):
    """One listener requiring client certificates. First generation: CA `ca` signs the server
    certificate and the clients'. Second: CA `new_ca` does."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="edgemq-tls-reload-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.pki = Pki(self.dir)
        self.pki.make_ca("new_ca", "edgemq second CA")
        self.new_ca = self.pki.path("new_ca.crt")
        self.new_server = self.pki.leaf("server2", "localhost-2", "new_ca", days="2", server=True)
        self.bob = self.pki.leaf("bob", "bob", "new_ca", days="2")
        # The files the daemon is configured with, first generation.
        self.live_cert, self.live_key, self.live_ca = (os.path.join(self.dir, n)
                                                        for n in ("live.crt", "live.key", "clients.crt"))
        replace_file(self.live_cert, self.pki.server[0])
        replace_file(self.live_key, self.pki.server[1])
        replace_file(self.live_ca, self.pki.ca)
        cfg = {"listeners": ["127.0.0.1:0", {"address": "mqtts://127.0.0.1:0", "tls": {
            "cert": self.live_cert, "key": self.live_key, "client_ca": self.live_ca, "require_client_cert": True}}]}
        self.daemon = EdgemqDaemon(config=cfg, listen=None)
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        self.port = ready_ports(self.daemon)[1][1]
        self.listener = "mqtts://127.0.0.1:%d" % self.port

    def sighup(self, expect):
        """SIGHUP, then the reload's log line for this listener containing `expect`."""
        mark = len(self.daemon.stdout.lines)
        self.daemon.send_signal(signal.SIGHUP)
        line = wait_log(self.daemon, "reload: listener " + self.listener, after=mark)
        self.assertIn(expect, line)
        self.assertTrue(self.daemon.alive())
        return line

    def kept_client(self):
        c = PahoClient("127.0.0.1", self.port, version=5)
        c.client.tls_set(ca_certs=self.pki.ca, certfile=self.pki.client[0], keyfile=self.pki.client[1])
        self.addCleanup(c.close)
        c.connect()
        self.assertEqual(c.subscribe("reload/t", 1), [1])
        return c

    def round_trip(self, c, payload):
        c.publish("reload/t", payload, qos=1)
        self.assertEqual(c.get().payload, payload)

    def assert_refused_by_server(self, cafile, cert):
        # TLS 1.2: the server's alert ends the client's own handshake, so the refusal is certain.
        try:
            got = tls_connect(self.port, cafile=cafile, cert=cert, max_version=ssl.TLSVersion.TLSv1_2)
        except (ssl.SSLError, ConnectionError):
            return
        self.assertNotEqual(got[:1], b"\x20", "the server accepted the certificate")

    def test_new_certificates_for_new_connections_and_live_ones_stay(self):
        kept = self.kept_client()
        self.assertEqual(tls_connect(self.port, cafile=self.pki.ca, cert=self.pki.client), b"\x20\x02\x00\x00")

        replace_file(self.live_cert, self.new_server[0])
        replace_file(self.live_key, self.new_server[1])
        replace_file(self.live_ca, self.new_ca)
        line = self.sighup("loaded; new connections use them")
        self.assertIn("CN=localhost-2", line)
        self.assertIn("client CA '%s'" % self.live_ca, line)

        # The connection made before the reload is still there and works both ways.
        self.round_trip(kept, b"after reload")
        # New connections: the new server certificate, and the new client CA.
        self.assertEqual(tls_connect(self.port, cafile=self.new_ca, cert=self.bob), b"\x20\x02\x00\x00")
        with self.assertRaises(ssl.SSLCertVerificationError):  # trusts only the old CA
            tls_connect(self.port, cafile=self.pki.ca, cert=self.pki.client)
        self.assert_refused_by_server(self.new_ca, self.pki.client)  # alice's CA is no longer trusted
        r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "--cafile", self.new_ca,
                            "--cert", self.bob[0], "--key", self.bob[1], "-t", "reload/t", "-m", "from bob", "-q", "1"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT + 5)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(kept.get().payload, b"from bob")

    def test_a_file_that_fails_to_load_keeps_the_previous_certificate(self):
        kept = self.kept_client()
        replace_file(self.live_cert, text="-----BEGIN CERTIFICATE-----\nnot base64 at all\n")
        line = self.sighup("keeping the previous TLS settings")
        self.assertIn("certificate '%s'" % self.live_cert, line)
        self.assertIn("[error]", line)
        # Still the first generation, for new and live connections.
        self.assertEqual(tls_connect(self.port, cafile=self.pki.ca, cert=self.pki.client), b"\x20\x02\x00\x00")
        self.round_trip(kept, b"still here")

        # A certificate and a key that do not belong together (the key not replaced yet).
        replace_file(self.live_cert, self.new_server[0])
        line = self.sighup("keeping the previous TLS settings")
        self.assertIn("key values mismatch", line)
        self.assertEqual(tls_connect(self.port, cafile=self.pki.ca, cert=self.pki.client), b"\x20\x02\x00\x00")

        # Once the key follows, the next SIGHUP takes both.
        replace_file(self.live_key, self.new_server[1])
        self.sighup("loaded; new connections use them")
        with self.assertRaises(ssl.SSLCertVerificationError):
            tls_connect(self.port, cafile=self.pki.ca, cert=self.pki.client)
        self.assertEqual(tls_connect(self.port, cafile=self.new_ca, cert=self.pki.client), b"\x20\x02\x00\x00")
        self.round_trip(kept, b"and still")


if __name__ == "__main__":
    unittest.main()
