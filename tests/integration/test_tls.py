"""TLS listeners (docs/security.md, "TLS"; ADR 0009): mqtts:// URLs, server certificates, client
certificates (mTLS), with real clients (mosquitto_pub/mosquitto_sub with --cafile/--cert/--key,
paho with tls_set, Python's ssl module for the refusals). Certificates are made here with the
`openssl` command in a temp dir."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest

from support.constants import require_program
from support.edgemq_harness import DaemonTestCase, EdgemqDaemon, run_edgemq
from support.paho_helper import PahoClient
from support.tls_pki import OPENSSL, TIMEOUT, Pki, connect_packet, ready_ports, tls_connect, wait_log

MOSQUITTO_PUB = shutil.which("mosquitto_pub")
MOSQUITTO_SUB = shutil.which("mosquitto_sub")


@unittest.skipUnless(OPENSSL and MOSQUITTO_PUB and MOSQUITTO_SUB, "needs openssl and mosquitto-clients")
class TlsListeners(DaemonTestCase):
    """One daemon: a plain listener, an mqtts listener (server certificate only) and an mqtts
    listener that requires client certificates from the test CA."""

    @classmethod
    def setUpClass(cls):
        cls.pki_dir = tempfile.mkdtemp(prefix="edgemq-tls-")
        cls.pki = Pki(cls.pki_dir)
        cert, key = cls.pki.server
        cls.config = {"listeners": [
            "127.0.0.1:0",
            {"address": "mqtts://127.0.0.1:0", "tls": {"cert": cert, "key": key}},
            {"address": "mqtts://127.0.0.1:0",
             "tls": {"cert": cert, "key": key, "client_ca": cls.pki.ca, "require_client_cert": True}},
        ]}
        unittest.TestCase.setUpClass()
        # The listeners come from the file: no --listen (it would replace them).
        cls.daemon = EdgemqDaemon(config=cls.config, listen=None).start()
        ports = ready_ports(cls.daemon)
        assert [t for t, _ in ports] == [False, True, True], cls.daemon.ready_line
        cls.plain_port, cls.tls_port, cls.mtls_port = [p for _, p in ports]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.pki_dir, ignore_errors=True)

    def paho_tls(self, port, cert=None, version=4):
        c = PahoClient("127.0.0.1", port, version=version)
        kw = {"certfile": cert[0], "keyfile": cert[1]} if cert else {}
        c.client.tls_set(ca_certs=self.pki.ca, **kw)
        self.track(c)
        return c

    def mosquitto(self, tool, port, args, cert=None):
        cmd = [tool, "-h", "127.0.0.1", "-p", str(port), "--cafile", self.pki.ca] + list(args)
        if cert:
            cmd += ["--cert", cert[0], "--key", cert[1]]
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT + 5)

    def test_mosquitto_pub_and_sub_over_tls(self):
        topic = self.unique("tls/mosq")
        pub = self.mosquitto(MOSQUITTO_PUB, self.tls_port, ["-t", topic, "-m", "over tls", "-q", "1", "-r"])
        self.assertEqual(pub.returncode, 0, pub.stderr)
        sub = self.mosquitto(MOSQUITTO_SUB, self.tls_port, ["-t", topic, "-C", "1", "-W", "10"])
        self.assertEqual((sub.returncode, sub.stdout), (0, "over tls\n"), sub.stderr)

    def test_mosquitto_with_client_certificate(self):
        topic = self.unique("tls/mtls")
        pub = self.mosquitto(MOSQUITTO_PUB, self.mtls_port, ["-t", topic, "-m", "mutual", "-q", "1", "-r"],
                             cert=self.pki.client)
        self.assertEqual(pub.returncode, 0, pub.stderr)
        sub = self.mosquitto(MOSQUITTO_SUB, self.mtls_port, ["-t", topic, "-C", "1", "-W", "10"], cert=self.pki.client)
        self.assertEqual((sub.returncode, sub.stdout), (0, "mutual\n"), sub.stderr)

    def test_paho_qos1_large_payload_and_many_messages(self):
        topic = self.unique("tls/paho")
        sub = self.paho_tls(self.tls_port)
        sub.connect()
        self.assertEqual(sub.subscribe(topic, 1), [1])
        pub = self.paho_tls(self.tls_port)
        pub.connect()
        big = os.urandom(100 * 1024)
        pub.publish(topic, big, qos=1)
        infos = [pub.client.publish(topic, b"m%d" % i, 1) for i in range(1000)]
        for info in infos:
            info.wait_for_publish(TIMEOUT)
            self.assertTrue(info.is_published())
        first = sub.get()
        self.assertEqual((first.qos, first.payload), (1, big))
        self.assertEqual([sub.get().payload for _ in range(1000)], [b"m%d" % i for i in range(1000)])

    def test_slow_tls_reader_gets_every_byte(self):
        # The subscriber stops reading, so the daemon's socket buffer fills: its writes go partly
        # now and partly by the asynchronous path (records already encrypted must not be resent).
        import paho.mqtt.client as mqtt
        topic = self.unique("tls/slow")
        got, subscribed = [], threading.Event()
        done = threading.Event()
        sub = mqtt.Client("slow-" + topic.replace("/", "-"), protocol=mqtt.MQTTv311)
        sub.tls_set(ca_certs=self.pki.ca)
        sub.on_subscribe = lambda *a: subscribed.set()
        sub.on_message = lambda c, u, m: (got.append(bytes(m.payload)), len(got) == 120 and done.set())
        sub.connect("127.0.0.1", self.tls_port)
        sub.subscribe(topic, 1)
        while not subscribed.is_set():
            sub.loop(0.1)
        pub = self.paho_tls(self.tls_port)
        pub.connect()
        payloads = [bytes([i]) * (100 * 1024) for i in range(120)]  # 12 MB: more than the socket buffers
        for p in payloads:
            pub.publish(topic, p, qos=1)
        sub.loop_start()
        try:
            self.assertTrue(done.wait(TIMEOUT), "got %d of 120" % len(got))
            self.assertEqual(got, payloads)
        finally:
            sub.disconnect()
            sub.loop_stop()

    def test_tls_and_plain_listeners_in_one_daemon(self):
        topic = self.unique("tls/mixed")
        plain = PahoClient("127.0.0.1", self.plain_port, version=5)
        self.track(plain)
        plain.connect()
        plain.subscribe(topic, 1)
        tls = self.paho_tls(self.mtls_port, cert=self.pki.client, version=5)
        tls.connect()
        tls.publish(topic, b"from mtls", qos=1)
        self.assertEqual(plain.get().payload, b"from mtls")

    def test_unknown_ca_refused_by_the_client(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            tls_connect(self.tls_port, cafile=self.pki.other_ca)

    def expect_refused(self, port, cert):
        # TLS 1.3: the server checks the client's certificate after the client's handshake has
        # finished, so the refusal (an alert, or the connection closed) arrives on the first read.
        try:
            got = tls_connect(port, cafile=self.pki.ca, cert=cert)
        except (ssl.SSLError, ConnectionError) as e:
            return str(e)
        self.assertEqual(got, b"", "got a CONNACK without a valid client certificate")
        return "closed"

    def test_client_without_certificate_refused_when_required(self):
        why = self.expect_refused(self.mtls_port, None)
        self.assertNotIn("CONNACK", why)
        self.assertEqual(tls_connect(self.mtls_port, cafile=self.pki.ca, cert=self.pki.client)[:2], b"\x20\x02")

    def test_expired_client_certificate_refused(self):
        # Valid 2020-01-01 to 2020-01-02 (signed by the right CA with `openssl ca`): refused for
        # its dates alone, which the daemon's log line names.
        mark = len(self.daemon.stdout.lines)
        why = self.expect_refused(self.mtls_port, self.pki.expired)
        if why != "closed":
            self.assertIn("EXPIRED", why.upper())
        line = wait_log(self.daemon, "certificate has expired", after=mark)
        self.assertIn("TLS handshake failed: certificate verify failed", line)
        # Forcing TLS 1.2, the client reads the server's alert during its own handshake.
        with self.assertRaisesRegex(ssl.SSLError, "(?i)certificate.expired"):
            tls_connect(self.mtls_port, cafile=self.pki.ca, cert=self.pki.expired, max_version=ssl.TLSVersion.TLSv1_2)

    def test_certificate_from_unknown_ca_refused(self):
        self.expect_refused(self.mtls_port, self.pki.stranger)

    def test_plain_mqtt_on_the_tls_port_is_disconnected(self):
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=TIMEOUT) as s:
            s.sendall(connect_packet("plain-on-tls"))
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
        self.assertFalse(data.startswith(b"\x20"), "a CONNACK in plain text on the TLS port")
        self.assertTrue(self.daemon.alive())
        self.assertEqual(tls_connect(self.tls_port, cafile=self.pki.ca)[:2], b"\x20\x02")


@unittest.skipUnless(OPENSSL and MOSQUITTO_PUB and MOSQUITTO_SUB, "needs openssl and mosquitto-clients")
class TlsVersionsCiphersAndDates(unittest.TestCase):
    """The oldest TLS version (--tls-min-version / "min_version"), the TLS 1.2 cipher list
    (--tls-ciphers / "ciphers") and certificate dates, as real clients meet them."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="edgemq-tls-ver-")
        cls.pki = Pki(cls.dir)
        cls.expired_server = cls.pki.dated_leaf("expired_server", "localhost", "ca", "20200101000000Z",
                                                "20200102000000Z", server=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def daemon(self, *tls_args):
        cert, key = self.pki.server
        d = EdgemqDaemon(extra_args=["--listen", "mqtts://127.0.0.1:0", "--tls-cert", cert, "--tls-key", key]
                         + list(tls_args))
        d.start()
        self.addCleanup(d.stop)
        return d, ready_ports(d)[1][1]

    def mosquitto_pub(self, port, *args):
        return subprocess.run([MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port), "--cafile", self.pki.ca, "-t", "v",
                               "-m", "x"] + list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT + 5)

    def test_min_version_1_3_refuses_a_tls_1_2_client(self):
        d, port = self.daemon("--tls-min-version", "1.3")
        with self.assertRaisesRegex(ssl.SSLError, "(?i)protocol.version"):
            tls_connect(port, cafile=self.pki.ca, max_version=ssl.TLSVersion.TLSv1_2)
        # (mosquitto's --tls-version tlsv1.2 still offers 1.3, so only Python's client can force 1.2.)
        self.assertEqual(tls_connect(port, cafile=self.pki.ca), b"\x20\x02\x00\x00")  # TLS 1.3
        self.assertEqual(self.mosquitto_pub(port, "--tls-version", "tlsv1.3").returncode, 0)
        self.assertIn("unsupported protocol", d.stdout.text())

    def test_default_min_version_takes_tls_1_2(self):
        _, port = self.daemon()
        self.assertEqual(tls_connect(port, cafile=self.pki.ca, max_version=ssl.TLSVersion.TLSv1_2),
                         b"\x20\x02\x00\x00")

    def test_cipher_list_is_honoured_for_tls_1_2(self):
        d, port = self.daemon("--tls-ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384")
        tls12 = ssl.TLSVersion.TLSv1_2
        with self.assertRaisesRegex(ssl.SSLError, "(?i)handshake.failure"):
            tls_connect(port, cafile=self.pki.ca, max_version=tls12, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
        wait_log(d, "no shared cipher")
        self.assertEqual(tls_connect(port, cafile=self.pki.ca, max_version=tls12,
                                     ciphers="ECDHE-ECDSA-AES256-GCM-SHA384"), b"\x20\x02\x00\x00")
        # TLS 1.3 keeps OpenSSL's suites: a default client gets in.
        self.assertEqual(self.mosquitto_pub(port).returncode, 0)

    def test_min_version_and_ciphers_from_the_config_file(self):
        cert, key = self.pki.server
        cfg = {"listeners": ["127.0.0.1:0", {"address": "mqtts://127.0.0.1:0", "tls": {
            "cert": cert, "key": key, "min_version": "1.3", "ciphers": "ECDHE-ECDSA-AES256-GCM-SHA384"}}]}
        with EdgemqDaemon(config=cfg, listen=None) as d:
            port = ready_ports(d)[1][1]
            with self.assertRaises(ssl.SSLError):
                tls_connect(port, cafile=self.pki.ca, max_version=ssl.TLSVersion.TLSv1_2)
            self.assertEqual(tls_connect(port, cafile=self.pki.ca), b"\x20\x02\x00\x00")

    def test_bad_version_and_cipher_flags_exit_2(self):
        cert, key = self.pki.server
        common = ["--data-dir", os.path.join(self.dir, "data"), "--listen", "mqtts://127.0.0.1:0", "--tls-cert", cert,
                  "--tls-key", key]
        r = run_edgemq(common + ["--tls-min-version", "1.1"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--tls-min-version: must be 1.2 or 1.3, got '1.1'", r.stderr)
        r = run_edgemq(common + ["--tls-ciphers", "NO-SUCH-CIPHER"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("ciphers 'NO-SUCH-CIPHER': no cipher match", r.stderr)

    def test_expired_server_certificate_is_refused_by_mosquitto(self):
        cert, key = self.expired_server
        d = EdgemqDaemon(extra_args=["--listen", "mqtts://127.0.0.1:0", "--tls-cert", cert, "--tls-key", key])
        d.start()
        self.addCleanup(d.stop)
        port = ready_ports(d)[1][1]
        self.assertIn("the certificate is not valid now", d.stdout.text())  # said at start, not refused
        r = subprocess.run([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(port), "--cafile", self.pki.ca, "-t", "x",
                            "-C", "1", "-W", "5"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=TIMEOUT + 5)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("TLS error", r.stderr)
        with self.assertRaisesRegex(ssl.SSLCertVerificationError, "certificate has expired"):
            tls_connect(port, cafile=self.pki.ca)


@unittest.skipUnless(OPENSSL, "needs openssl")
class TlsConfiguration(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="edgemq-tls-cfg-")
        cls.pki = Pki(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_edgemq(self, *args):
        return run_edgemq(["--data-dir", os.path.join(self.dir, "data")] + list(args))

    def test_tls_listener_without_certificate(self):
        r = self.run_edgemq("--listen", "mqtts://127.0.0.1:0")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("mqtts://127.0.0.1:0", r.stderr)
        self.assertIn("--tls-cert", r.stderr)

    def test_bad_certificate_and_key_files(self):
        bogus = os.path.join(self.dir, "bogus.pem")
        with open(bogus, "w") as f:
            f.write("not a certificate\n")
        cert, key = self.pki.server
        for args, named in ((["--tls-cert", bogus, "--tls-key", key], bogus),
                            (["--tls-cert", cert, "--tls-key", bogus], bogus),
                            (["--tls-cert", cert, "--tls-key", self.pki.client[1]], self.pki.client[1]),
                            (["--tls-cert", os.path.join(self.dir, "missing.pem"), "--tls-key", key], "missing.pem")):
            r = self.run_edgemq("--listen", "mqtts://127.0.0.1:0", *args)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(named, r.stderr)

    def test_config_tls_listener_without_key(self):
        path = os.path.join(self.dir, "nokey.json")
        with open(path, "w") as f:
            f.write('{"listeners": [{"address": "mqtts://127.0.0.1:0", "tls": {"cert": "%s"}}]}' % self.pki.server[0])
        r = self.run_edgemq("--config", path)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("/listeners/0/tls", r.stderr)

    def test_mtls_listener_beyond_loopback_needs_no_allow_anonymous(self):
        cert, key = self.pki.server
        common = ["--tls-cert", cert, "--tls-key", key, "--tls-client-ca", self.pki.ca]
        r = self.run_edgemq("--listen", "mqtts://0.0.0.0:0", *common)
        self.assertEqual(r.returncode, 2, r.stderr)  # server certificate only: anyone could connect
        # With required client certificates the certificate is the authentication.
        cfg = {"listeners": ["127.0.0.1:0", {"address": "mqtts://0.0.0.0:0", "tls": {
            "cert": cert, "key": key, "client_ca": self.pki.ca, "require_client_cert": True}}]}
        with EdgemqDaemon(config=cfg, listen=None) as d:
            tls_port = ready_ports(d)[1][1]
            self.assertEqual(tls_connect(tls_port, cafile=self.pki.ca, cert=self.pki.client)[:2], b"\x20\x02")
    def test_client_certificate_passes_where_a_password_is_needed(self):
        # With a password file, anonymous clients are refused on the plain listener, while the
        # require_client_cert listener lets a client with a certificate in without a username.
        passwd = os.path.join(self.dir, "passwd")
        r = subprocess.run([require_program("EDGEMQ_CLI"), "passwd", passwd, "bob"], input="pw\n",
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        cert, key = self.pki.server
        cfg = {"password_file": passwd, "listeners": ["127.0.0.1:0", {"address": "mqtts://127.0.0.1:0", "tls": {
            "cert": cert, "key": key, "client_ca": self.pki.ca, "require_client_cert": True}}]}
        with EdgemqDaemon(config=cfg, listen=None) as d:
            (_, plain_port), (_, tls_port) = ready_ports(d)
            self.assertEqual(tls_connect(tls_port, cafile=self.pki.ca, cert=self.pki.client), b"\x20\x02\x00\x00")
            with socket.create_connection(("127.0.0.1", plain_port), timeout=TIMEOUT) as s:
                s.sendall(connect_packet("anonymous"))
                self.assertEqual(s.recv(4), b"\x20\x02\x00\x05")  # not authorized


if __name__ == "__main__":
    unittest.main()
