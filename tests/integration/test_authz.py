"""Authorization policies (docs/security.md, "Authorization"; ADR 0011): an Azure IoT Operations
authorizationPolicies object as JSON (--authz / "authz_file"), default deny, each substitution
token end to end with mosquitto_pub/mosquitto_sub, paho and raw packets, a client certificate's
subject as the principal over mTLS, state store key rules, a listener opted out, and SIGHUP
reloads (a changed policy for new connections only, a bad one keeping the previous policy)."""

import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from support import rawmqtt as raw
from support.constants import require_program
from support.edgemq_harness import DaemonTestCase, EdgemqDaemon, run_edgemq
from support.paho_helper import PahoClient
from support.statestore_client import NOTIFY_PREFIX, REQUEST_TOPIC, StateStoreClient
from support.tls_pki import OPENSSL, openssl, ready_ports

MOSQUITTO_PUB = shutil.which("mosquitto_pub")
MOSQUITTO_SUB = shutil.which("mosquitto_sub")
TIMEOUT = 10.0
NOT_AUTHORIZED = 0x87
# Every user of the policy has this password in the daemon's password file: a username is only an
# identity for the policy once the password file vouched for it.
PASSWORD = "pw"
USERS = ("alice", "bob", "sensor", "store-user", "mallory", "watcher")


def policy(extra_alice_publish=()):
    """The test policy. `extra_alice_publish`: more Publish topics for alice (to see a reload)."""
    return {"rules": [
        # {principal.username}: users publish and subscribe below their own name.
        {"principals": {"usernames": ["alice", "bob"]},
         "brokerResources": [
             {"method": "Connect"},
             {"method": "Publish", "topics": ["users/{principal.username}/#"] + list(extra_alice_publish)},
             {"method": "Subscribe", "topics": ["users/{principal.username}/#", "public/#"]}]},
        # {principal.clientId}: a sensor publishes on its own topic, and only with an id of its kind.
        {"principals": {"usernames": ["sensor"]},
         "brokerResources": [
             {"method": "Connect", "clientIds": ["sensor-*"]},
             {"method": "Publish", "topics": ["public/{principal.clientId}"]}]},
        # {principal.attributes.X} from a client certificate's subject (mTLS); its CN is the username.
        {"principals": {"attributes": [{"O": "contoso"}]},
         "brokerResources": [
             {"method": "Connect"},
             {"method": "Publish", "topics": ["sites/{principal.attributes.OU}/#", "devices/{principal.username}"]},
             {"method": "Subscribe", "topics": ["sites/{principal.attributes.OU}/#"]}]},
        # A state store client: the request topic, its response and notification topics, its keys.
        {"principals": {"usernames": ["store-user"]},
         "brokerResources": [
             {"method": "Connect"},
             {"method": "Publish", "topics": [REQUEST_TOPIC]},
             {"method": "Subscribe", "topics": ["clients/{principal.clientId}/#", NOTIFY_PREFIX + "/#"]}],
         "stateStoreResources": [
             {"method": "ReadWrite", "keyType": "Pattern", "keys": ["{principal.clientId}/*"]},
             {"method": "Read", "keyType": "String", "keys": ["shared-config"]},
             {"method": "Write", "keyType": "Binary", "keys": ["AAH/"]}]},
    ]}


class Pki:
    """A CA and client certificates with subject fields (O, OU) in `dir`; a server certificate."""

    def __init__(self, dir):
        self.dir = dir
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=authz test CA", cwd=dir)
        self.ca = os.path.join(dir, "ca.crt")
        with open(os.path.join(dir, "server.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        self.server = self.leaf("server", "/CN=localhost", ext="server.ext")
        self.plant7 = self.leaf("dev1", "/CN=dev1/O=contoso/OU=plant7")
        self.plant8 = self.leaf("dev2", "/CN=dev2/O=contoso/OU=plant8")
        self.foreign = self.leaf("dev3", "/CN=dev3/O=fabrikam/OU=plant7")

    def leaf(self, name, subject, ext=None):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key",
                "-out", name + ".csr", "-subj", subject, cwd=self.dir)
        args = ["x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                name + ".crt", "-days", "2"]
        if ext:
            args += ["-extfile", ext]
        openssl(*args, cwd=self.dir)
        return os.path.join(self.dir, name + ".crt"), os.path.join(self.dir, name + ".key")


def write_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


@unittest.skipUnless(OPENSSL and MOSQUITTO_PUB and MOSQUITTO_SUB, "needs openssl and mosquitto-clients")
class AuthzPolicy(DaemonTestCase):
    """One daemon with the policy above: a plain listener under the policy, a plain listener
    opted out ("authorization": false) and an mTLS listener under the policy."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="edgemq-authz-")
        cls.pki = Pki(cls.dir)
        cls.policy_path = os.path.join(cls.dir, "authz.json")
        write_json(cls.policy_path, policy())
        cert, key = cls.pki.server
        cls.passwd = os.path.join(cls.dir, "passwd")
        for user in USERS:
            subprocess.run([require_program("EDGEMQ_CLI"), "passwd", cls.passwd, user], input=PASSWORD + "\n",
                           text=True, check=True, capture_output=True)
        config = {"authz_file": cls.policy_path, "password_file": cls.passwd, "sys_interval_s": 1, "listeners": [
            "127.0.0.1:0",
            {"address": "127.0.0.1:0", "authorization": False, "allow_anonymous": True},
            {"address": "mqtts://127.0.0.1:0",
             "tls": {"cert": cert, "key": key, "client_ca": cls.pki.ca, "require_client_cert": True}},
        ]}
        unittest.TestCase.setUpClass()
        cls.daemon = EdgemqDaemon(config=config, listen=None).start()
        cls.port, cls.open_port, cls.mtls_port = [p for _, p in ready_ports(cls.daemon)]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.policy_changed = False

    def tearDown(self):
        if self.policy_changed:  # leave the daemon with the policy it started with
            write_json(self.policy_path, policy())
            self.reload("reload: authorization policy")
        super().tearDown()

    def reload(self, expect):
        """SIGHUP, then the first log line after it containing `expect`."""
        mark = len(self.daemon.stdout.lines)
        self.daemon.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + TIMEOUT
        while True:
            for line in list(self.daemon.stdout.lines)[mark:]:
                if expect in line:
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.fail("no log line with %r after SIGHUP\n%s" % (expect, self.daemon.output()))
            try:
                self.daemon.stdout.queue.get(timeout=remaining)
            except queue.Empty:
                pass

    # ---------------------------------------------------------------- helpers
    def pub(self, topic, message, user=None, version="mqttv5", client_id=None, port=None, cert=None, qos=1):
        cmd = [MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port or self.port), "-V", version, "-q", str(qos),
               "-t", topic, "-m", message]
        if user:
            cmd += ["-u", user, "-P", PASSWORD]
        if client_id:
            cmd += ["-i", client_id]
        if cert:
            cmd += ["--cafile", self.pki.ca, "--cert", cert[0], "--key", cert[1]]
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT)

    def sub(self, topic, user=None, port=None, cert=None, count=1, version="mqttv5"):
        """A running mosquitto_sub (-v: "topic payload" lines)."""
        cmd = [MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(port or self.port), "-V", version, "-t", topic,
               "-C", str(count), "-W", "10", "-v"]
        if user:
            cmd += ["-u", user, "-P", PASSWORD]
        if cert:
            cmd += ["--cafile", self.pki.ca, "--cert", cert[0], "--key", cert[1]]
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def paho(self, user=None, version=5, client_id=None, port=None):
        c = PahoClient("127.0.0.1", port or self.port, version=version, client_id=client_id)
        if user is not None:
            c.client.username_pw_set(user, PASSWORD)
        return self.track(c)

    def rawc(self, client_id, user, version=raw.V5, port=None):
        c = self.track(raw.RawClient("127.0.0.1", port or self.port, version=version))
        c.connect(client_id, username=user, password=PASSWORD if user else None)
        return c

    def watcher(self, topic):
        """A paho client on the opted-out listener, subscribed to `topic` (sees what is routed)."""
        w = self.paho("watcher", port=self.open_port)
        w.connect()
        w.subscribe(topic, 1)
        return w

    # ---------------------------------------------------------------- default deny
    def test_nobody_the_policy_names_is_refused_at_connect(self):
        for version in ("mqttv5", "mqttv311"):
            r = self.pub("users/mallory/x", "x", "mallory", version)
            self.assertNotEqual(r.returncode, 0, version)
            self.assertRegex((r.stdout + r.stderr).lower(), "not authori[sz]ed", version)
        for version, expected in ((5, NOT_AUTHORIZED), (4, 5)):
            for user in ("mallory", None):
                c = self.paho(user, version)
                c.connect(expect_success=False)
                rc = c.connack["rc"]
                self.assertEqual(rc.value if hasattr(rc, "value") else rc, expected, (version, user))
        # The opted-out listener lets mallory in.
        self.assertEqual(self.pub("anything", "x", "mallory", port=self.open_port).returncode, 0)

    def test_what_no_rule_grants_is_denied(self):
        w = self.watcher("#")
        alice = self.rawc(self.unique("alice"), "alice")
        self.assertEqual(alice.publish("users/bob/x", b"no", qos=1).reason, NOT_AUTHORIZED)
        self.assertEqual(alice.publish("users/bob/x", b"no", qos=2).pubrec.reason, NOT_AUTHORIZED)
        alice.publish("users/bob/x", b"no", qos=0)
        self.assertEqual(alice.publish("public/x", b"no", qos=1).reason, NOT_AUTHORIZED)  # Subscribe only
        self.assertEqual(alice.subscribe([("users/bob/#", 1), ("#", 1), ("users/alice/+", 1), ("public/a", 0)]).reasons,
                         [NOT_AUTHORIZED, NOT_AUTHORIZED, 1, 0])
        old = self.rawc(self.unique("alice311"), "alice", raw.V311)
        self.assertEqual(old.publish("users/bob/y", b"no", qos=1).reason, 0)  # 3.1.1: acknowledged, dropped
        self.assertEqual(old.subscribe([("users/bob/#", 1)]).reasons, [0x80])
        self.assertEqual(alice.publish("users/alice/ok", b"yes", qos=1).reason, 0)
        got = w.get()
        self.assertEqual((got.topic, got.payload), ("users/alice/ok", b"yes"))  # nothing denied got through
        self.assertEqual(w.drain(), [])
        # Counted: a $SYS reader on the opted-out listener.
        for topic in ("$SYS/broker/auth/publish_denied", "$SYS/broker/auth/subscribe_denied"):
            self.wait_sys_at_least(topic, 3)

    def wait_sys_at_least(self, topic, minimum):
        c = self.paho(port=self.open_port)  # anonymous: the opted-out listener lets it in
        c.connect()
        c.subscribe(topic, 0)
        deadline = time.monotonic() + TIMEOUT
        value = None
        while time.monotonic() < deadline:
            value = int(c.get(timeout=max(0.1, deadline - time.monotonic())).payload)
            if value >= minimum:
                return value
        self.fail("%s stayed at %s" % (topic, value))

    # ---------------------------------------------------------------- tokens, end to end
    def test_username_token_with_mosquitto_clients(self):
        w = self.watcher("users/#")
        s = self.sub("users/alice/#", "alice")
        try:
            # (mosquitto_sub is up once a message published after it connected arrives; retry the
            # first publish until it does, the only way to know without a log line.)
            deadline = time.monotonic() + TIMEOUT
            self.pub("users/bob/x", "to bob", "alice")  # refused (PUBACK 0x87), never delivered
            while s.poll() is None and time.monotonic() < deadline:
                self.assertEqual(self.pub("users/alice/x", "hello", "alice").returncode, 0)
                try:
                    s.wait(0.2)
                except subprocess.TimeoutExpired:
                    pass
            out, err = s.communicate(timeout=TIMEOUT)
            self.assertEqual(out.strip().splitlines()[0], "users/alice/x hello", err)
        finally:
            if s.poll() is None:
                s.kill()
                s.communicate()
        # alice's message to bob's topic, acknowledged before the first to her own, was never routed.
        self.assertEqual(w.get().topic, "users/alice/x")
        self.assertNotIn("users/bob/x", [m.topic for m in w.drain()])
        for version in ("mqttv5", "mqttv311"):
            r = subprocess.run([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(self.port), "-V", version, "-u", "alice", "-P", PASSWORD,
                                "-t", "users/bob/#", "-C", "1", "-W", "5"], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=TIMEOUT)
            self.assertIn("All subscription requests were denied", r.stderr, version)

    def test_client_id_token(self):
        w = self.watcher("public/#")
        self.assertEqual(self.pub("public/sensor-12", "21.5", "sensor", client_id="sensor-12").returncode, 0)
        got = w.get()
        self.assertEqual((got.topic, got.payload), ("public/sensor-12", b"21.5"))
        s = self.rawc("sensor-13", "sensor")
        self.assertEqual(s.publish("public/sensor-12", b"spoof", qos=1).reason, NOT_AUTHORIZED)
        # Connect is granted only to client ids matching "sensor-*".
        self.assertNotEqual(self.pub("public/x", "x", "sensor", client_id="thermo-1").returncode, 0)
        c = self.track(raw.RawClient("127.0.0.1", self.port))
        c.connect("thermo-2", username="sensor", password=PASSWORD, expect_reason=NOT_AUTHORIZED)
        self.assertEqual(s.publish("public/sensor-13", b"mine", qos=1).reason, 0)
        self.assertEqual(w.get().topic, "public/sensor-13")
        self.assertEqual(w.drain(), [])

    def test_certificate_subject_as_principal_over_mtls(self):
        w = self.watcher("#")
        # dev1: O=contoso (matches the rule), OU=plant7 (its sites), CN=dev1 (its username).
        for topic in ("sites/plant7/line1", "devices/dev1"):
            r = self.pub(topic, "from dev1", port=self.mtls_port, cert=self.pki.plant7)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = w.get()
            self.assertEqual((got.topic, got.payload), (topic, b"from dev1"))
        for topic in ("sites/plant8/line1", "devices/dev2"):
            self.pub(topic, "denied", port=self.mtls_port, cert=self.pki.plant7)  # PUBACK 0x87
        self.assertEqual(self.pub("sites/plant8/ok", "from dev2", port=self.mtls_port, cert=self.pki.plant8).returncode, 0)
        self.assertEqual(w.get().topic, "sites/plant8/ok")
        self.assertEqual(w.drain(), [])
        # O=fabrikam: no rule for it, refused at CONNECT.
        r = self.pub("sites/plant7/x", "x", port=self.mtls_port, cert=self.pki.foreign)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex((r.stdout + r.stderr).lower(), "not authori[sz]ed")
        # Subscribing: only its own site.
        c = PahoClient("127.0.0.1", self.mtls_port, version=5)
        c.client.tls_set(ca_certs=self.pki.ca, certfile=self.pki.plant7[0], keyfile=self.pki.plant7[1])
        self.track(c)
        c.connect()
        self.assertEqual(c.subscribe("sites/plant8/#", 1), [NOT_AUTHORIZED])
        self.assertEqual(c.subscribe("sites/plant7/+", 1), [1])

    def test_a_will_goes_only_where_the_client_may_publish(self):
        c = self.track(raw.RawClient("127.0.0.1", self.port))
        c.connect(self.unique("w"), username="alice", password=PASSWORD, will={"topic": "users/bob/will", "payload": b"x"},
                  expect_reason=NOT_AUTHORIZED)
        c = self.track(raw.RawClient("127.0.0.1", self.port))
        c.connect(self.unique("w"), username="alice", password=PASSWORD, will={"topic": "users/alice/will", "payload": b"x"})

    # ---------------------------------------------------------------- state store keys
    def store(self, client_id):
        s = StateStoreClient("127.0.0.1", self.port, client_id=client_id)
        s.client.username_pw_set("store-user", PASSWORD)
        self.track(s)
        return s.connect()

    def test_state_store_key_rules(self):
        s = self.store("plc-4")
        self.assertEqual(s.set(b"plc-4/setpoint", b"42").payload, b"+OK\r\n")
        self.assertEqual(s.get(b"plc-4/setpoint").payload, b"$2\r\n42\r\n")
        self.assertEqual(s.keynotify(b"plc-4/setpoint").payload, b"+OK\r\n")
        denied = b"-ERR not authorized\r\n"
        self.assertEqual(s.set(b"plc-5/setpoint", b"1").payload, denied)
        self.assertEqual(s.get(b"plc-5/setpoint").payload, denied)
        self.assertEqual(s.delete(b"plc-5/setpoint").payload, denied)
        self.assertEqual(s.get(b"shared-config").payload, b"$-1\r\n")  # Read, String
        self.assertEqual(s.set(b"shared-config", b"x").payload, denied)
        self.assertEqual(s.keynotify(b"shared-config").payload, b"+OK\r\n")
        self.assertEqual(s.set(b"\x00\x01\xff", b"bin").payload, b"+OK\r\n")  # Write, Binary
        self.assertEqual(s.get(b"\x00\x01\xff").payload, denied)
        self.assertEqual(s.set(b"shared-*", b"x").payload, denied)
        # A notification for its own key reaches it through its granted notification filter.
        self.assertEqual(s.set(b"plc-4/setpoint", b"43").payload, b"+OK\r\n")
        self.assertEqual(s.next_notification().payload.count(b"43"), 1)
        self.wait_sys_at_least("$SYS/broker/auth/key_denied", 5)

    # ---------------------------------------------------------------- reload
    def test_reload_applies_to_new_connections_and_keeps_live_ones(self):
        w = self.watcher("extra/#")
        before = self.rawc(self.unique("before"), "alice")
        self.assertEqual(before.publish("extra/x", b"no", qos=1).reason, NOT_AUTHORIZED)
        write_json(self.policy_path, policy(extra_alice_publish=["extra/#"]))
        self.policy_changed = True
        self.reload("reload: authorization policy")
        after = self.rawc(self.unique("after"), "alice")
        self.assertEqual(after.publish("extra/x", b"new", qos=1).reason, 0)
        self.assertEqual(w.get().payload, b"new")
        # The connection made before keeps the permissions it had, and stays connected.
        self.assertEqual(before.publish("extra/x", b"still no", qos=1).reason, NOT_AUTHORIZED)
        self.assertLess(before.publish("users/alice/x", b"ok", qos=1).reason, 0x80)  # 0x10: no subscribers
        before.ping()
        self.assertEqual(w.drain(), [])

    def test_a_bad_reload_keeps_the_previous_policy(self):
        with open(self.policy_path, "w") as f:
            f.write('{"rules": [{"principals": {"usernames": ["mallory"]}, "brokerResources": [{"method": "Conect"}]}]}')
        self.policy_changed = True
        line = self.reload("keeping the previous authorization policy")
        self.assertIn("/rules/0/brokerResources/0/method", line)
        c = self.track(raw.RawClient("127.0.0.1", self.port))
        c.connect(self.unique("m"), username="mallory", password=PASSWORD, expect_reason=NOT_AUTHORIZED)
        alice = self.rawc(self.unique("alice"), "alice")
        self.assertLess(alice.publish("users/alice/x", b"ok", qos=1).reason, 0x80)  # 0x10: no subscribers


class AuthzStartup(unittest.TestCase):
    """A policy that does not load stops the start with exit status 2, naming the problem."""

    def test_bad_policy_files_stop_the_start(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "authz.json")
            cases = [
                ('{"rules": [', "not valid JSON"),
                ('{"rules": [{"principals": {"usernames": ["u"]}, "brokerResources": '
                 '[{"method": "Publish", "topics": ["a/#/b"]}]}]}',
                 "at /rules/0/brokerResources/0/topics/0: not a valid MQTT topic filter"),
                ('{"rules": [{"principals": {"usernames": ["u"]}, "stateStoreResources": '
                 '[{"method": "Read", "keyType": "Regex", "keys": ["k"]}]}]}',
                 "at /rules/0/stateStoreResources/0/keyType"),
            ]
            for text, expected in cases:
                with open(path, "w") as f:
                    f.write(text)
                r = run_edgemq(["--listen", "127.0.0.1:0", "--data-dir", os.path.join(d, "data"), "--authz", path])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertNotIn("ready", r.stdout)
                self.assertIn("authz file '%s'" % path, r.stderr)
                self.assertIn(expected, r.stderr)
            r = run_edgemq(["--listen", "127.0.0.1:0", "--data-dir", os.path.join(d, "data"), "--authz",
                            os.path.join(d, "missing.json")])
            self.assertEqual(r.returncode, 2)
            self.assertIn("cannot be read", r.stderr)
            with open(os.path.join(d, "edgemq.json"), "w") as f:
                f.write('{"authz_file": 3}')
            r = run_edgemq(["--config", os.path.join(d, "edgemq.json"), "--data-dir", os.path.join(d, "data")])
            self.assertEqual(r.returncode, 2)
            self.assertIn("/authz_file", r.stderr)


if __name__ == "__main__":
    unittest.main()
