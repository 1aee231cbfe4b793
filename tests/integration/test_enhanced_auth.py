"""Enhanced authentication (docs/security.md, ADR 0012), driven by a raw MQTT 5 client (paho 1.x
cannot answer AUTH): K8S-SAT with JWTs signed here by openssl keys (RS256 from a PEM key, ES256
from a JWKS), expired / foreign-audience / foreign-key tokens refused, re-authentication by AUTH
0x19 before expiry keeps the connection, a token left to expire ends it with DISCONNECT 0xA0,
SIGHUP reloads the keys (a broken file keeps the old ones), and SCRAM-SHA-256 end to end
against a password file made by `edgemq-cli passwd --scram`."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from support import rawmqtt as raw
from support import tokens
from support.constants import HOST, require_program
from support.tls_pki import wait_log
from support.edgemq_harness import EdgemqDaemon

TIMEOUT = 10.0
AUDIENCE = "aio-internal"
SAT = "K8S-SAT"
SCRAM = "SCRAM-SHA-256"
RC_BAD_CREDENTIALS, RC_NOT_AUTHORIZED, RC_BAD_METHOD, RC_MAX_CONNECT_TIME = 0x86, 0x87, 0x8C, 0xA0


class EnhancedAuthCase(unittest.TestCase):
    clients = None

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()

    def client(self):
        c = raw.RawClient(HOST, self.port, timeout=TIMEOUT)
        self.clients.append(c)
        return c

    def sat_connect(self, token, client_id="", expect=0):
        c = self.client()
        c.send(raw.connect(client_id, properties=[(raw.P_AUTH_METHOD, SAT), (raw.P_AUTH_DATA, token)]))
        ack = c.expect(raw.CONNACK)
        self.assertEqual(ack.reason, expect, ack)
        return c, ack

    def sys_value(self, c, topic):
        """The next value of a $SYS topic, read on an authenticated connection `c`."""
        c.subscribe(topic)
        return int(c.expect(raw.PUBLISH).payload)


class K8sSatTest(EnhancedAuthCase):
    """One daemon with an RSA key (--jwt-key) and an EC key (--jwks), issuer and audience set."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="edgemq-sat-")
        cls.rsa = tokens.KeyPair(cls.dir, "rsa", "rsa")
        cls.ec = tokens.KeyPair(cls.dir, "ec", "ec")
        cls.stranger = tokens.KeyPair(cls.dir, "stranger", "ec")
        cls.jwks = os.path.join(cls.dir, "jwks.json")
        tokens.write_jwks(cls.jwks, [cls.ec.jwk("ec-1")])
        cls.daemon = EdgemqDaemon(config={"sys_interval_s": 1}, extra_args=[
            "--jwt-key", cls.rsa.public, "--jwks", cls.jwks, "--jwt-issuer", tokens.K8S_ISSUER,
            "--jwt-audience", AUDIENCE]).start()
        cls.port = cls.daemon.port

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_rs256_service_account_token_connects_and_works(self):
        c, ack = self.sat_connect(self.rsa.sign(tokens.sat_claims()), "sat-rs")
        self.assertEqual(ack.props.get(raw.P_AUTH_METHOD), SAT)
        self.assertEqual(c.subscribe([("sat/rs", 1)]).reasons, [1])
        self.assertEqual(c.publish("sat/rs", b"hello", qos=1).reason, 0)
        self.assertEqual(c.expect(raw.PUBLISH).payload, b"hello")

    @unittest.skipUnless(shutil.which("mosquitto_pub"), "mosquitto clients not installed")
    def test_mosquitto_pub_with_a_service_account_token(self):
        # A real client: mosquitto_pub sends the method and the token in its CONNECT (-D connect).
        def pub(token, client_id):
            return subprocess.run([shutil.which("mosquitto_pub"), "-h", HOST, "-p", str(self.port), "-V", "mqttv5",
                                   "-i", client_id, "-D", "connect", "authentication-method", SAT, "-D", "connect",
                                   "authentication-data", token, "-t", "sat/mosquitto", "-m", "hi"],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT)
        ok = pub(self.rsa.sign(tokens.sat_claims()), "mosq-sat-ok")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        expired = pub(self.rsa.sign(tokens.sat_claims(lifetime=-5)), "mosq-sat-expired")
        self.assertEqual(expired.returncode, RC_NOT_AUTHORIZED, expired.stderr)
        foreign = pub(self.rsa.sign(tokens.sat_claims(audience="someone-else")), "mosq-sat-aud")
        self.assertEqual(foreign.returncode, RC_BAD_CREDENTIALS, foreign.stderr)
        wait_log(self.daemon, "client 'mosq-sat-aud' refused by K8S-SAT: wrong audience (0x86)")

    def test_es256_token_from_the_jwks_connects(self):
        self.sat_connect(self.ec.sign(tokens.sat_claims(), kid="ec-1"), "sat-es")
        # A token file read as it is, trailing newline included (as the AIO SDKs send it).
        self.sat_connect(self.ec.sign(tokens.sat_claims()) + "\n", "sat-es-nl")

    def test_expired_token_is_refused(self):
        c, _ = self.sat_connect(self.rsa.sign(tokens.sat_claims(lifetime=-5)), "sat-expired", RC_NOT_AUTHORIZED)
        self.assertTrue(c.is_closed_within(TIMEOUT))
        wait_log(self.daemon, "token expired")

    def test_foreign_audience_issuer_or_key_is_refused(self):
        self.sat_connect(self.rsa.sign(tokens.sat_claims(audience="someone-else")), "sat-aud", RC_BAD_CREDENTIALS)
        self.sat_connect(self.rsa.sign(tokens.sat_claims(issuer="https://other")), "sat-iss", RC_BAD_CREDENTIALS)
        self.sat_connect(self.stranger.sign(tokens.sat_claims()), "sat-key", RC_BAD_CREDENTIALS)
        self.sat_connect(b"not a token", "sat-junk", RC_BAD_CREDENTIALS)
        wait_log(self.daemon, "wrong audience")

    def test_unknown_method_and_anonymous_clients_are_refused_and_counted(self):
        c, _ = self.sat_connect(self.rsa.sign(tokens.sat_claims()), "sat-counter")
        before = self.sys_value(c, "$SYS/broker/auth/failures")
        bad = self.client()
        bad.send(raw.connect("sat-method", properties=[(raw.P_AUTH_METHOD, "OAUTH-MAGIC")]))
        self.assertEqual(bad.expect(raw.CONNACK).reason, RC_BAD_METHOD)
        anon = self.client()  # JWT keys are an authentication method: no anonymous default
        anon.send(raw.connect("sat-anon"))
        self.assertEqual(anon.expect(raw.CONNACK).reason, RC_NOT_AUTHORIZED)
        self.sat_connect(self.rsa.sign(tokens.sat_claims(audience="x")), "sat-bad", RC_BAD_CREDENTIALS)
        deadline = time.monotonic() + TIMEOUT
        while True:  # $SYS is refreshed every second: wait for the refresh that counts all three
            value = int(c.expect(raw.PUBLISH).payload)
            if value >= before + 3 or time.monotonic() > deadline:
                break
        self.assertGreaterEqual(value, before + 3)

    def test_reauthentication_before_expiry_keeps_the_connection(self):
        lifetime = 3
        first = tokens.sat_claims(lifetime=lifetime)
        c, _ = self.sat_connect(self.rsa.sign(first), "sat-reauth")
        c.send(raw.auth(raw.AUTH_REAUTHENTICATE, [(raw.P_AUTH_METHOD, SAT),
                                                  (raw.P_AUTH_DATA, self.ec.sign(tokens.sat_claims(lifetime=60)))]))
        done = c.expect(raw.AUTH)
        self.assertEqual(done.reason, raw.AUTH_SUCCESS, done)
        self.assertEqual(done.props.get(raw.P_AUTH_METHOD), SAT)
        # Past the first token's expiry (+1 s of margin) the connection is still open and serving.
        wait = first["exp"] + 1 - time.time()
        self.assertFalse(c.is_closed_within(max(wait, 0.1)), "closed although re-authenticated")
        c.ping()

    def test_expiry_without_reauthentication_ends_the_connection_with_0xa0(self):
        claims = tokens.sat_claims(lifetime=2)
        c, _ = self.sat_connect(self.rsa.sign(claims), "sat-expiry")
        d = c.expect(raw.DISCONNECT, timeout=TIMEOUT, skip=(raw.PINGRESP,))
        self.assertEqual(d.reason, RC_MAX_CONNECT_TIME, d)
        self.assertGreaterEqual(time.time(), claims["exp"] - 0.05, "disconnected before the token expired")
        self.assertTrue(c.is_closed_within(TIMEOUT))
        wait_log(self.daemon, "credentials expired without re-authentication")

    def test_reauthentication_with_a_bad_token_or_another_subject_ends_the_connection(self):
        c, _ = self.sat_connect(self.rsa.sign(tokens.sat_claims()), "sat-reauth-bad")
        c.send(raw.auth(raw.AUTH_REAUTHENTICATE, [(raw.P_AUTH_METHOD, SAT),
                                                  (raw.P_AUTH_DATA, self.rsa.sign(tokens.sat_claims(lifetime=-1)))]))
        self.assertEqual(c.expect(raw.DISCONNECT).reason, RC_NOT_AUTHORIZED)
        self.assertTrue(c.is_closed_within(TIMEOUT))
        c, _ = self.sat_connect(self.rsa.sign(tokens.sat_claims()), "sat-reauth-other")
        other = tokens.sat_claims(subject="system:serviceaccount:kube-system:admin")
        c.send(raw.auth(raw.AUTH_REAUTHENTICATE, [(raw.P_AUTH_METHOD, SAT), (raw.P_AUTH_DATA, self.rsa.sign(other))]))
        self.assertEqual(c.expect(raw.DISCONNECT).reason, RC_NOT_AUTHORIZED)
        wait_log(self.daemon, "another subject")


class JwtReloadTest(EnhancedAuthCase):
    """SIGHUP reads the JWKS again: a new key works after it, a broken file keeps the old keys."""

    def test_sighup_reloads_the_jwks_and_a_broken_file_keeps_the_keys(self):
        d = tempfile.mkdtemp(prefix="edgemq-jwks-")
        self.addCleanup(shutil.rmtree, d, True)
        old, new = tokens.KeyPair(d, "old", "ec"), tokens.KeyPair(d, "new", "rsa")
        jwks = os.path.join(d, "jwks.json")
        tokens.write_jwks(jwks, [old.jwk("old")])
        with EdgemqDaemon(extra_args=["--jwks", jwks]) as daemon:
            self.port = daemon.port
            kept, _ = self.sat_connect(old.sign(tokens.sat_claims()), "kept")
            self.sat_connect(new.sign(tokens.sat_claims()), "early", RC_BAD_CREDENTIALS)
            tokens.write_jwks(jwks, [new.jwk("new")])
            daemon.send_signal(signal.SIGHUP)
            wait_log(daemon, "reload: JWT keys loaded")
            self.sat_connect(new.sign(tokens.sat_claims()), "after")
            self.sat_connect(old.sign(tokens.sat_claims()), "old-after", RC_BAD_CREDENTIALS)
            kept.ping()  # connections made before the reload stay
            with open(jwks, "w") as f:
                f.write('{"keys": [')
            daemon.send_signal(signal.SIGHUP)
            wait_log(daemon, "keeping the previous JWT keys")
            self.sat_connect(new.sign(tokens.sat_claims()), "after-bad")
            self.assertTrue(daemon.alive())

    def test_a_bad_key_file_at_start_exits_2_naming_it(self):
        d = tempfile.mkdtemp(prefix="edgemq-jwks-")
        self.addCleanup(shutil.rmtree, d, True)
        bad = os.path.join(d, "bad.pem")
        with open(bad, "w") as f:
            f.write("not a key\n")
        r = subprocess.run([require_program("EDGEMQ_BIN"), "--listen", "127.0.0.1:0", "--data-dir", d, "--jwt-key",
                            bad], capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("bad.pem", r.stderr)


class ScramTest(EnhancedAuthCase):
    """SCRAM-SHA-256 over AUTH against a password file written by edgemq-cli passwd --scram."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="edgemq-scram-")
        cls.pwfile = os.path.join(cls.dir, "passwd")
        for user, password, extra in (("alice", "pencil sharp", ["--scram"]), ("bob", "plain only", [])):
            r = subprocess.run([require_program("EDGEMQ_CLI"), "passwd", cls.pwfile, user] + extra,
                               input=password + "\n", capture_output=True, text=True, timeout=TIMEOUT)
            assert r.returncode == 0, r.stderr
        cls.daemon = EdgemqDaemon(extra_args=["--password-file", cls.pwfile]).start()
        cls.port = cls.daemon.port

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def exchange(self, user, password, client_id):
        """CONNECT with client-first, AUTH 0x18 with client-final; returns (client, CONNACK, scram)."""
        s = tokens.ScramClient(user, password)
        c = self.client()
        c.send(raw.connect(client_id, properties=[(raw.P_AUTH_METHOD, SCRAM), (raw.P_AUTH_DATA, s.first())]))
        challenge = c.expect(raw.AUTH)
        self.assertEqual(challenge.reason, raw.AUTH_CONTINUE, challenge)
        self.assertEqual(challenge.props.get(raw.P_AUTH_METHOD), SCRAM)
        final = s.final(challenge.props[raw.P_AUTH_DATA].decode())
        c.send(raw.auth(raw.AUTH_CONTINUE, [(raw.P_AUTH_METHOD, SCRAM), (raw.P_AUTH_DATA, final)]))
        return c, c.expect(raw.CONNACK), s

    def test_scram_exchange_end_to_end(self):
        c, ack, s = self.exchange("alice", "pencil sharp", "scram-ok")
        self.assertEqual(ack.reason, 0, ack)
        self.assertEqual(ack.props.get(raw.P_AUTH_METHOD), SCRAM)
        # The server proves it knows the ServerKey too (RFC 5802 3: mutual authentication).
        self.assertTrue(s.verify_server_final(ack.props[raw.P_AUTH_DATA].decode()), ack.props)
        c.ping()

    def test_scram_reauthentication_runs_the_exchange_again(self):
        c, ack, _ = self.exchange("alice", "pencil sharp", "scram-reauth")
        self.assertEqual(ack.reason, 0, ack)
        s = tokens.ScramClient("alice", "pencil sharp")
        c.send(raw.auth(raw.AUTH_REAUTHENTICATE, [(raw.P_AUTH_METHOD, SCRAM), (raw.P_AUTH_DATA, s.first())]))
        challenge = c.expect(raw.AUTH)
        self.assertEqual(challenge.reason, raw.AUTH_CONTINUE, challenge)
        final = s.final(challenge.props[raw.P_AUTH_DATA].decode())
        c.send(raw.auth(raw.AUTH_CONTINUE, [(raw.P_AUTH_METHOD, SCRAM), (raw.P_AUTH_DATA, final)]))
        done = c.expect(raw.AUTH)
        self.assertEqual(done.reason, raw.AUTH_SUCCESS, done)
        self.assertTrue(s.verify_server_final(done.props[raw.P_AUTH_DATA].decode()))
        c.ping()

    def test_wrong_password_and_users_without_scram_are_refused(self):
        _, ack, _ = self.exchange("alice", "pencil blunt", "scram-wrong")
        self.assertEqual(ack.reason, RC_BAD_CREDENTIALS)
        _, ack, _ = self.exchange("bob", "plain only", "scram-bob")
        self.assertEqual(ack.reason, RC_BAD_CREDENTIALS)
        _, ack, _ = self.exchange("mallory", "x", "scram-unknown")
        self.assertEqual(ack.reason, RC_BAD_CREDENTIALS)
        wait_log(self.daemon, "refused by SCRAM-SHA-256: wrong proof (wrong password or unknown user) (0x86)")

    def test_the_scram_user_still_logs_in_with_username_and_password(self):
        c = self.client()
        c.connect("scram-plain", username="alice", password="pencil sharp")
        c.ping()


if __name__ == "__main__":
    unittest.main()
