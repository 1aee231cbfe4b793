"""A verified TLS client certificate as the client's identity (docs/security.md, "Client
certificates as identities"): a credential on listeners that refuse anonymous clients, its subject
CN the username (shown in the connect log line, escaped), end to end with mosquitto clients, paho
and Python's ssl module. Certificates are made with the `openssl` command in a temp dir."""

import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest

from support.edgemq_harness import EdgemqDaemon
from support.paho_helper import PahoClient
from support.tls_pki import OPENSSL, TIMEOUT, Pki, connect_packet, ready_ports, tls_connect, wait_log

MOSQUITTO_PUB = shutil.which("mosquitto_pub")
MOSQUITTO_SUB = shutil.which("mosquitto_sub")
ACCEPTED = b"\x20\x02\x00\x00"


class _WithPki(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix="edgemq-tls-id-")
        cls.pki = Pki(cls.dir)
        # A CN with an escape sequence that would clear the operator's terminal if logged raw.
        cls.mallory = cls.pki.leaf("mallory", None, "ca", days="2", subject="/CN=mal\x1b[2Jlory/O=edge plant 7")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)
        super().tearDownClass()

    def mosquitto(self, tool, port, args, cert=None):
        cmd = [tool, "-h", "127.0.0.1", "-p", str(port), "--cafile", self.pki.ca] + list(args)
        if cert:
            cmd += ["--cert", cert[0], "--key", cert[1]]
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT + 5)


@unittest.skipUnless(OPENSSL and MOSQUITTO_PUB and MOSQUITTO_SUB, "needs openssl and mosquitto-clients")
class RequiredClientCertificateBeyondLoopback(_WithPki):
    """`--listen mqtts://0.0.0.0:0 --tls-require-client-cert`, no password file, no
    --allow-anonymous: the certificate is the authentication."""

    def setUp(self):
        cert, key = self.pki.server
        self.daemon = EdgemqDaemon(listen=None, extra_args=[
            "--listen", "127.0.0.1:0", "--listen", "mqtts://0.0.0.0:0", "--tls-cert", cert, "--tls-key", key,
            "--tls-client-ca", self.pki.ca, "--tls-require-client-cert"])
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        self.port = ready_ports(self.daemon)[1][1]

    def test_a_client_with_a_certificate_gets_in_as_its_cn(self):
        mark = len(self.daemon.stdout.lines)
        r = self.mosquitto(MOSQUITTO_PUB, self.port, ["-i", "alice-pub", "-t", "id/a", "-m", "hi", "-q", "1"],
                           cert=self.pki.client)
        self.assertEqual(r.returncode, 0, r.stderr)
        line = wait_log(self.daemon, "client 'alice-pub' connected", after=mark)
        self.assertIn("with TLS client certificate CN 'alice' as user 'alice'", line)

    def test_a_username_sent_without_a_password_file_does_not_replace_the_cn(self):
        mark = len(self.daemon.stdout.lines)
        r = self.mosquitto(MOSQUITTO_PUB, self.port, ["-i", "alice-as-admin", "-u", "admin", "-P", "x", "-t", "id/b",
                                                      "-m", "hi"], cert=self.pki.client)
        self.assertEqual(r.returncode, 0, r.stderr)
        line = wait_log(self.daemon, "client 'alice-as-admin' connected", after=mark)
        self.assertIn("as user 'alice'", line)

    def test_a_client_without_a_certificate_is_refused_at_the_handshake(self):
        r = self.mosquitto(MOSQUITTO_PUB, self.port, ["-t", "id/c", "-m", "no cert"])
        self.assertNotEqual(r.returncode, 0, r.stdout)
        # TLS 1.2: the refusal ends the client's handshake, before any MQTT byte.
        with self.assertRaisesRegex(ssl.SSLError, "(?i)handshake.failure|certificate.required"):
            tls_connect(self.port, cafile=self.pki.ca, max_version=ssl.TLSVersion.TLSv1_2)
        wait_log(self.daemon, "TLS handshake failed: peer did not return a certificate")

    def test_the_cn_is_logged_escaped(self):
        mark = len(self.daemon.stdout.lines)
        r = self.mosquitto(MOSQUITTO_PUB, self.port, ["-i", "mallory", "-t", "id/d", "-m", "x"], cert=self.mallory)
        self.assertEqual(r.returncode, 0, r.stderr)
        line = wait_log(self.daemon, "client 'mallory' connected", after=mark)
        self.assertIn("CN 'mal\\x1B[2Jlory'", line)
        self.assertNotIn("\x1b", "\n".join(self.daemon.stdout.lines[mark:]))


@unittest.skipUnless(OPENSSL and MOSQUITTO_PUB and MOSQUITTO_SUB, "needs openssl and mosquitto-clients")
class OptionalClientCertificateWithoutAnonymous(_WithPki):
    """A listener with a client CA that does not require certificates, and anonymous clients
    refused: a certificate is a credential, its absence (without a username) is not."""

    def setUp(self):
        cert, key = self.pki.server
        cfg = {"listeners": ["127.0.0.1:0", {"address": "mqtts://127.0.0.1:0", "allow_anonymous": False, "tls": {
            "cert": cert, "key": key, "client_ca": self.pki.ca}}]}
        self.daemon = EdgemqDaemon(config=cfg, listen=None)
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        self.port = ready_ports(self.daemon)[1][1]

    def test_with_a_certificate_a_client_connects(self):
        self.assertEqual(tls_connect(self.port, cafile=self.pki.ca, cert=self.pki.client), ACCEPTED)
        c = PahoClient("127.0.0.1", self.port, version=5)
        c.client.tls_set(ca_certs=self.pki.ca, certfile=self.pki.client[0], keyfile=self.pki.client[1])
        self.addCleanup(c.close)
        c.connect()
        self.assertEqual(c.subscribe("id/opt", 1), [1])
        r = self.mosquitto(MOSQUITTO_PUB, self.port, ["-t", "id/opt", "-m", "by cert", "-q", "1"],
                           cert=self.pki.client)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(c.get().payload, b"by cert")

    def test_without_certificate_or_username_not_authorized(self):
        self.assertEqual(tls_connect(self.port, cafile=self.pki.ca, version=5), b"\x20\x03\x00\x87")
        self.assertEqual(tls_connect(self.port, cafile=self.pki.ca, version=4), b"\x20\x02\x00\x05")
        r = self.mosquitto(MOSQUITTO_PUB, self.port, ["-t", "id/opt", "-m", "anonymous"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not authorised", r.stdout + r.stderr)
        wait_log(self.daemon, "no username and anonymous clients not allowed")

    def test_a_certificate_from_another_ca_is_refused(self):
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            got = tls_connect(self.port, cafile=self.pki.ca, cert=self.pki.stranger,
                              max_version=ssl.TLSVersion.TLSv1_2)
            self.fail("accepted: %r" % got)

    def test_the_plain_listener_keeps_its_own_rule(self):
        # The plain listener of the same daemon still lets anonymous clients in: per listener.
        plain = ready_ports(self.daemon)[0][1]
        with socket.create_connection(("127.0.0.1", plain), timeout=TIMEOUT) as s:
            s.sendall(connect_packet("plain-anon"))
            self.assertEqual(s.recv(4), ACCEPTED)


if __name__ == "__main__":
    unittest.main()
