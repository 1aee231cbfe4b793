"""The admin server (docs/operations.md) against a real daemon: probes, /metrics through promtool
with numbers that move when mosquitto_pub publishes, the bearer token, the client list and
disconnect seen by a real paho client, errors, the safe default (beyond loopback without a token
the daemon refuses to start). Every response is validated against docs/openapi.yaml."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import jsonschema

from support import openapi
from support import rawmqtt as raw
from support.constants import STOP_TIMEOUT, require_program
from support.admin_daemon import AdminDaemon
from support.edgemq_harness import EdgemqDaemon, run_edgemq
from support.paho_helper import PahoClient

MOSQUITTO_PUB = shutil.which("mosquitto_pub")
PROMTOOL = shutil.which("promtool")
TIMEOUT = 10.0
TOKEN = "t0ken-for-the-admin-test"
OPENSSL = shutil.which("openssl")


def metric(text, name, labels=""):
    """The value of one series in Prometheus text (labels as rendered, e.g. 'qos="1"')."""
    series = name + ("{%s}" % labels if labels else "")
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split(" ")[1]) if "." in line.split(" ")[1] else int(line.split(" ")[1])
    raise AssertionError("no series %s in:\n%s" % (series, text))


class AdminTest(unittest.TestCase):
    """One daemon with --admin on loopback and a token file, shared by the tests."""

    @classmethod
    def setUpClass(cls):
        cls.admin = AdminDaemon(TOKEN, "edgemq-admin-", config={"sys_interval_s": 1})
        cls.daemon, cls.admin_port = cls.admin.daemon, cls.admin.admin_port

    @classmethod
    def tearDownClass(cls):
        cls.admin.stop()

    def request(self, method, path, token=TOKEN, headers=None, validate=True):
        """(status, headers, body text); the response is checked against the OpenAPI document."""
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=TIMEOUT)
        try:
            h = dict(headers or {})
            if token is not None:
                h["Authorization"] = "Bearer " + token
            conn.request(method, path, headers=h)
            r = conn.getresponse()
            body = r.read().decode("utf-8")
            if validate:
                openapi.validate(method, path, r.status, r.getheader("Content-Type", ""), body)
            return r.status, r, body
        finally:
            conn.close()

    def get_json(self, path, status=200):
        code, _, body = self.request("GET", path)
        self.assertEqual(code, status, body)
        return json.loads(body)

    def metrics(self):
        code, r, body = self.request("GET", "/metrics")
        self.assertEqual(code, 200, body)
        self.assertEqual(r.getheader("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        return body

    # ------------------------------------------------------------------ probes
    def test_healthz_and_readyz(self):
        self.assertEqual(self.get_json("/healthz"), {"status": "ok"})
        ready = self.get_json("/readyz")
        self.assertEqual(ready, {"ready": True, "checks": {"started": True, "persistence": True, "statestore": True}})
        # Probes need no token (they tell only up or down).
        code, _, _ = self.request("GET", "/healthz", token=None)
        self.assertEqual(code, 200)
        code, _, _ = self.request("GET", "/readyz", token=None)
        self.assertEqual(code, 200)

    # ------------------------------------------------------------------ token
    def test_token_required(self):
        for token in (None, "wrong", TOKEN + "x", TOKEN[:-1]):
            for path in ("/metrics", "/api/v1/broker", "/api/v1/clients"):
                code, r, body = self.request("GET", path, token=token)
                self.assertEqual(code, 401, "%s with token %r" % (path, token))
                self.assertEqual(r.getheader("WWW-Authenticate"), "Bearer")
                self.assertEqual(json.loads(body)["code"], "unauthorized")

    def test_readyz_is_503_while_the_daemon_shuts_down(self):
        # A subscriber that never reads holds the shutdown in its drain (its DISCONNECT cannot be
        # written) for up to shutdown_timeout_ms; meanwhile the daemon must not look ready.
        own = AdminDaemon(TOKEN, "edgemq-admin-stop-", config={"shutdown_timeout_ms": 6000})
        self.addCleanup(own.daemon.cleanup)
        slow = raw.RawClient("127.0.0.1", own.daemon.port)
        self.addCleanup(slow.close)
        slow.connect("admin-slow")
        slow.subscribe("admin/flood")
        pub = raw.RawClient("127.0.0.1", own.daemon.port)
        self.addCleanup(pub.close)
        pub.connect("admin-flood")
        for _ in range(40):
            pub.publish("admin/flood", b"z" * 500_000, qos=1)  # acknowledged: routed to `slow`

        def status(path):
            conn = http.client.HTTPConnection("127.0.0.1", own.admin_port, timeout=TIMEOUT)
            try:
                conn.request("GET", path)
                return conn.getresponse().status
            finally:
                conn.close()

        self.assertEqual(status("/readyz"), 200)
        own.daemon.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        code = 200
        while code == 200 and time.monotonic() < deadline and own.daemon.alive():
            code = status("/readyz")
        self.assertEqual(code, 503, "still ready after SIGTERM")
        self.assertEqual(status("/healthz"), 200)  # alive, only not ready
        slow.close()  # let the drain finish
        self.assertEqual(own.daemon.wait(timeout=STOP_TIMEOUT), 0)

    # ------------------------------------------------------------------ metrics
    @unittest.skipIf(PROMTOOL is None, "promtool (Debian package prometheus) not installed")
    def test_metrics_pass_promtool(self):
        text = self.metrics()
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, "promtool check metrics:\n%s%s\n---\n%s" % (r.stdout, r.stderr, text))

    @unittest.skipIf(MOSQUITTO_PUB is None, "mosquitto_pub not installed")
    def test_queue_depth_gauges_count_an_offline_sessions_backlog(self):
        c = PahoClient("127.0.0.1", self.daemon.port, client_id="admin-queue-1", clean=False, session_expiry=600)
        c.connect()
        c.subscribe("admin/queue", 1)
        c.disconnect()
        self.addCleanup(lambda: self.request("DELETE", "/api/v1/sessions/admin-queue-1", validate=False))
        before = self.metrics()
        for _ in range(4):
            r = subprocess.run([MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(self.daemon.port), "-q", "1", "-t",
                                "admin/queue", "-m", "y" * 50], stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0, r.stderr)
        after = self.metrics()
        self.assertEqual(metric(after, "edgemq_queued_messages") - metric(before, "edgemq_queued_messages"), 4)
        # Topic and payload: 4 x (11 + 50).
        self.assertEqual(metric(after, "edgemq_queued_bytes") - metric(before, "edgemq_queued_bytes"), 4 * 61)
        self.assertGreaterEqual(metric(after, "edgemq_inflight_messages"), 0)

    @unittest.skipIf(MOSQUITTO_PUB is None, "mosquitto_pub not installed")
    def test_metrics_move_with_publishes(self):
        before = self.metrics()
        payload = "x" * 100
        for _ in range(3):
            r = subprocess.run([MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(self.daemon.port), "-q", "1", "-t",
                                "admin/metrics", "-m", payload], stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0, r.stderr)
        after = self.metrics()
        qos1 = 'qos="1"'
        self.assertEqual(metric(after, "edgemq_messages_received_total", qos1) -
                         metric(before, "edgemq_messages_received_total", qos1), 3)
        self.assertEqual(metric(after, "edgemq_payload_received_bytes_total") -
                         metric(before, "edgemq_payload_received_bytes_total"), 300)
        self.assertEqual(metric(after, "edgemq_connections_accepted_total") -
                         metric(before, "edgemq_connections_accepted_total"), 3)
        # The REST counters are the $SYS numbers, the same registry /metrics reads.
        counters = self.get_json("/api/v1/broker")["counters"]
        self.assertGreaterEqual(counters["messages/received/qos1"], metric(after, "edgemq_messages_received_total",
                                                                           qos1))
        self.assertEqual(metric(after, "edgemq_persistence_healthy"), 1)

    @unittest.skipIf(MOSQUITTO_PUB is None, "mosquitto_pub not installed")
    def test_latency_histograms_count_commits_and_requests(self):
        before = self.metrics()
        # A QoS 1 retained message is journaled: at least one more group commit.
        r = subprocess.run([MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(self.daemon.port), "-q", "1", "-r", "-t",
                            "admin/histogram", "-m", "x"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        # One state store request through edgemq-cli.
        r = subprocess.run([require_program("EDGEMQ_CLI"), "--port", str(self.daemon.port), "state", "set",
                            "admin-key", "v"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        after = self.metrics()
        for name in ("edgemq_persistence_commit_duration_seconds", "edgemq_statestore_request_duration_seconds"):
            self.assertGreater(metric(after, name + "_count"), metric(before, name + "_count"), name)
            self.assertEqual(metric(after, name + "_bucket", 'le="+Inf"'), metric(after, name + "_count"))

    @unittest.skipIf(MOSQUITTO_PUB is None, "mosquitto_pub not installed")
    def test_sys_and_metrics_show_the_same_numbers(self):
        r = subprocess.run([MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(self.daemon.port), "-q", "2", "-t",
                            "admin/sys", "-m", "abc"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        want = {"$SYS/broker/messages/received/qos2": ("edgemq_messages_received_total", 'qos="2"'),
                "$SYS/broker/bytes/received": ("edgemq_payload_received_bytes_total", "")}
        sub = PahoClient("127.0.0.1", self.daemon.port)
        sub.connect()
        try:
            before = self.metrics()
            expected = {topic: metric(before, *series) for topic, series in want.items()}
            self.assertGreaterEqual(expected["$SYS/broker/messages/received/qos2"], 1)
            for topic in want:
                sub.subscribe(topic)
            # The retained values arrive at once; read on until a live refresh (every second, not
            # retained on delivery) has come too, and the values match.
            seen, refreshed = {}, False
            deadline = time.monotonic() + TIMEOUT
            while (seen != expected or not refreshed) and time.monotonic() < deadline:
                m = sub.get(timeout=max(0.1, deadline - time.monotonic()))
                seen[m.topic] = int(m.payload)
                refreshed = refreshed or not m.retain
            self.assertTrue(refreshed, "no $SYS refresh within %.0fs" % TIMEOUT)
            self.assertEqual(seen, expected)
            # $SYS refreshes (its own retained publishes) do not count as received messages.
            self.assertEqual(metric(self.metrics(), *want["$SYS/broker/messages/received/qos2"]),
                             expected["$SYS/broker/messages/received/qos2"])
        finally:
            sub.close()

    # ------------------------------------------------------------------ REST
    def test_broker_info(self):
        info = self.get_json("/api/v1/broker")
        self.assertEqual(info["listeners"], ["127.0.0.1:%d" % self.daemon.port])
        self.assertRegex(info["version"], r"^\d+\.\d+\.\d+")

    def test_client_list_and_disconnect(self):
        c = PahoClient("127.0.0.1", self.daemon.port, client_id="admin-dev/1 é")
        c.connect()
        try:
            page = self.get_json("/api/v1/clients?prefix=admin-dev")
            self.assertEqual(len(page["clients"]), 1, page)
            client = page["clients"][0]
            self.assertEqual(client["client_id"], "admin-dev/1 é")
            self.assertEqual(client["protocol_version"], "5")
            self.assertIsNone(client["username"])
            self.assertEqual(client["listener"], "127.0.0.1:%d" % self.daemon.port)
            self.assertIsNone(page["next"])
            listener = 'listener="127.0.0.1:%d",protocol="5"' % self.daemon.port
            self.assertGreaterEqual(metric(self.metrics(), "edgemq_connections", listener), 1)

            path = "/api/v1/clients/admin-dev%2F1%20%C3%A9"
            code, _, body = self.request("DELETE", path)
            self.assertEqual(code, 204, body)
            self.assertTrue(c.disconnected.wait(TIMEOUT), "the client was not disconnected")
            self.assertEqual(self.get_json("/api/v1/clients?prefix=admin-dev")["clients"], [])
            code, _, body = self.request("DELETE", path)
            self.assertEqual(code, 404, body)
        finally:
            c.close()

    def test_disconnect_reason_is_administrative_action(self):
        c = raw.RawClient("127.0.0.1", self.daemon.port)
        try:
            c.connect("admin-raw-1")
            code, _, body = self.request("DELETE", "/api/v1/clients/admin-raw-1")
            self.assertEqual(code, 204, body)
            self.assertEqual([(p.type, p.reason) for p in c.read_until_closed()], [(raw.DISCONNECT, 0x98)])
        finally:
            c.close()

    def test_client_paging(self):
        clients = [PahoClient("127.0.0.1", self.daemon.port, client_id="admin-page-%d" % i, version=4)
                   for i in range(3)]
        try:
            for c in clients:
                c.connect()
            seen, after = [], ""
            for _ in range(5):
                page = self.get_json("/api/v1/clients?prefix=admin-page-&limit=2" + ("&after=" + after if after else ""))
                seen += [c["client_id"] for c in page["clients"]]
                self.assertTrue(all(c["protocol_version"] == "3.1.1" for c in page["clients"]))
                if page["next"] is None:
                    break
                after = page["next"]
            self.assertEqual(seen, ["admin-page-0", "admin-page-1", "admin-page-2"])
        finally:
            for c in clients:
                c.close()

    def test_errors(self):
        for method, path, status, code in (("GET", "/nope", 404, "not_found"),
                                           ("POST", "/metrics", 405, "method_not_allowed"),
                                           ("PUT", "/api/v1/clients/x", 405, "method_not_allowed"),
                                           ("GET", "/api/v1/clients?limit=0", 400, "bad_query"),
                                           ("GET", "/api/v1/clients?limit=x", 400, "bad_query"),
                                           ("GET", "/api/v1/clients?bogus=1", 400, "bad_query")):
            got, r, body = self.request(method, path)
            self.assertEqual(got, status, "%s %s: %s" % (method, path, body))
            self.assertEqual(json.loads(body)["code"], code)
            if status == 405:
                self.assertTrue(r.getheader("Allow"))

    def test_request_limits_and_garbage(self):
        code, _, body = self.request("GET", "/metrics", headers={"X-Big": "a" * 20000}, validate=False)
        self.assertEqual(code, 431, body)
        code, _, body = self.request("GET", "/" + "a" * 3000, validate=False)
        self.assertEqual(code, 414, body)
        # Not HTTP at all: a 400 and the connection closed; the server keeps serving.
        with socket.create_connection(("127.0.0.1", self.admin_port), timeout=TIMEOUT) as s:
            s.sendall(b"\x10\x20garbage\r\n\r\n")
            reply = s.recv(4096)
            self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply)
        self.assertEqual(self.get_json("/healthz"), {"status": "ok"})

    def test_openapi_document_schemas_are_valid(self):
        cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
        for name, schema in openapi.SPEC["components"]["schemas"].items():
            cls.check_schema(schema)
        self.assertTrue(openapi.SPEC["openapi"].startswith("3.1"))


class AdminStartupTest(unittest.TestCase):
    """The safe default and the token file: problems stop the daemon before it starts (exit 2)."""

    def test_beyond_loopback_without_token_refused(self):
        r = run_edgemq(["--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0", "--data-dir", "/nonexistent/x"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.strip(), "edgemq: --admin 'http://0.0.0.0:0': an admin server beyond loopback "
                                           "needs --admin-token-file")

    def test_beyond_loopback_in_config_without_token_refused(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "c.json")
            with open(cfg, "w") as f:
                json.dump({"admin": {"address": "http://0.0.0.0:0"}}, f)
            r = run_edgemq(["--config", cfg, "--data-dir", os.path.join(d, "data")])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("at /admin: admin server http://0.0.0.0:0 is beyond loopback", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "data")))

    def test_https_without_certificate_and_bad_addresses_refused(self):
        r = run_edgemq(["--admin", "https://127.0.0.1:0"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.strip(), "edgemq: --admin 'https://127.0.0.1:0': an https admin server needs "
                                           "--tls-cert and --tls-key")
        for arg, why in (("ftp://127.0.0.1:0", "expected http://HOST:PORT"),
                         ("127.0.0.1", "has no port")):
            r = run_edgemq(["--admin", arg])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--admin '%s': " % arg, r.stderr)
            self.assertIn(why, r.stderr)

    def test_token_file_problems_refused(self):
        with tempfile.TemporaryDirectory() as d:
            empty = os.path.join(d, "empty")
            open(empty, "w").close()
            for path, why in ((os.path.join(d, "missing"), "cannot be read"), (empty, "is empty")):
                r = run_edgemq(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--admin-token-file", path,
                                "--data-dir", os.path.join(d, "data")])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stderr.strip(), "edgemq: admin token file '%s': %s" % (path, why))

    def test_beyond_loopback_with_token_starts(self):
        with tempfile.TemporaryDirectory() as d:
            token = os.path.join(d, "token")
            with open(token, "w") as f:
                f.write(TOKEN)
            with EdgemqDaemon(extra_args=["--admin", "0.0.0.0:0", "--admin-token-file", token]) as daemon:
                self.assertRegex(daemon.ready_line, r"admin on http://0\.0\.0\.0:\d+")

    def test_no_admin_by_default(self):
        with EdgemqDaemon() as daemon:
            self.assertNotIn("admin", daemon.ready_line)


@unittest.skipUnless(OPENSSL, "needs openssl")
class HttpsAdminTest(unittest.TestCase):
    """--admin https:// with --tls-cert/--tls-key: the same API over TLS, plain HTTP refused."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="edgemq-admin-tls-")
        cls.cert, cls.key = os.path.join(cls.tmp, "admin.crt"), os.path.join(cls.tmp, "admin.key")
        r = subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", cls.key, "-out", cls.cert, "-days", "2", "-subj", "/CN=localhost",
                            "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr
        token_file = os.path.join(cls.tmp, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN)
        cls.daemon = EdgemqDaemon(extra_args=["--admin", "https://127.0.0.1:0", "--admin-token-file", token_file,
                                              "--tls-cert", cls.cert, "--tls-key", cls.key])
        cls.daemon.start()
        m = re.search(r"admin on https://127\.0\.0\.1:(\d+)", cls.daemon.ready_line)
        assert m, cls.daemon.ready_line
        cls.admin_port = int(m.group(1))

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daemon.stop(expect_rc=0)
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def https(self, method, path, token=TOKEN):
        ctx = ssl.create_default_context(cafile=self.cert)
        conn = http.client.HTTPSConnection("127.0.0.1", self.admin_port, timeout=TIMEOUT, context=ctx)
        try:
            conn.request(method, path, headers={"Authorization": "Bearer " + token} if token else {})
            r = conn.getresponse()
            body = r.read().decode("utf-8")
            openapi.validate(method, path, r.status, r.getheader("Content-Type", ""), body)
            return r.status, body
        finally:
            conn.close()

    def test_api_over_tls(self):
        self.assertEqual(self.https("GET", "/healthz", token=None), (200, '{"status":"ok"}'))
        self.assertEqual(self.https("GET", "/readyz", token=None)[0], 200)
        self.assertEqual(self.https("GET", "/metrics", token=None)[0], 401)
        code, body = self.https("GET", "/metrics")
        self.assertEqual(code, 200)
        self.assertIn("edgemq_build_info", body)
        code, body = self.https("GET", "/api/v1/broker")
        self.assertEqual(json.loads(body)["listeners"], ["127.0.0.1:%d" % self.daemon.port])

    def test_plain_http_gets_no_answer(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=TIMEOUT)
        try:
            with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine)):
                conn.request("GET", "/healthz")
                conn.getresponse()
        finally:
            conn.close()
        self.assertEqual(self.https("GET", "/healthz", token=None)[0], 200)

    def test_certificate_that_does_not_load_refused(self):
        r = run_edgemq(["--listen", "127.0.0.1:0", "--admin", "https://127.0.0.1:0", "--tls-cert", self.key,
                        "--tls-key", self.key, "--data-dir", os.path.join(self.tmp, "data2")])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("edgemq: admin server: certificate '%s': " % self.key, r.stderr)


if __name__ == "__main__":
    unittest.main()
