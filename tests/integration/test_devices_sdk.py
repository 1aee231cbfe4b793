"""IoT Hub's device API with the unmodified Azure IoT SDKs for Node.js (docs/devices.md): the service
SDK (azure-iothub: Registry, Client.invokeDeviceMethod) over HTTPS to the admin server, device
clients (azure-iot-device + azure-iot-device-mqtt) over MQTT/TLS, both with IoT Hub connection
strings. The SDKs hard-code the ports (443 for the service REST API, 8883 for MQTT), so the daemon
listens on 127.0.0.1:443 (admin, https) and 127.0.0.1:8883 (mqtts); HostName is `localhost`, which
the test CA's server certificate names (NODE_EXTRA_CA_CERTS) and Node resolves to 127.0.0.1
(--dns-result-order=ipv4first, so a host whose /etc/hosts lists ::1 first works too). The fixed
ports are why CTest runs this module under RESOURCE_LOCK iothub_ports (tests/integration/CMakeLists.txt).

Telemetry is watched by an ordinary MQTT 5 subscriber (paho) on a plain loopback listener; one
device trying another's topics is a paho client with the device's own SAS credentials."""

import base64
import http.client
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from support import openapi
from support.edgemq_harness import EdgemqDaemon
from support.iothub_sdk import SdkAgent, missing_prerequisites, sas_token
from support.paho_helper import PahoClient
from support.tls_pki import Pki, ready_ports

HOSTNAME = "localhost"
ADMIN_PORT = 443
MQTTS_PORT = 8883
POLICY = "iothubowner"
TOKEN = "operator-token-for-devices"
TIMEOUT = 15.0


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def may_bind_443():
    """Root, or unprivileged ports reaching down to 443 (net.ipv4.ip_unprivileged_port_start)."""
    if os.geteuid() == 0:
        return True
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            return int(f.read()) <= ADMIN_PORT
    except (OSError, ValueError):
        return False


MISSING = missing_prerequisites() or ("" if may_bind_443() else "permission to bind port 443 (run as root)")


@unittest.skipIf(MISSING, "missing (scripts/install-deps.sh --test installs the packages): " + MISSING)
class DevicesSdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for port in (ADMIN_PORT, MQTTS_PORT):
            if not port_free(port):
                raise AssertionError("127.0.0.1:%d is in use: the Azure IoT SDKs need it (another test or "
                                     "program holds it)" % port)
        cls.tmp = tempfile.mkdtemp(prefix="edgemq-devices-sdk-")
        cls.pki = Pki(cls.tmp)
        cert, key = cls.pki.server
        token_file = os.path.join(cls.tmp, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.policy_key = base64.b64encode(secrets.token_bytes(32)).decode()
        config = {"devices": {"hostname": HOSTNAME, "service_policies": [{"name": POLICY, "key": cls.policy_key}]}}
        cls.daemon = EdgemqDaemon(config=config, extra_args=[
            "--listen", "mqtts://127.0.0.1:%d" % MQTTS_PORT, "--tls-cert", cert, "--tls-key", key,
            "--tls-client-ca", cls.pki.ca,
            "--admin", "https://127.0.0.1:%d" % ADMIN_PORT, "--admin-token-file", token_file])
        cls.agent = None
        try:
            cls.daemon.start()
            cls.mqtt_port = [port for tls, port in ready_ports(cls.daemon) if not tls][0]
            env = dict(os.environ, NODE_EXTRA_CA_CERTS=cls.pki.ca, NODE_OPTIONS="--dns-result-order=ipv4first")
            cls.agent = SdkAgent(env=env)
            cls.service_cs = "HostName=%s;SharedAccessKeyName=%s;SharedAccessKey=%s" % (HOSTNAME, POLICY,
                                                                                         cls.policy_key)
            cls.agent.call("serviceConnect", connectionString=cls.service_cs)
        except BaseException:
            cls._cleanup()  # tearDownClass does not run when setUpClass fails
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.agent.close()
            cls.daemon.stop(expect_rc=0)
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def _cleanup(cls):
        try:
            if cls.agent is not None:
                cls.agent.close()
            cls.daemon.cleanup()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # ------------------------------------------------------------------ helpers
    def new_device(self, stem, status="enabled"):
        """Registry.create with empty keys (edgemq generates them): (device JSON, connection string)."""
        device_id = "%s-%s" % (stem, secrets.token_hex(3))
        d = self.agent.call("create", device={"deviceId": device_id, "status": status})
        self.assertEqual(d["deviceId"], device_id)
        key = d["authentication"]["symmetricKey"]["primaryKey"]
        self.assertEqual(len(base64.b64decode(key)), 32, d)
        return d, "HostName=%s;DeviceId=%s;SharedAccessKey=%s" % (HOSTNAME, device_id, key)

    def open_device(self, stem):
        d, cs = self.new_device(stem)
        name = d["deviceId"]
        self.agent.call("open", name=name, connectionString=cs)
        self.addCleanup(self._close_quietly, name)
        return d, cs

    def _close_quietly(self, name):
        try:
            self.agent.call("close", name=name)
        except AssertionError:
            pass  # closed by the test already

    def rest(self, method, path, body=None, headers=None, auth=None):
        """(status, headers, parsed JSON or text) from the admin server over HTTPS (the test CA)."""
        ctx = ssl.create_default_context(cafile=self.pki.ca)
        conn = http.client.HTTPSConnection("127.0.0.1", ADMIN_PORT, context=ctx, timeout=TIMEOUT)
        h = dict(headers or {})
        if auth is None:
            auth = sas_token(HOSTNAME, self.policy_key, int(time.time()) + 600, POLICY, encode_resource=False)
        if auth:
            h["Authorization"] = auth
        try:
            data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            text = r.read().decode()
            openapi.validate(method, path, r.status, r.getheader("Content-Type", ""), text)
            if r.getheader("Content-Type", "").startswith("application/json") and text:
                return r.status, r, json.loads(text)
            return r.status, r, text
        finally:
            conn.close()

    def observer(self, topic):
        """An MQTT 5 subscriber on the plain loopback listener (not a device)."""
        sub = PahoClient("127.0.0.1", self.mqtt_port, version=5)
        self.addCleanup(sub.close)
        sub.connect()
        self.assertEqual(sub.subscribe(topic, qos=1), [1])
        return sub

    def device_paho(self, device_id, key):
        """A paho 3.1.1 client connected as the device with its SAS over TLS, as the SDK connects."""
        c = PahoClient("127.0.0.1", MQTTS_PORT, client_id=device_id, version=4, clean=False)
        c.client.tls_set(ca_certs=self.pki.ca)
        resource = "%s/devices/%s" % (HOSTNAME, device_id)
        c.client.username_pw_set("%s/%s/?api-version=2021-04-12" % (HOSTNAME, device_id),
                                 sas_token(resource, key, int(time.time()) + 600))
        self.addCleanup(c.close)
        c.connect()
        return c

    # ------------------------------------------------------------------ registry
    def test_registry_create_get_list_update_delete(self):
        d, _ = self.new_device("reg")
        device_id = d["deviceId"]
        self.assertEqual(d["status"], "enabled")
        self.assertEqual(d["connectionState"], "Disconnected")
        self.assertTrue(d["etag"])
        got = self.agent.call("getDevice", deviceId=device_id)
        self.assertEqual(got["authentication"], d["authentication"])
        self.assertIn(device_id, [x["deviceId"] for x in self.agent.call("listDevices")])
        err = self.agent.fails("create", device={"deviceId": device_id})
        self.assertEqual((err["name"], err["statusCode"]), ("DeviceAlreadyExistsError", 409), err)
        got["status"] = "disabled"
        self.assertEqual(self.agent.call("updateDevice", device=got)["status"], "disabled")
        twins = self.agent.call("queryTwins")["twins"]
        self.assertIn(device_id, [t["deviceId"] for t in twins])
        self.agent.call("deleteDevice", deviceId=device_id)
        err = self.agent.fails("getDevice", deviceId=device_id)
        self.assertEqual((err["name"], err["statusCode"]), ("DeviceNotFoundError", 404), err)

    def test_service_authorization(self):
        d, _ = self.new_device("auth")
        path = "/devices/%s?api-version=2021-04-12" % d["deviceId"]
        status, r, body = self.rest("GET", path)
        self.assertEqual(status, 200, body)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        self.assertEqual(body["deviceId"], d["deviceId"])
        now = int(time.time())
        wrong_key = base64.b64encode(secrets.token_bytes(32)).decode()
        for auth in ("", "Bearer wrong", sas_token(HOSTNAME, wrong_key, now + 600, POLICY, False),
                     sas_token(HOSTNAME, self.policy_key, now - 10, POLICY, False),
                     sas_token("elsewhere", self.policy_key, now + 600, POLICY, False),
                     sas_token(HOSTNAME, self.policy_key, now + 600, "nosuchpolicy", False)):
            status, _, body = self.rest("GET", path, auth=auth)
            self.assertEqual(status, 401, auth)
            self.assertTrue(body["Message"].startswith("ErrorCode:IotHubUnauthorizedAccess;"), body)
        # The operator's bearer token, and a URL-encoded sr (other SDKs send it so).
        for auth in ("Bearer " + TOKEN, sas_token(HOSTNAME, self.policy_key, now + 600, POLICY, True)):
            status, _, body = self.rest("GET", path, auth=auth)
            self.assertEqual(status, 200, (auth, body))

    # ------------------------------------------------------------------ telemetry and C2D
    def test_telemetry_reaches_an_mqtt_subscriber(self):
        d, _ = self.open_device("tele")
        sub = self.observer("devices/%s/messages/events/#" % d["deviceId"])
        self.agent.call("sendEvent", name=d["deviceId"], data='{"t":21.5}', properties={"alert": "high"},
                        messageId="m-1")
        msg = sub.get()
        self.assertEqual(msg.payload, b'{"t":21.5}')
        self.assertTrue(msg.topic.startswith("devices/%s/messages/events/" % d["deviceId"]), msg.topic)
        props = dict(getattr(msg.properties, "UserProperty", []) or [])
        self.assertEqual(props.get("alert"), "high", msg.topic)

    def test_cloud_to_device_online_and_queued_while_offline(self):
        d, cs = self.open_device("c2d")
        device_id = d["deviceId"]
        path = "/devices/%s/messages/deviceBound?api-version=2021-04-12" % device_id
        status, _, body = self.rest("POST", path, body="hello device",
                                    headers={"iothub-app-color": "blue", "iothub-messageid": "c2d-1"})
        self.assertEqual(status, 204, body)
        e = self.agent.wait_event(lambda e: e["event"] == "c2d" and e["name"] == device_id)
        self.assertEqual(e["data"], "hello device")
        self.assertEqual(e["properties"].get("color"), "blue", e)
        self.assertEqual(e["messageId"], "c2d-1", e)
        # Offline: the message waits in the device's session until it reconnects.
        self.agent.call("close", name=device_id)
        status, _, body = self.rest("POST", path, body="while you were out")
        self.assertEqual(status, 204, body)
        self.agent.call("open", name=device_id, connectionString=cs)
        e = self.agent.wait_event(lambda e: e["event"] == "c2d" and e["name"] == device_id)
        self.assertEqual(e["data"], "while you were out")
        status, _, body = self.rest("POST", "/devices/nosuch/messages/deviceBound?api-version=2021-04-12", body="x")
        self.assertEqual(status, 404, body)
        self.assertTrue(body["Message"].startswith("ErrorCode:DeviceNotFound;"), body)

    # ------------------------------------------------------------------ twins
    def test_twin_get_report_and_desired(self):
        d, _ = self.open_device("twin")
        device_id = d["deviceId"]
        props = self.agent.call("getTwin", name=device_id)
        self.assertIn("$version", props["desired"])
        self.assertIn("$version", props["reported"])
        self.agent.call("report", name=device_id, patch={"firmware": "1.2.3", "temp": {"max": 40}})
        twin = self.agent.call("serviceGetTwin", deviceId=device_id)
        self.assertEqual(twin["deviceId"], device_id)
        self.assertEqual(twin["properties"]["reported"]["firmware"], "1.2.3")
        self.assertEqual(twin["properties"]["reported"]["temp"], {"max": 40})
        # A desired change through the service SDK reaches the connected device at once.
        updated = self.agent.call("serviceUpdateTwin", deviceId=device_id,
                                  patch={"tags": {"site": "hall-7"}, "properties": {"desired": {"interval": 30}}})
        self.assertEqual(updated["tags"], {"site": "hall-7"})
        self.assertEqual(updated["properties"]["desired"]["interval"], 30)
        e = self.agent.wait_event(lambda e: e["event"] == "desired" and e["name"] == device_id
                                  and "interval" in e["patch"])
        self.assertEqual(e["patch"]["interval"], 30)
        self.assertIn("$version", e["patch"])
        self.assertEqual(self.agent.call("getTwin", name=device_id)["desired"]["interval"], 30)
        # A stale etag is refused (412), as IoT Hub does.
        err = self.agent.fails("serviceUpdateTwin", deviceId=device_id, etag=twin["etag"],
                               patch={"properties": {"desired": {"interval": 60}}})
        self.assertEqual((err["name"], err["statusCode"]), ("InvalidEtagError", 412), err)

    def test_desired_change_while_offline_reaches_the_device_on_reconnect(self):
        d, cs = self.open_device("twoff")
        device_id = d["deviceId"]
        self.agent.call("getTwin", name=device_id)
        self.agent.call("close", name=device_id)
        self.agent.call("serviceUpdateTwin", deviceId=device_id, patch={"properties": {"desired": {"mode": "eco"}}})
        self.agent.call("open", name=device_id, connectionString=cs)
        self.assertEqual(self.agent.call("getTwin", name=device_id)["desired"]["mode"], "eco")

    # ------------------------------------------------------------------ direct methods
    def test_direct_method_answered_by_the_device(self):
        d, _ = self.open_device("meth")
        device_id = d["deviceId"]
        self.agent.call("onMethod", name=device_id, method="reboot", status=200, payload={"rebooted": True})
        result = self.agent.call("invoke", deviceId=device_id, methodName="reboot", payload={"delay": 5})
        self.assertEqual(result, {"status": 200, "payload": {"rebooted": True}})
        e = self.agent.wait_event(lambda e: e["event"] == "method" and e["name"] == device_id)
        self.assertEqual((e["method"], e["payload"]), ("reboot", {"delay": 5}))

    def test_direct_method_timeout_and_offline(self):
        d, _ = self.open_device("slow")
        device_id = d["deviceId"]
        self.agent.call("onMethod", name=device_id, method="hang", silent=True)
        started = time.monotonic()
        err = self.agent.fails("invoke", deviceId=device_id, methodName="hang", responseTimeoutInSeconds=2)
        self.assertEqual((err["name"], err["statusCode"]), ("GatewayTimeoutError", 504), err)
        self.assertLess(time.monotonic() - started, 7.0)
        offline, _ = self.new_device("offl")
        err = self.agent.fails("invoke", deviceId=offline["deviceId"], methodName="x", responseTimeoutInSeconds=2)
        self.assertEqual(err["statusCode"], 404, err)
        self.assertIn("DeviceNotOnline", err["responseBody"], err)

    # ------------------------------------------------------------------ refusals
    def test_disabled_device_refused(self):
        d, cs = self.new_device("dis", status="disabled")
        err = self.agent.fails("open", name=d["deviceId"], connectionString=cs)
        self.assertIn("Not authorized", err["message"], err)
        # Enabled again, it connects; disabled while connected, it is disconnected.
        d["status"] = "enabled"
        self.agent.call("updateDevice", device=d)
        self.agent.call("open", name=d["deviceId"], connectionString=cs)
        self.addCleanup(self._close_quietly, d["deviceId"])
        d = self.agent.call("getDevice", deviceId=d["deviceId"])
        self.assertEqual(d["connectionState"], "Connected")
        d["status"] = "disabled"
        self.agent.call("updateDevice", device=d)
        # The SDK does not always tell (it reconnects quietly): the registry does, and the client's
        # next message, which has to reconnect, is refused.
        deadline = time.monotonic() + TIMEOUT
        while self.agent.call("getDevice", deviceId=d["deviceId"])["connectionState"] != "Disconnected":
            self.assertLess(time.monotonic(), deadline, "still connected after being disabled")
        err = self.agent.fails("sendEvent", name=d["deviceId"], data="after disable")
        self.assertEqual(err["name"], "UnauthorizedError", err)

    def test_x509_device_registered_by_thumbprint(self):
        cert, key = self.pki.client
        out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha1"], capture_output=True,
                             text=True, check=True).stdout
        thumbprint = out.split("=", 1)[1].strip().replace(":", "")
        device_id = "x509-" + secrets.token_hex(3)
        d = self.agent.call("create", device={"deviceId": device_id, "authentication": {
            "x509Thumbprint": {"primaryThumbprint": thumbprint, "secondaryThumbprint": thumbprint}}})
        self.assertEqual(d["authentication"]["type"], "selfSigned", d)
        cs = "HostName=%s;DeviceId=%s;x509=true" % (HOSTNAME, device_id)
        self.agent.call("open", name=device_id, connectionString=cs, certFile=cert, keyFile=key)
        self.addCleanup(self._close_quietly, device_id)
        sub = self.observer("devices/%s/messages/events/#" % device_id)
        self.agent.call("sendEvent", name=device_id, data="from a certificate")
        self.assertEqual(sub.get().payload, b"from a certificate")
        # Another certificate of the same CA is not this device.
        other = self.pki.leaf("mallory-" + device_id, "mallory", "ca", days="1")
        err = self.agent.fails("open", name=device_id + "-m", connectionString=cs, certFile=other[0], keyFile=other[1])
        self.assertIn("Not authorized", err["message"], err)

    def test_expired_sas_refused(self):
        d, _ = self.new_device("exp")
        key = d["authentication"]["symmetricKey"]["primaryKey"]
        expired = self.agent.call("sasToken", host=HOSTNAME, deviceId=d["deviceId"], key=key,
                                  expiry=int(time.time()) - 60)["sas"]
        err = self.agent.fails("open", name=d["deviceId"], sas=expired)
        self.assertIn("Not authorized", err["message"], err)
        valid = self.agent.call("sasToken", host=HOSTNAME, deviceId=d["deviceId"], key=key,
                                expiry=int(time.time()) + 600)["sas"]
        self.agent.call("open", name=d["deviceId"], sas=valid)
        self.agent.call("close", name=d["deviceId"])

    def test_device_cannot_touch_another_devices_topics(self):
        a, _ = self.new_device("dev-a")
        b, b_cs = self.new_device("dev-b")
        client = self.device_paho(a["deviceId"], a["authentication"]["symmetricKey"]["primaryKey"])
        self.assertEqual(client.subscribe("devices/%s/messages/devicebound/#" % a["deviceId"], qos=1), [1])
        self.assertEqual(client.subscribe("devices/%s/messages/devicebound/#" % b["deviceId"], qos=1), [0x80])
        self.assertEqual(client.subscribe("devices/%s/messages/events/#" % b["deviceId"], qos=1), [0x80])
        # Nor may it publish as B: B's telemetry subscriber gets B's own message first, not A's
        # forgery (acknowledged, as MQTT 3.1.1 has no way to refuse a PUBLISH, and dropped).
        sub = self.observer("devices/%s/messages/events/#" % b["deviceId"])
        client.publish("devices/%s/messages/events/" % b["deviceId"], b"forged", qos=1)
        self.agent.call("open", name=b["deviceId"], connectionString=b_cs)
        self.addCleanup(self._close_quietly, b["deviceId"])
        self.agent.call("sendEvent", name=b["deviceId"], data="genuine")
        self.assertEqual(sub.get().payload, b"genuine")

if __name__ == "__main__":
    unittest.main()
