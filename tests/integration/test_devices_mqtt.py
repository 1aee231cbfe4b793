"""IoT Hub's device dialect over MQTT 3.1.1 + TLS against the real daemon (docs/devices.md,
"Device side"), spoken by paho-mqtt the way the Azure IoT device SDKs speak it: client id = device
id, username "{hostname}/{deviceId}/?api-version=...", a SAS token as password, the `$iothub/...`
twin topics, telemetry with a property bag, cloud-to-device queued in the persistent session.

Devices are seeded in the state store through the admin API (PUT /api/v1/statestore/keys/{key})
with the documented key layout ("Storage"), then the daemon is restarted so the hub loads them:
that exercises the layout and the loading. The registry REST API, direct methods and send_c2d
through the service side are the REST tests' (test_devices_rest / the Node SDK tests).
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from support.edgemq_harness import RestartableDaemon
from support.paho_helper import PahoClient
from support.tls_pki import Pki, ready_ports

HOSTNAME = "edgehub.test"
TOKEN = "devices-admin-token"
ADMIN_RE = re.compile(r"admin on http://127\.0\.0\.1:(\d+)")
TIMEOUT = 10.0


def key_of(seed):
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


def sas_token(device, key, se=None, resource=None):
    """As azure-iot-device makes it: sr URL-encoded, sig over "sr\\nse", URL-encoded."""
    sr = urllib.parse.quote(resource or "%s/devices/%s" % (HOSTNAME, device), safe="")
    se = str(se if se is not None else int(time.time()) + 3600)
    sig = base64.b64encode(hmac.new(base64.b64decode(key), (sr + "\n" + se).encode(), hashlib.sha256).digest())
    return "SharedAccessSignature sr=%s&sig=%s&se=%s" % (sr, urllib.parse.quote(sig.decode(), safe=""), se)


def registry_record(device, enabled=True, auth_type="sas", thumbprint=""):
    return {"format": 1, "deviceId": device, "etag": "AAAAAAAAAAE=", "generationId": "1",
            "status": "enabled" if enabled else "disabled",
            "authentication": {"type": auth_type,
                               "symmetricKey": {"primaryKey": key_of(device), "secondaryKey": key_of(device + "2")},
                               "x509Thumbprint": {"primaryThumbprint": thumbprint, "secondaryThumbprint": ""}}}


def rc_of(client):
    rc = client.connack["rc"]
    return rc.value if hasattr(rc, "value") else rc


class DevicesMqttTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="edgemq-devices-")
        cls.pki = Pki(cls.tmp)
        cls.cam_cert = cls.pki.leaf("cam", "cam", "ca", days="2")
        fp = subprocess.run(["openssl", "x509", "-in", cls.cam_cert[0], "-noout", "-fingerprint", "-sha1"],
                            capture_output=True, text=True, check=True).stdout
        cam_thumbprint = fp.split("=", 1)[1].strip().replace(":", "").lower()  # any case, as operators paste it
        token_file = os.path.join(cls.tmp, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.daemon = RestartableDaemon(extra_args=[
            "--listen", "mqtts://127.0.0.1:0", "--tls-cert", cls.pki.server[0], "--tls-key", cls.pki.server[1],
            "--tls-client-ca", cls.pki.ca, "--devices-hostname", HOSTNAME,
            "--admin", "http://127.0.0.1:0", "--admin-token-file", token_file])
        cls.daemon.start()
        cls._read_ports()
        for dev in ("tele", "twin", "push", "c2d", "iso", "other", "wrong"):
            cls.put_key("$devices/registry/" + dev, registry_record(dev))
        cls.put_key("$devices/registry/off", registry_record("off", enabled=False))
        cls.put_key("$devices/registry/cam", registry_record("cam", auth_type="selfSigned", thumbprint=cam_thumbprint))
        # A desired change made while "push" was offline: pushed when it connects.
        cls.put_key("$devices/twins/push", {
            "format": 1, "deviceId": "push", "etag": "AAAAAAAAAAI=", "version": 3, "tags": {},
            "desired": {"rate": 5, "$version": 2, "$metadata": {"$lastUpdated": "2026-01-01T00:00:00.0000000Z",
                                                                "$lastUpdatedVersion": 2}},
            "reported": {"$version": 1, "$metadata": {"$lastUpdated": "2026-01-01T00:00:00.0000000Z"}},
            "desiredPending": True})
        cls.daemon.restart()
        cls._read_ports()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daemon.stop(expect_rc=0)
        finally:
            cls.daemon.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def _read_ports(cls):
        ports = ready_ports(cls.daemon)
        cls.plain_port = [p for tls, p in ports if not tls][0]
        cls.tls_port = [p for tls, p in ports if tls][0]
        cls.admin_port = int(ADMIN_RE.search(cls.daemon.ready_line).group(1))

    @classmethod
    def admin(cls, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", cls.admin_port, timeout=TIMEOUT)
        try:
            headers = {"Authorization": "Bearer " + TOKEN}
            data = None
            if body is not None:
                data = json.dumps(body)
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            text = r.read().decode()
            return r.status, (json.loads(text) if text else None)
        finally:
            conn.close()

    @classmethod
    def put_key(cls, key, value):
        status, _ = cls.admin("PUT", "/api/v1/statestore/keys/" + urllib.parse.quote(key, safe=""),
                              {"value": json.dumps(value)})
        assert status in (200, 201, 204), status

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in reversed(self.clients):
            try:
                c.close()
            except Exception:
                pass

    def device(self, device_id, password=None, connect=True, expect_success=True, cert=None, username=None):
        """A device as the SDK connects: MQTT 3.1.1 over TLS, clean session false."""
        c = PahoClient("127.0.0.1", self.tls_port, client_id=device_id, version=4, clean=False)
        c.client.tls_set(ca_certs=self.pki.ca, certfile=cert[0] if cert else None, keyfile=cert[1] if cert else None)
        c.client.username_pw_set(
            username or "%s/%s/?api-version=2021-04-12&DeviceClientType=paho-test" % (HOSTNAME, device_id),
            password if password is not None or cert else sas_token(device_id, key_of(device_id)))
        self.clients.append(c)
        if connect:
            c.connect(expect_success=expect_success)
        return c

    def service_client(self):
        c = PahoClient("127.0.0.1", self.plain_port, version=5)
        self.clients.append(c)
        c.connect()
        return c

    # ------------------------------------------------------------------------------------- tests
    def test_telemetry_is_routed_with_its_property_bag_as_user_properties(self):
        sub = self.service_client()
        sub.subscribe("devices/tele/messages/events/#", qos=1)
        dev = self.device("tele")
        topic = "devices/tele/messages/events/%24.mid=m-1&%24.ct=application%2Fjson&level=very%20hot"
        dev.publish(topic, b'{"t": 21.5}', qos=1)
        m = sub.get()
        self.assertEqual(m.topic, topic)
        self.assertEqual(m.payload, b'{"t": 21.5}')
        self.assertEqual(m.properties.UserProperty, [("$.mid", "m-1"), ("$.ct", "application/json"),
                                                     ("level", "very hot")])
        self.assertEqual(m.properties.ContentType, "application/json")
        # No property bag: the topic ends in "events/".
        dev.publish("devices/tele/messages/events/", b"plain", qos=1)
        self.assertEqual(sub.get().payload, b"plain")

    def test_twin_get_and_reported_patch_answer_only_the_device(self):
        watcher = self.service_client()
        watcher.subscribe("$iothub/#")  # replies are never routed
        watcher.subscribe("marker/twin")
        dev = self.device("twin")
        dev.subscribe("$iothub/twin/res/#")
        dev.publish("$iothub/twin/GET/?$rid=1", b" ")
        m = dev.get()
        self.assertEqual(m.topic, "$iothub/twin/res/200/?$rid=1")
        doc = json.loads(m.payload)
        self.assertEqual(doc, {"desired": {"$version": 1}, "reported": {"$version": 1}})
        dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=2", json.dumps({"fw": "1.2", "cfg": {"a": 1}}))
        m = dev.get()
        self.assertEqual(m.topic, "$iothub/twin/res/204/?$rid=2&$version=2")
        dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=3", json.dumps({"cfg": {"a": None, "b": 2}}))
        self.assertEqual(dev.get().topic, "$iothub/twin/res/204/?$rid=3&$version=3")
        dev.publish("$iothub/twin/GET/?$rid=4", b" ")
        doc = json.loads(dev.get().payload)
        self.assertEqual(doc["reported"], {"fw": "1.2", "cfg": {"b": 2}, "$version": 3})
        # Written through to the state store with its metadata, under the documented key.
        status, item = self.admin("GET", "/api/v1/statestore/keys/" + urllib.parse.quote("$devices/twins/twin", safe=""))
        self.assertEqual(status, 200)
        stored = json.loads(item["value"])
        self.assertEqual(stored["reported"]["cfg"], {"b": 2})
        self.assertIn("$lastUpdated", stored["reported"]["$metadata"]["cfg"]["b"])
        # Not JSON, and too deep: 400 as IoT Hub answers.
        dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=5", b"not json")
        self.assertEqual(dev.get().topic, "$iothub/twin/res/400/?$rid=5")
        deep = 1
        for _ in range(11):
            deep = {"l": deep}
        dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=6", json.dumps(deep))
        m = dev.get()
        self.assertEqual(m.topic, "$iothub/twin/res/400/?$rid=6")
        self.assertIn("errorCode", json.loads(m.payload))
        self.service_client().publish("marker/twin", b"end", qos=1)
        self.assertEqual([m.topic for m in watcher.collect_until("marker/twin")], ["marker/twin"])

    def test_desired_changed_while_offline_is_pushed_on_connect(self):
        dev = self.device("push")
        m = dev.get()
        self.assertEqual(m.topic, "$iothub/twin/PATCH/properties/desired/?$version=2")
        self.assertEqual(json.loads(m.payload), {"rate": 5, "$version": 2})
        dev.disconnect()
        again = self.device("push")  # delivered: not pushed a second time
        again.subscribe("$iothub/twin/res/#")
        again.publish("$iothub/twin/GET/?$rid=9", b" ")
        self.assertEqual(again.get().topic, "$iothub/twin/res/200/?$rid=9")

    def test_cloud_to_device_is_queued_in_the_session_while_offline(self):
        dev = self.device("c2d")
        self.assertEqual(dev.subscribe("devices/c2d/messages/devicebound/#", qos=1), [1])
        dev.disconnect()
        svc = self.service_client()
        svc.publish("devices/c2d/messages/devicebound/%24.mid=c-1", b"while you were away", qos=1)
        dev = self.device("c2d")
        self.assertTrue(dev.session_present)
        m = dev.get()
        self.assertEqual(m.topic, "devices/c2d/messages/devicebound/%24.mid=c-1")
        self.assertEqual(m.payload, b"while you were away")

    def test_wrong_or_expired_sas_tokens_are_refused(self):
        key = key_of("wrong")
        self.assertEqual(rc_of(self.device("wrong", sas_token("wrong", key_of("not-the-key")), expect_success=False)), 4)
        expired = sas_token("wrong", key, se=int(time.time()) - 10)
        self.assertEqual(rc_of(self.device("wrong", expired, expect_success=False)), 4)
        foreign = sas_token("wrong", key, resource="%s/devices/other" % HOSTNAME)
        self.assertEqual(rc_of(self.device("wrong", foreign, expect_success=False)), 4)
        self.assertEqual(rc_of(self.device("nobody", sas_token("nobody", key), expect_success=False)), 4)
        # The secondary key works as well as the primary.
        self.device("wrong", sas_token("wrong", key_of("wrong2")))

    def test_the_connection_ends_when_its_sas_token_expires(self):
        dev = self.device("wrong", sas_token("wrong", key_of("wrong"), se=int(time.time()) + 2))
        self.assertTrue(dev.disconnected.wait(TIMEOUT), "still connected after the token expired")

    def test_disabled_device_is_refused(self):
        self.assertEqual(rc_of(self.device("off", expect_success=False)), 5)

    def test_x509_device_with_a_registered_thumbprint(self):
        self.device("cam", cert=self.cam_cert)
        other = self.pki.leaf("cam-other", "cam", "ca", days="2")  # same CN, other certificate
        self.assertEqual(rc_of(self.device("cam", cert=other, expect_success=False)), 4)

    def test_a_device_cannot_reach_another_devices_topics(self):
        victim = self.device("other")
        victim.subscribe("devices/other/messages/devicebound/#", qos=1)
        sub = self.service_client()
        sub.subscribe("devices/other/#", qos=1)
        sub.subscribe("devices/iso/#", qos=1)
        dev = self.device("iso")
        self.assertEqual(dev.subscribe("devices/other/messages/devicebound/#", qos=1), [0x80])
        self.assertEqual(dev.subscribe("devices/+/messages/devicebound/#", qos=1), [0x80])
        self.assertEqual(dev.subscribe("$iothub/#"), [0x80])
        self.assertEqual(dev.subscribe("#"), [0x80])
        # Acknowledged (3.1.1 has no refusal in PUBACK) but dropped.
        dev.publish("devices/other/messages/events/", b"spoofed", qos=1)
        dev.publish("devices/other/messages/devicebound/", b"spoofed c2d", qos=1)
        # Markers published after those were acknowledged: anything routed from them came first.
        dev.publish("devices/iso/messages/events/", b"marker", qos=1)
        got = sub.collect_until("devices/iso/messages/events/")
        self.assertEqual([m.payload for m in got], [b"marker"])
        self.service_client().publish("devices/other/messages/devicebound/", b"real c2d", qos=1)
        self.assertEqual(victim.get().payload, b"real c2d")


if __name__ == "__main__":
    unittest.main()
