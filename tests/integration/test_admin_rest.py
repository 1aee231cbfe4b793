"""The admin REST API beyond the client list (docs/operations.md) against a real daemon: one
client's session with a real subscription, session delete, retained messages listed and
deleted as a new subscriber sees them, state store keys set over REST and read over MQTT,
reload, and device commands answered by a paho MQTT 5 responder. Every response is validated
against docs/openapi.yaml."""

import base64
import hashlib
import http.client
import threading
import time
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from support import openapi
from support.admin_daemon import ADMIN_RE, AdminDaemon
from support.edgemq_harness import EdgemqDaemon, run_edgemq
from support.paho_helper import PahoClient
from support.statestore_client import StateStoreClient, notify_set_payload, NOTIFY_DELETE

TIMEOUT = 10.0
TOKEN = "t0ken-for-the-rest-test"


def quote(s):
    return urllib.parse.quote(s, safe="")


class AdminRestTest(unittest.TestCase):
    """One daemon with --admin on loopback and a token file, shared by the tests."""

    @classmethod
    def setUpClass(cls):
        cls.admin = AdminDaemon(TOKEN, "edgemq-rest-")
        cls.daemon, cls.admin_port = cls.admin.daemon, cls.admin.admin_port

    @classmethod
    def tearDownClass(cls):
        cls.admin.stop()

    def request(self, method, path, body=None, content_type="application/json", timeout=TIMEOUT):
        """(status, parsed JSON body or None); the response is checked against the OpenAPI document."""
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=timeout)
        try:
            h = {"Authorization": "Bearer " + TOKEN}
            data = None
            if body is not None:
                data = body if isinstance(body, (bytes, str)) else json.dumps(body)
                h["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            text = r.read().decode("utf-8")
            openapi.validate(method, path, r.status, r.getheader("Content-Type", ""), text)
            return r.status, (json.loads(text) if text else None)
        finally:
            conn.close()

    def client(self, **kw):
        c = PahoClient("127.0.0.1", self.daemon.port, **kw)
        self.addCleanup(c.close)
        return c

    # ------------------------------------------------------------------ clients and sessions
    def test_client_detail_shows_a_real_subscription(self):
        c = self.client(client_id="rest-detail/1", clean=False, session_expiry=600)
        c.connect()
        c.subscribe("rest/detail/+", options=mqtt.SubscribeOptions(qos=1, noLocal=True, retainHandling=1))
        code, d = self.request("GET", "/api/v1/clients/" + quote("rest-detail/1"))
        self.assertEqual(code, 200, d)
        self.assertTrue(d["connected"])
        self.assertEqual(d["protocol_version"], "5")
        self.assertEqual(d["session"], {"clean_start": False, "expiry_interval": 600, "never_expires": False,
                                        "will_pending": False})
        self.assertEqual(d["subscriptions"], [{"filter": "rest/detail/+", "qos": 1, "no_local": True,
                                               "retain_as_published": False, "retain_handling": 1,
                                               "subscription_id": None}])
        # Offline, the session is still there and says so (once the broker has seen the DISCONNECT).
        c.disconnect()
        deadline = time.monotonic() + TIMEOUT
        while True:
            code, d = self.request("GET", "/api/v1/clients/" + quote("rest-detail/1"))
            self.assertEqual(code, 200, d)
            if not d["connected"] or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        self.assertFalse(d["connected"])
        self.assertEqual(len(d["subscriptions"]), 1)
        code, d = self.request("GET", "/api/v1/clients/rest-nobody")
        self.assertEqual((code, d["code"]), (404, "client_not_found"))

    def test_delete_session_of_a_connected_client(self):
        c = self.client(client_id="rest-del-1", clean=False, session_expiry=600)
        c.connect()
        c.subscribe("rest/del/1", qos=1)
        code, _ = self.request("DELETE", "/api/v1/sessions/rest-del-1")
        self.assertEqual(code, 204)
        self.assertTrue(c.disconnected.wait(TIMEOUT), "the client was not disconnected")
        code, d = self.request("GET", "/api/v1/clients/rest-del-1")
        self.assertEqual(code, 404, d)
        code, d = self.request("DELETE", "/api/v1/sessions/rest-del-1")
        self.assertEqual((code, d["code"]), (404, "session_not_found"))
        # Reconnecting without clean start finds no session (it was deleted, not just disconnected).
        again = self.client(client_id="rest-del-1", clean=False, session_expiry=600)
        again.connect()
        self.assertFalse(again.session_present)

    def test_delete_session_of_an_offline_client(self):
        c = self.client(client_id="rest-del-2", clean=False, session_expiry=600)
        c.connect()
        c.subscribe("rest/del/2", qos=1)
        c.disconnect()
        deadline = time.monotonic() + TIMEOUT
        while self.request("GET", "/api/v1/clients/rest-del-2")[1]["connected"] and time.monotonic() < deadline:
            time.sleep(0.01)  # until the broker has seen the DISCONNECT
        code, _ = self.request("DELETE", "/api/v1/sessions/rest-del-2")
        self.assertEqual(code, 204)
        again = self.client(client_id="rest-del-2", clean=False, session_expiry=600)
        again.connect()
        self.assertFalse(again.session_present)

    # ------------------------------------------------------------------ retained
    def test_retained_list_and_delete_seen_by_a_new_subscriber(self):
        pub = self.client()
        pub.connect()
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "text/plain"
        props.UserProperty = [("site", "north")]
        # QoS 0 first: the PUBACK of the QoS 1 publish after it (same connection, in order) says
        # the broker has both.
        pub.publish("rest/ret/b", b"\xff\x00", qos=0, retain=True)
        pub.publish("rest/ret/a", b"on", qos=1, retain=True, properties=props)
        code, page = self.request("GET", "/api/v1/retained?filter=" + quote("rest/ret/+"))
        self.assertEqual(code, 200, page)
        self.assertEqual([(i["topic"], i["payload"], i["encoding"], i["qos"]) for i in page["items"]],
                         [("rest/ret/a", "on", "utf-8", 1), ("rest/ret/b", "/wA=", "base64", 0)])
        self.assertEqual(page["items"][0]["properties"]["content_type"], "text/plain")
        self.assertEqual(page["items"][0]["properties"]["user_properties"], [{"key": "site", "value": "north"}])
        self.assertIsNone(page["next"])
        code, page = self.request("GET", "/api/v1/retained?filter=" + quote("rest/ret/+") + "&limit=1")
        self.assertEqual(page["next"], "rest/ret/a")

        code, _ = self.request("DELETE", "/api/v1/retained/" + quote("rest/ret/a"))
        self.assertEqual(code, 204)
        code, d = self.request("DELETE", "/api/v1/retained/" + quote("rest/ret/a"))
        self.assertEqual((code, d["code"]), (404, "retained_not_found"))
        # A new subscriber gets only the one left.
        sub = self.client()
        sub.connect()
        sub.subscribe("rest/ret/+", qos=1)
        m = sub.get()
        self.assertEqual((m.topic, m.payload), ("rest/ret/b", b"\xff\x00"))
        pub.publish("rest/ret/marker", b"m", qos=1)
        self.assertEqual([x.topic for x in sub.collect_until("rest/ret/marker")], ["rest/ret/marker"])

    def test_retained_bad_filter(self):
        code, d = self.request("GET", "/api/v1/retained?filter=" + quote("a/#/b"))
        self.assertEqual((code, d["code"]), (400, "bad_query"))

    # ------------------------------------------------------------------ state store
    def ss_client(self):
        c = StateStoreClient("127.0.0.1", self.daemon.port)
        c.connect()
        self.addCleanup(c.close)
        return c

    def test_statestore_put_read_over_mqtt_and_watcher_notified(self):
        w = self.ss_client()
        w.keynotify(b"rest-k1")
        code, item = self.request("PUT", "/api/v1/statestore/keys/rest-k1", {"value": "hello"})
        self.assertEqual(code, 200, item)
        self.assertEqual((item["key"], item["value"], item["encoding"]), ("rest-k1", "hello", "utf-8"))
        n = w.next_notification()
        self.assertEqual(n.payload, notify_set_payload(b"hello"))
        self.assertEqual(n.ts, item["version"])
        r = w.get(b"rest-k1")
        self.assertEqual(r.payload, b"$5\r\nhello\r\n")
        self.assertEqual(r.ts, item["version"])
        code, got = self.request("GET", "/api/v1/statestore/keys/rest-k1")
        self.assertEqual((code, got), (200, item))
        code, _ = self.request("DELETE", "/api/v1/statestore/keys/rest-k1")
        self.assertEqual(code, 204)
        self.assertEqual(w.next_notification().payload, NOTIFY_DELETE)
        self.assertEqual(w.get(b"rest-k1").payload, b"$-1\r\n")
        for method in ("GET", "DELETE"):
            code, d = self.request(method, "/api/v1/statestore/keys/rest-k1")
            self.assertEqual((code, d["code"]), (404, "key_not_found"))

    def test_statestore_set_over_mqtt_browsed_over_rest(self):
        c = self.ss_client()
        c.set(b"rest-b/1", b"one")
        c.set(b"rest-b/2", b"\xff\x00")
        c.set(b"rest-b/3", b"three")
        code, page = self.request("GET", "/api/v1/statestore/keys?prefix=rest-b/&limit=2")
        self.assertEqual(code, 200, page)
        self.assertEqual([(i["key"], i["value"], i["encoding"]) for i in page["items"]],
                         [("rest-b/1", "one", "utf-8"), (base64.b64encode(b"rest-b/2").decode(), "/wA=", "base64")])
        code, page2 = self.request("GET", "/api/v1/statestore/keys?prefix=rest-b/&after=rest-b/2")
        self.assertEqual([i["key"] for i in page2["items"]], ["rest-b/3"])
        self.assertIsNone(page2["next"])
        # A binary value through base64, read back over MQTT.
        code, item = self.request("PUT", "/api/v1/statestore/keys/" + quote("rest-b/4"),
                                  {"value": base64.b64encode(b"\x00\x01").decode(), "encoding": "base64"})
        self.assertEqual(code, 200, item)
        self.assertEqual(c.get(b"rest-b/4").payload, b"$2\r\n\x00\x01\r\n")

    def test_statestore_bad_bodies(self):
        path = "/api/v1/statestore/keys/rest-bad"
        code, d = self.request("PUT", path, "{}", content_type="text/plain")
        self.assertEqual((code, d["code"]), (415, "unsupported_media_type"))
        code, d = self.request("PUT", path, "{nope", content_type="application/json")
        self.assertEqual((code, d["code"]), (400, "bad_body"))
        code, d = self.request("PUT", path, {"value": "x", "encoding": "hex"})
        self.assertEqual((code, d["code"]), (400, "bad_body"))
        code, d = self.request("PUT", path, {"value": "x" * (70 * 1024)})
        self.assertEqual((code, d["code"]), (413, "too_large"))

    # ------------------------------------------------------------------ device commands
    def responder(self, client_id, reply_props=(("result", "done"),), answer=True):
        """A paho MQTT 5 device that answers commands on commands/<id>/+ (echoing the payload
        upper-cased, with `reply_props`) and records what it received."""
        dev = self.client(client_id=client_id)
        received = []

        def on_message(client, userdata, msg):
            received.append(msg)
            if not answer:
                return
            p = Properties(PacketTypes.PUBLISH)
            p.CorrelationData = msg.properties.CorrelationData
            p.ContentType = "text/plain"
            p.UserProperty = list(reply_props)
            client.publish(msg.properties.ResponseTopic, bytes(msg.payload).upper(), 1, properties=p)

        dev.client.on_message = on_message
        dev.connect()
        dev.subscribe("commands/%s/+" % client_id, qos=1)
        return dev, received

    def test_device_command_round_trip(self):
        dev, received = self.responder("rest-dev-1")
        code, r = self.request("POST", "/api/v1/clients/rest-dev-1/commands/reboot",
                               {"payload": "now", "user_properties": {"who": "operator"}, "timeout_ms": 5000})
        self.assertEqual(code, 200, r)
        self.assertEqual(r, {"payload": "NOW", "encoding": "utf-8", "user_properties": {"result": "done"},
                             "content_type": "text/plain"})
        self.assertEqual(len(received), 1)
        m = received[0]
        self.assertEqual(m.topic, "commands/rest-dev-1/reboot")
        self.assertEqual(bytes(m.payload), b"now")
        self.assertEqual(m.properties.UserProperty, [("who", "operator")])
        self.assertTrue(m.properties.ResponseTopic.startswith("$edgemq/"))
        self.assertLessEqual(m.properties.MessageExpiryInterval, 5)
        self.assertTrue(m.properties.CorrelationData)

    def test_device_command_times_out_without_blocking_the_admin_server(self):
        self.responder("rest-dev-2", answer=False)
        result = {}

        def call():
            result["r"] = self.request("POST", "/api/v1/clients/rest-dev-2/commands/slow", {"timeout_ms": 3000})

        t = threading.Thread(target=call)
        started = time.monotonic()
        t.start()
        # While the command waits, the admin server answers other requests at once.
        code, _ = self.request("GET", "/api/v1/broker")
        self.assertEqual(code, 200)
        self.assertNotIn("r", result, "the broker info waited for the command")
        t.join(TIMEOUT)
        code, d = result["r"]
        self.assertEqual((code, d["code"]), (504, "timeout"))
        self.assertGreaterEqual(time.monotonic() - started, 2.9)

    def test_device_command_to_an_unknown_client(self):
        code, d = self.request("POST", "/api/v1/clients/rest-nobody/commands/x")
        self.assertEqual((code, d["code"]), (404, "not_connected"))
        code, d = self.request("POST", "/api/v1/clients/rest-nobody/commands/x", {"timeout_ms": 0})
        self.assertEqual((code, d["code"]), (400, "bad_body"))

    def test_clients_cannot_use_the_reply_prefix(self):
        c = self.client()
        c.connect()
        self.assertEqual(c.subscribe("$edgemq/#", qos=1), [0x87])
        self.assertEqual(c.subscribe("$edgemq/commands/reply", qos=1), [0x87])
        # Nor answer another device's command: only the addressed client can complete it.
        dev, received = self.responder("rest-dev-3", answer=False)
        result = {}
        t = threading.Thread(target=lambda: result.update(r=self.request(
            "POST", "/api/v1/clients/rest-dev-3/commands/x", {"timeout_ms": 2000})))
        t.start()
        deadline = time.monotonic() + TIMEOUT
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(received, "the device got no command")
        p = Properties(PacketTypes.PUBLISH)
        p.CorrelationData = received[0].properties.CorrelationData
        c.publish(received[0].properties.ResponseTopic, b"forged", qos=1, properties=p)
        t.join(TIMEOUT)
        self.assertEqual(result["r"][0], 504)


class CommandTopicOptionTest(unittest.TestCase):
    def test_custom_template_is_used(self):
        with tempfile.TemporaryDirectory() as d:
            daemon = EdgemqDaemon(extra_args=["--admin", "http://127.0.0.1:0",
                                              "--admin-command-topic", "dev/{clientId}/do/{name}"])
            daemon.start()
            try:
                port = int(ADMIN_RE.search(daemon.ready_line).group(1))
                dev = PahoClient("127.0.0.1", daemon.port, client_id="tmpl-1")
                dev.connect()
                try:
                    dev.subscribe("dev/tmpl-1/do/+", qos=1)
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
                    conn.request("POST", "/api/v1/clients/tmpl-1/commands/ping", body=json.dumps({"timeout_ms": 300}),
                                 headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    r.read()
                    conn.close()
                    self.assertEqual(r.status, 504)
                    self.assertEqual(dev.get().topic, "dev/tmpl-1/do/ping")
                finally:
                    dev.close()
            finally:
                daemon.stop()

    def test_bad_template_exits_2(self):
        r = run_edgemq(["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--admin-command-topic", "cmd/{name}",
                        "--data-dir", "/nonexistent/x"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--admin-command-topic 'cmd/{name}': must contain {clientId}", r.stderr)


class AdminStatestoreFullDiskTest(unittest.TestCase):
    """A state store write the disk refuses answers 503 JSON over REST, never a false success, and
    the refused value is not visible (the data directory on a small tmpfs, filled; needs root)."""

    def setUp(self):
        from test_storage_failure import fill, mount_tmpfs
        root = tempfile.mkdtemp(prefix="edgemq-rest-full-")
        self.addCleanup(shutil.rmtree, root, True)
        self.mnt = os.path.join(root, "mnt")
        os.mkdir(self.mnt)
        why = mount_tmpfs(self.mnt, "160m")
        if why:
            self.skipTest("cannot mount a tmpfs (%s): run as root to include it" % why)
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt])
        self.fill = fill
        self.daemon = EdgemqDaemon(config={"statestore": {"sync": "sync"}}, data_dir=os.path.join(self.mnt, "data"),
                                   extra_args=["--admin", "http://127.0.0.1:0"])
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        self.admin_port = int(ADMIN_RE.search(self.daemon.ready_line).group(1))

    def put(self, key, value):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=TIMEOUT)
        try:
            path = "/api/v1/statestore/keys/" + key
            conn.request("PUT", path, body=json.dumps({"value": value}), headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            text = r.read().decode()
            openapi.validate("PUT", path, r.status, r.getheader("Content-Type", ""), text)
            return r.status, json.loads(text)
        finally:
            conn.close()

    def test_refused_write_is_503_and_not_visible(self):
        self.assertEqual(self.put("full", "before")[0], 200)
        self.fill(self.mnt)
        big = "v" * (60 * 1024)
        for i in range(2000):  # RocksDB's preallocated WAL takes a few MiB first
            code, body = self.put("full", big + str(i))
            if code != 200:
                break
        self.assertEqual((code, body["code"]), (503, "storage_unavailable"), body)
        self.assertTrue(self.daemon.alive())
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=TIMEOUT)
        conn.request("GET", "/api/v1/statestore/keys/full")
        got = json.loads(conn.getresponse().read())
        conn.close()
        self.assertNotEqual(got["value"], big + str(i), "a refused PUT must not be visible")


def password_line(user, password, iterations=1000):
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return "%s:$pbkdf2-sha512$%d$%s$%s\n" % (user, iterations, base64.b64encode(salt).decode(),
                                              base64.b64encode(digest).decode())


class AdminReloadTest(unittest.TestCase):
    """POST /api/v1/reload does what SIGHUP does: a changed password file is used by the next
    CONNECT, and a broken one is reported and keeps the previous version."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="edgemq-reload-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.passwords = os.path.join(self.tmp, "passwords")
        with open(self.passwords, "w") as f:
            f.write(password_line("alice", "old"))
        self.daemon = EdgemqDaemon(extra_args=["--admin", "http://127.0.0.1:0", "--password-file", self.passwords])
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        self.admin_port = int(ADMIN_RE.search(self.daemon.ready_line).group(1))

    def post_reload(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=TIMEOUT)
        try:
            conn.request("POST", "/api/v1/reload")
            r = conn.getresponse()
            text = r.read().decode()
            openapi.validate("POST", "/api/v1/reload", r.status, r.getheader("Content-Type", ""), text)
            return r.status, json.loads(text)
        finally:
            conn.close()

    def connect_rc(self, password):
        c = mqtt.Client(client_id="reload-%s" % password, protocol=mqtt.MQTTv5)
        c.username_pw_set("alice", password)
        got = threading.Event()
        result = {}

        def on_connect(client, userdata, flags, rc, properties=None):
            result["rc"] = rc.value if hasattr(rc, "value") else rc
            got.set()

        c.on_connect = on_connect
        c.connect("127.0.0.1", self.daemon.port)
        c.loop_start()
        try:
            self.assertTrue(got.wait(TIMEOUT), "no CONNACK")
            return result["rc"]
        finally:
            c.disconnect()
            c.loop_stop()

    def test_reload_password_file(self):
        self.assertEqual(self.connect_rc("old"), 0)
        with open(self.passwords, "w") as f:
            f.write(password_line("alice", "new"))
        code, report = self.post_reload()
        self.assertEqual(code, 200, report)
        self.assertEqual(report, {"reloaded": ["password_file"], "failed": []})
        self.assertEqual(self.connect_rc("new"), 0)
        self.assertNotEqual(self.connect_rc("old"), 0)
        # A broken file is reported and the previous one stays.
        with open(self.passwords, "w") as f:
            f.write("alice:not-a-hash\n")
        code, report = self.post_reload()
        self.assertEqual(code, 200, report)
        self.assertEqual(report["reloaded"], [])
        self.assertEqual([f["what"] for f in report["failed"]], ["password_file"])
        self.assertEqual(self.connect_rc("new"), 0)


if __name__ == "__main__":
    unittest.main()
