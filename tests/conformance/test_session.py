"""MQTT 5.0 sections 3.1.2.4 (Clean Start), 3.1.2.11.2 (Session Expiry Interval) and 4.1
(Session State).

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.1.2-4] If a CONNECT packet is received with Clean Start is set to 1, the Client and
    Server MUST discard any existing Session and start a new Session.
[MQTT-3.1.2-5] If a CONNECT packet is received with Clean Start set to 0 and there is a Session
    associated with the Client Identifier, the Server MUST resume communications with the
    Client based on state from the existing Session.
[MQTT-3.1.2-6] If a CONNECT packet is received with Clean Start set to 0 and there is no
    Session associated with the Client Identifier, the Server MUST create a new Session.
[MQTT-3.1.2-23] The Client and Server MUST store the Session State after the Network
    Connection is closed if the Session Expiry Interval is greater than 0.
[MQTT-4.1.0-1] The Client and Server MUST NOT discard the Session State while the Network
    Connection is open.
[MQTT-4.1.0-2] The Server MUST discard the Session State when the Network Connection is closed
    and the Session Expiry Interval has passed.
[MQTT-4.13.1-1] When a Server detects a Malformed Packet or Protocol Error, and a Reason Code
    is given in the specification, it MUST close the Network Connection. -- here for the
    Protocol Error of a DISCONNECT setting a non-zero Session Expiry Interval when the CONNECT
    had 0 (section 3.14.2.2.2); the other cases are in test_auth_and_errors.py.
"""

import time
import unittest

from _support import ConformanceCase, PUBLISH, P_SESSION_EXPIRY, raw


class SessionTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300}}

    def stored_session(self, expiry=60, filters=None):
        """A session with a QoS 1 subscription whose connection has ended normally."""
        cid = self.unique("s")
        t = self.topic("s")
        c = self.conn(cid, properties=[(P_SESSION_EXPIRY, expiry)])
        c.subscribe(filters or [(t, 1)])
        self.assertEqual(c.disconnect(0), [])
        return cid, t

    def test_MQTT_3_1_2_4_clean_start_1_discards_the_session(self):
        cid, t = self.stored_session()
        pub = self.conn()
        pub.publish(t, b"queued for the old session", qos=1)
        c, ack = self.connected(cid, clean=True, properties=[(P_SESSION_EXPIRY, 60)])
        self.assertFalse(ack.session_present)
        c.subscribe([(t + "/marker", 0)])
        pub.publish(t, b"after", qos=1)
        pub.publish(t + "/marker", b"marker")
        self.assertNoPublish(c.until_payload(b"marker"), "state of the discarded session delivered")
        with self.subTest("the discarded session stays discarded"):
            c.disconnect(0)
            c2, ack = self.connected(cid, clean=False)
            self.assertTrue(ack.session_present, "the new (empty) session was stored")
            pub.publish(t, b"still nothing", qos=1)
            self.assertEqual(c2.sync(), [])

    def test_MQTT_3_1_2_5_clean_start_0_resumes_the_session(self):
        t = self.topic("r")
        cid, _ = self.stored_session(filters=[(t + "/+", 2)])
        pub = self.conn()
        pub.publish(t + "/1", b"queued 1", qos=1)
        pub.publish(t + "/2", b"queued 2", qos=2)
        c, ack = self.connected(cid, clean=False, properties=[(P_SESSION_EXPIRY, 60)])
        self.assertTrue(ack.session_present)
        got = [c.expect(PUBLISH) for _ in range(2)]
        self.assertEqual([(p.payload, p.qos) for p in got], [(b"queued 1", 1), (b"queued 2", 2)])
        for p in got:
            c.ack(p)
        pub.publish(t + "/3", b"live", qos=1)
        self.assertEqual(c.expect(PUBLISH).payload, b"live", "the subscription was resumed")

    def test_MQTT_3_1_2_6_clean_start_0_without_session_creates_one(self):
        cid = self.unique("new")
        t = self.topic("new")
        c, ack = self.connected(cid, clean=False, properties=[(P_SESSION_EXPIRY, 60)])
        self.assertFalse(ack.session_present)
        c.subscribe([(t, 1)])
        c.disconnect(0)
        c, ack = self.connected(cid, clean=False, properties=[(P_SESSION_EXPIRY, 60)])
        self.assertTrue(ack.session_present, "the session created by the first connection was kept")

    def test_MQTT_3_1_2_23_session_stored_when_expiry_positive(self):
        for label, expiry_at_connect, expiry_at_disconnect, stored in (
                ("expiry 60", 60, None, True), ("expiry 0", 0, None, False),
                ("expiry absent", None, None, False), ("60 set to 0 by DISCONNECT", 60, 0, False),
                ("30 changed to 60 by DISCONNECT", 30, 60, True)):
            with self.subTest(label):
                cid = self.unique("st")
                t = self.topic("st")
                props = None if expiry_at_connect is None else [(P_SESSION_EXPIRY, expiry_at_connect)]
                c = self.conn(cid, properties=props)
                c.subscribe([(t, 1)])
                if expiry_at_disconnect is None:
                    c.disconnect(0)
                else:
                    c.send(raw.disconnect(0, properties=[(P_SESSION_EXPIRY, expiry_at_disconnect)]))
                    self.assertEqual(self.assertClosed(c), [])
                self.conn().publish(t, b"while offline", qos=1)
                c, ack = self.connected(cid, clean=False)
                self.assertEqual(ack.session_present, stored)
                if stored:
                    self.assertEqual(c.expect(PUBLISH).payload, b"while offline")

    def test_MQTT_4_1_0_1_session_kept_while_connected(self):
        t = self.topic("open")
        c = self.conn(properties=[(P_SESSION_EXPIRY, 1)])
        c.subscribe([(t, 1)])
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.2:  # longer than the expiry interval (checked every second)
            self.assertEqual(c.sync(), [])
            with self.assertRaises(TimeoutError):
                c.recv(timeout=0.5)
        self.conn().publish(t, b"still subscribed", qos=1)
        self.assertEqual(c.expect(PUBLISH).payload, b"still subscribed")

    def test_MQTT_4_1_0_2_session_discarded_after_expiry(self):
        cid, t = self.stored_session(expiry=1)
        idle = self.conn()
        with self.assertRaises(TimeoutError):  # let the 1 s expiry pass (sessions are swept every second)
            idle.recv(timeout=2.3)
        c, ack = self.connected(cid, clean=False)
        self.assertFalse(ack.session_present, "session still present 2.3 s after a 1 s expiry")
        self.conn().publish(t, b"nobody", qos=1)
        self.assertEqual(c.sync(), [])

    def test_MQTT_4_13_1_1_disconnect_session_expiry_from_zero_is_a_protocol_error(self):
        cid = self.unique("pe")
        c = self.conn(cid, properties=[(P_SESSION_EXPIRY, 0)])
        c.send(raw.disconnect(0, properties=[(P_SESSION_EXPIRY, 30)]))
        self.assertDisconnected(c, 0x82)
        _, ack = self.connected(cid, clean=False)
        self.assertFalse(ack.session_present, "the session must have ended with the connection")


if __name__ == "__main__":
    unittest.main()
