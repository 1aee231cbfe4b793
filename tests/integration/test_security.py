"""Security, first slice (docs/security.md): loopback and anonymous by default, listeners beyond
loopback must say who may connect, username/password from a password file made by
`edgemq-cli passwd` (real mosquitto_pub/mosquitto_sub and paho), SIGHUP reloads it, $SYS is not
writable and another client's state store topics are not subscribable."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import paho.mqtt.client as mqtt

from support import rawmqtt as raw
from support.constants import require_program
from support.tls_pki import wait_log
from support.edgemq_harness import DaemonTestCase, EdgemqDaemon, run_edgemq
from support.paho_helper import PahoClient

MOSQUITTO_PUB = shutil.which("mosquitto_pub")
MOSQUITTO_SUB = shutil.which("mosquitto_sub")
TIMEOUT = 10.0
AREA = "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8"


def hex_upper(s):
    return s.encode("utf-8").hex().upper()


def passwd(path, user, password):
    """edgemq-cli passwd PATH USER with the password on standard input."""
    r = subprocess.run([require_program("EDGEMQ_CLI"), "passwd", path, user], input=password + "\n",
                       capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        raise AssertionError("edgemq-cli passwd failed (%d): %s" % (r.returncode, r.stderr))


def mosquitto_pub(port, topic, message, version="mqttv5", user=None, password=None, extra=()):
    cmd = [MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port), "-V", version, "-t", topic, "-m", message]
    if user is not None:
        cmd += ["-u", user]
    if password is not None:
        cmd += ["-P", password]
    return subprocess.run(cmd + list(extra), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=TIMEOUT)


def mosquitto_sub_one(port, topic, version="mqttv5", user=None, password=None):
    """The first message on `topic` (a retained one arrives at once), as mosquitto_sub prints it."""
    cmd = [MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(port), "-V", version, "-t", topic, "-C", "1", "-W", "10"]
    if user is not None:
        cmd += ["-u", user, "-P", password]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT + 5)


def paho(port, version=5, user=None, password=None, client_id=None):
    c = PahoClient("127.0.0.1", port, version=version, client_id=client_id)
    if user is not None:
        c.client.username_pw_set(user, password)
    return c


def connack_code(c):
    rc = c.connack["rc"]
    return rc.value if hasattr(rc, "value") else rc


def sys_value_at_least(port, topic, minimum, user=None, password=None, timeout=TIMEOUT):
    """Subscribes to a $SYS topic and waits (through the periodic refreshes) for a value >= minimum."""
    c = paho(port, 5, user, password)
    c.connect()
    try:
        c.subscribe(topic, 0)
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                m = c.get(timeout=max(0.1, deadline - time.monotonic()))
            except AssertionError:
                break
            value = int(m.payload)
            if value >= minimum:
                return value
        raise AssertionError("%s stayed at %s, expected at least %d" % (topic, value, minimum))
    finally:
        c.close()


@unittest.skipUnless(MOSQUITTO_PUB and MOSQUITTO_SUB, "mosquitto clients not installed")
class PasswordFileTest(unittest.TestCase):
    """A daemon with a password file made by edgemq-cli passwd; anonymous clients refused."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="edgemq-sec-")
        cls.pwfile = os.path.join(cls.dir, "passwd")
        passwd(cls.pwfile, "alice", "s3cret pass")
        passwd(cls.pwfile, "bob", "bobs-password")
        cls.daemon = EdgemqDaemon(config={"sys_interval_s": 1}, extra_args=["--password-file", cls.pwfile]).start()
        cls.port = cls.daemon.port

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daemon.stop(expect_rc=0)
        finally:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def test_passwd_writes_a_private_file_of_pbkdf2_lines(self):
        self.assertEqual(os.stat(self.pwfile).st_mode & 0o777, 0o600)
        with open(self.pwfile) as f:
            lines = f.read().splitlines()
        self.assertEqual([l.split(":", 1)[0] for l in lines], ["alice", "bob"])
        for l in lines:
            self.assertRegex(l, r"^[a-z]+:\$pbkdf2-sha512\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{88}$")
        with open(self.pwfile) as f:
            self.assertNotIn("s3cret", f.read())

    def test_passwd_refuses_bad_input_and_leaves_the_file_alone(self):
        with open(self.pwfile) as f:
            before = f.read()
        cli = require_program("EDGEMQ_CLI")
        for user, stdin, why in (("a:b", "pw\n", "':'"), ("carol", "", "no password"), ("carol", "\n", "no password")):
            r = subprocess.run([cli, "passwd", self.pwfile, user], input=stdin, capture_output=True, text=True,
                               timeout=TIMEOUT)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(why, r.stderr)
        r = subprocess.run([cli, "passwd", os.path.join(self.dir, "no-such-dir", "passwd"), "carol"], input="pw\n",
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 3, r.stderr)
        with open(self.pwfile) as f:
            self.assertEqual(f.read(), before)

    def test_right_password_connects_with_mosquitto_clients(self):
        for version in ("mqttv5", "mqttv311"):
            r = mosquitto_pub(self.port, "sec/ok", "hello", version, "alice", "s3cret pass")
            self.assertEqual(r.returncode, 0, "%s: %s%s" % (version, r.stdout, r.stderr))

    def test_edgemq_cli_authenticates_with_a_flag_or_the_environment(self):
        cli = require_program("EDGEMQ_CLI")
        base = [cli, "--port", str(self.port)]

        def run(args, env_password=None):
            env = dict(os.environ)
            env.pop("EDGEMQ_PASSWORD", None)
            if env_password is not None:
                env["EDGEMQ_PASSWORD"] = env_password
            return subprocess.run(base + args, capture_output=True, text=True, timeout=TIMEOUT, env=env)

        r = run(["state", "set", "cli-key", "v"])
        self.assertNotEqual(r.returncode, 0, "anonymous must be refused: %s" % r.stdout)
        self.assertIn("refused", r.stderr)
        r = run(["-u", "alice", "-P", "wrong", "state", "set", "cli-key", "v"])
        self.assertNotEqual(r.returncode, 0)
        r = run(["-u", "alice", "-P", "s3cret pass", "state", "set", "cli-key", "v1"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run(["--username", "alice", "state", "get", "cli-key"], env_password="s3cret pass")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "v1"), r.stderr)

    def test_wrong_password_and_unknown_user_are_refused_with_mosquitto_clients(self):
        for version in ("mqttv5", "mqttv311"):
            for user, pw in (("alice", "wrong"), ("alice", "bobs-password"), ("mallory", "s3cret pass")):
                r = mosquitto_pub(self.port, "sec/no", "x", version, user, pw)
                self.assertNotEqual(r.returncode, 0, "%s %s accepted" % (version, user))
                self.assertRegex((r.stdout + r.stderr).lower(), "not authori[sz]ed|bad user ?name or password",
                                 "%s %s" % (version, user))

    def test_paho_sees_the_reason_codes(self):
        cases = [(5, "alice", "s3cret pass", 0), (5, "alice", "wrong", 0x86), (5, "nobody", "x", 0x86),
                 (5, None, None, 0x87), (4, "bob", "bobs-password", 0), (4, "bob", "wrong", 4),
                 (4, None, None, 5)]
        for version, user, pw, expected in cases:
            c = paho(self.port, version, user, pw)
            try:
                c.connect(expect_success=False)
                self.assertEqual(connack_code(c), expected, "MQTT %d user %r" % (version, user))
            finally:
                c.close()

    def test_failures_are_counted_in_sys(self):
        c = paho(self.port, 5, "alice", "wrong")
        c.connect(expect_success=False)
        c.close()
        # Refreshed every second (sys_interval_s); this run has refused at least this one.
        sys_value_at_least(self.port, "$SYS/broker/auth/failures", 1, "alice", "s3cret pass")

    def test_the_password_is_never_logged(self):
        c = paho(self.port, 5, "alice", "wrong-and-secret")
        c.connect(expect_success=False)
        c.close()
        wait_log(self.daemon, "bad username or password")
        self.assertNotIn("wrong-and-secret", self.daemon.stdout.text() + self.daemon.stderr.text())


class SafeDefaultsTest(unittest.TestCase):
    """No listener beyond loopback lets anonymous clients in unless configured to."""

    def test_listen_beyond_loopback_without_auth_refuses_to_start(self):
        with tempfile.TemporaryDirectory() as d:
            for addr in ("0.0.0.0:0", "[::]:0"):
                r = run_edgemq(["--listen", "127.0.0.1:0", "--listen", addr, "--data-dir", d])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertNotIn("ready", r.stdout)
                lines = r.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn("--listen '%s'" % addr, lines[0])
                self.assertIn("--password-file or --allow-anonymous", lines[0])

    def test_config_listener_beyond_loopback_without_auth_refuses_to_start(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "edgemq.json")
            with open(path, "w") as f:
                f.write('{"listeners": ["127.0.0.1:0", {"address": "0.0.0.0:0"}]}')
            r = run_edgemq(["--config", path, "--data-dir", os.path.join(d, "data")])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr.strip(), r"^edgemq: config error in .*edgemq.json at /listeners/1: listener "
                                           r"0\.0\.0\.0:0 is beyond loopback .*allow_anonymous")

    def test_explicit_allow_anonymous_opens_it(self):
        with EdgemqDaemon(listen="0.0.0.0:0", extra_args=["--allow-anonymous"]) as d:
            self.assertIn("ready: MQTT on 0.0.0.0:", d.ready_line)
            c = raw.RawClient("127.0.0.1", d.port)
            c.connect("anonymous-on-any")
            c.close()
        with EdgemqDaemon(config={"listeners": [{"address": "0.0.0.0:0", "allow_anonymous": True}]}, listen=None) as d:
            c = raw.RawClient("127.0.0.1", d.port)
            c.connect("anonymous-on-any-config")
            c.close()

    def test_password_file_opens_it_for_known_users_only(self):
        with tempfile.TemporaryDirectory() as tmp:
            pw = os.path.join(tmp, "passwd")
            passwd(pw, "carol", "carols pw")
            with EdgemqDaemon(listen="0.0.0.0:0", extra_args=["--password-file", pw]) as d:
                c = raw.RawClient("127.0.0.1", d.port)
                c.connect("anon", expect_reason=0x87)
                c.close()
                c = raw.RawClient("127.0.0.1", d.port)
                c.connect("carol", username="carol", password=b"carols pw")
                c.close()

    def test_a_broken_password_file_stops_the_start(self):
        with tempfile.TemporaryDirectory() as tmp:
            pw = os.path.join(tmp, "passwd")
            with open(pw, "w") as f:
                f.write("carol:$pbkdf2-sha512$100$x$y\n")
            r = run_edgemq(["--listen", "127.0.0.1:0", "--password-file", pw, "--data-dir", os.path.join(tmp, "d")])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("line 1: ", r.stderr)

    def test_loopback_listener_stays_anonymous_without_password_file(self):
        with EdgemqDaemon(listen="127.0.0.1:0") as d:
            r = mosquitto_pub(d.port, "sec/anon", "x")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # Without a password file every client is anonymous, whatever it sends (as mosquitto).
            r = mosquitto_pub(d.port, "sec/anon", "x", user="anyone", password="anything")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


@unittest.skipUnless(MOSQUITTO_PUB and MOSQUITTO_SUB, "mosquitto clients not installed")
class ReloadTest(unittest.TestCase):
    """SIGHUP reloads the password file: new connections use it, existing ones stay; a file that
    fails to load keeps the old one."""

    def test_sighup_reloads_the_password_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            pw = os.path.join(tmp, "passwd")
            passwd(pw, "dave", "old password")
            with EdgemqDaemon(extra_args=["--password-file", pw]) as d:
                kept = paho(d.port, 5, "dave", "old password")
                kept.connect()
                kept.subscribe("sec/reload", 1)

                passwd(pw, "dave", "new password")
                d.send_signal(signal.SIGHUP)
                wait_log(d, "reload: password file")
                self.assertTrue(d.alive(), "SIGHUP ended the daemon\n" + d.output())

                r = mosquitto_pub(d.port, "sec/reload", "after reload", user="dave", password="new password",
                                  extra=["-q", "1"])
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertEqual(kept.get().payload, b"after reload")  # the old connection is still there
                r = mosquitto_pub(d.port, "sec/reload", "x", user="dave", password="old password")
                self.assertNotEqual(r.returncode, 0)

                # A broken file: logged, and the previous one stays in force.
                with open(pw, "a") as f:
                    f.write("broken line\n")
                d.send_signal(signal.SIGHUP)
                wait_log(d, "keeping the previous password file")
                self.assertIn("line 2", d.stdout.text())
                r = mosquitto_pub(d.port, "sec/reload", "still", user="dave", password="new password",
                                  extra=["-q", "1"])
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertEqual(kept.get().payload, b"still")
                kept.close()

    def test_sighup_without_password_file_does_not_stop_the_daemon(self):
        with EdgemqDaemon() as d:
            d.send_signal(signal.SIGHUP)
            wait_log(d, "nothing to reload")
            c = raw.RawClient("127.0.0.1", d.port)
            c.connect("after-hup")
            c.close()


@unittest.skipUnless(MOSQUITTO_PUB and MOSQUITTO_SUB, "mosquitto clients not installed")
class AccessRulesTest(DaemonTestCase):
    """Rules that hold for every client, authenticated or not."""

    config = {"sys_interval_s": 1}

    def test_sys_version_cannot_be_overwritten(self):
        r = mosquitto_pub(self.port, "$SYS/broker/version", "HACKED", extra=["-r"])
        self.assertEqual(r.returncode, 0, r.stderr)  # QoS 0: dropped silently
        r = mosquitto_pub(self.port, "$SYS/broker/version", "HACKED", "mqttv311", extra=["-r", "-q", "1"])
        self.assertEqual(r.returncode, 0, r.stderr)  # 3.1.1 has no refusal code: acknowledged, dropped
        r = mosquitto_sub_one(self.port, "$SYS/broker/version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("edgemq "), r.stdout)
        self.assertNotIn("HACKED", r.stdout)

    def test_v5_publish_to_sys_gets_not_authorized(self):
        c = self.track(raw.RawClient("127.0.0.1", self.port))
        c.connect("sys-writer")
        self.assertEqual(c.publish("$SYS/broker/x", b"1", qos=1).reason, 0x87)
        comp = c.publish("$SYS/broker/x", b"1", qos=2)
        self.assertEqual(comp.pubrec.reason, 0x87)
        self.assertEqual(c.publish("$SYS", b"1", qos=1).reason, 0x87)
        self.assertEqual(c.publish("sec/fine", b"1", qos=1).reason, 0x10)  # no subscribers: not refused

    def test_dropped_sys_publishes_are_not_routed(self):
        sub = self.track(raw.RawClient("127.0.0.1", self.port, version=raw.V311))
        sub.connect("sys-watcher")
        sub.subscribe([("$SYS/sec/#", 1), ("sec/marker", 1)])
        pub = self.track(raw.RawClient("127.0.0.1", self.port, version=raw.V311))
        pub.connect("sys-writer-311")
        self.assertIsNotNone(pub.publish("$SYS/sec/x", b"forged", qos=1))
        pub.publish("$SYS/sec/y", b"forged", qos=0)
        pub.publish("sec/marker", b"after", qos=1)
        p = sub.expect(raw.PUBLISH)  # in order from one publisher: the forged ones would come first
        self.assertEqual(p.topic, "sec/marker")
        sys_value_at_least(self.port, "$SYS/broker/auth/publish_denied", 2)

    def test_other_clients_state_store_topics_cannot_be_subscribed(self):
        victim = hex_upper("victim")
        for version, refused in ((5, 0x87), (4, 0x80)):
            c = self.track(paho(self.port, version, client_id="snooper-%d" % version))
            c.connect()
            for f in (AREA + "/" + victim + "/command/notify/#", AREA + "/" + victim + "/#", AREA + "/+/#",
                      "clients/#", "clients/statestore/v1/+/#", AREA + "/#"):
                self.assertEqual(c.subscribe(f, 1), [refused], "MQTT %d %s" % (version, f))
            own = AREA + "/" + hex_upper(c.client_id) + "/command/notify/#"
            self.assertEqual(c.subscribe(own, 1), [1])
            self.assertEqual(c.subscribe("#", 0), [0])  # ordinary wildcard subscriptions still work
            self.assertEqual(c.subscribe("$share/g/clients/#", 1), [refused if version == 5 else 0x80])
        sys_value_at_least(self.port, "$SYS/broker/auth/subscribe_denied", 12)

    def test_hash_subscribers_still_get_ordinary_topics(self):
        snooper = self.track(paho(self.port, 5, client_id="hash-subscriber"))
        snooper.connect()
        snooper.subscribe("#", 1)
        r = mosquitto_pub(self.port, "sec/ordinary", "visible", extra=["-q", "1"])
        self.assertEqual(r.returncode, 0, r.stderr)
        m = snooper.get()
        self.assertEqual((m.topic, m.payload), ("sec/ordinary", b"visible"))


if __name__ == "__main__":
    unittest.main()
