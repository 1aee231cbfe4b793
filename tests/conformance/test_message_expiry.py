"""MQTT 5.0 section 3.3.2.3.3: Message Expiry Interval.

BEING IMPLEMENTED: these tests describe work in progress and are expected to fail until
Message Expiry lands (the two QoS 2 statements, which forbid applying expiry in the middle of
a flow, already hold for a server that never expires anything).

To keep the suite fast every scenario is prepared in setUpClass, then time passes once
(WAIT seconds, blocked on a socket read that must time out: the expiry intervals themselves
are what is waited for), then each test checks its own scenario. Synchronisation is still on
packets: PUBACKs before the wait, PINGREQ/PINGRESP after it.

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.3.2-5] If the Message Expiry Interval has passed and the Server has not managed to
    start onward delivery to a matching subscriber, then it MUST delete the copy of the
    message for that subscriber.
[MQTT-3.3.2-6] The PUBLISH packet sent to a Client by the Server MUST contain a Message Expiry
    Interval set to the received value minus the time that the Application Message has been
    waiting in the Server.
[MQTT-4.3.3-7] In the QoS 2 delivery protocol, the sender MUST NOT apply Message expiry if a
    PUBLISH packet has been sent.
[MQTT-4.3.3-13] In the QoS 2 delivery protocol, the receiver MUST continue the QoS 2
    acknowledgement sequence even if it has applied message expiry.
"""

import math
import time
import unittest

from _support import (ScenarioCase, Client, PUBLISH, PUBREC, PUBCOMP, P_MESSAGE_EXPIRY, P_SESSION_EXPIRY, raw)

WAIT = 2.2
EXPIRY_SHORT = 1
EXPIRY_LONG = 30
KEEP = [(P_SESSION_EXPIRY, 60)]


class MessageExpiryTest(ScenarioCase):
    config = {"mqtt": {"connect_timeout_ms": 300}}

    @classmethod
    def _scenario(cls):
        base = "exp-%d" % cls.port
        pub = cls._client(base + "-pub")
        # 3.3.2-5 / 3.3.2-6: offline subscriber sessions with queued messages.
        cls.queued_ids = (base + "-queued-a", base + "-queued-b")  # one per test
        for cid in cls.queued_ids:
            q = cls._client(cid, properties=KEEP)
            q.subscribe([(base + "/queued", 1)])
            q.disconnect(0)
        pub.publish(base + "/queued", b"expires", qos=1, properties=[(P_MESSAGE_EXPIRY, EXPIRY_SHORT)])
        t_before = time.monotonic()
        pub.publish(base + "/queued", b"stays", qos=1, properties=[(P_MESSAGE_EXPIRY, EXPIRY_LONG)])
        cls.queued_published = (t_before, time.monotonic())  # the server received it in between
        pub.publish(base + "/queued", b"no expiry", qos=1)
        # Retained messages.
        cls.retained_topic = base + "/retained"
        pub.publish(cls.retained_topic + "/short", b"expires", qos=1, retain=True,
                    properties=[(P_MESSAGE_EXPIRY, EXPIRY_SHORT)])
        t_before = time.monotonic()
        pub.publish(cls.retained_topic + "/long", b"stays", qos=1, retain=True,
                    properties=[(P_MESSAGE_EXPIRY, EXPIRY_LONG)])
        cls.retained_published = (t_before, time.monotonic())
        # Immediate delivery.
        cls.now_sub = cls._client(base + "-now")
        cls.now_sub.subscribe([(base + "/now", 1)])
        pub.publish(base + "/now", b"now", qos=1, properties=[(P_MESSAGE_EXPIRY, EXPIRY_LONG)])
        # 4.3.3-7: a QoS 2 PUBLISH already sent (no PUBREC), then the connection drops.
        cls.inflight_id = base + "-inflight"
        f = cls._client(cls.inflight_id, properties=KEEP)
        f.subscribe([(base + "/inflight", 2)])
        pub.publish(base + "/inflight", b"in flight", qos=2, properties=[(P_MESSAGE_EXPIRY, EXPIRY_SHORT)])
        cls.inflight_first = f.expect(PUBLISH)
        f.close()
        # 4.3.3-13: the server as QoS 2 receiver, PUBREL after the message expired.
        cls.recv_topic = base + "/recv"
        cls.recv_sub = cls._client(base + "-recv-sub")
        cls.recv_sub.subscribe([(cls.recv_topic, 0)])
        cls.receiver = cls._client(base + "-recv")
        cls.receiver.send(raw.publish(cls.recv_topic, b"expiring", 2, 61,
                                      properties=[(P_MESSAGE_EXPIRY, EXPIRY_SHORT)]))
        cls.recv_pubrec = cls.receiver.expect(PUBREC)
        # Let the short intervals pass.
        t0 = time.monotonic()
        idle = cls._client(base + "-idle")
        try:
            idle.recv(timeout=WAIT)
            raise AssertionError("unexpected packet while waiting")
        except TimeoutError:
            pass
        cls.waited = time.monotonic() - t0

    def resume(self, cid):
        c, ack = self.connected(cid, clean=False, properties=KEEP)
        self.assertTrue(ack.session_present)
        return c

    def test_MQTT_3_3_2_5_expired_message_not_delivered_from_the_session(self):
        c = self.resume(self.queued_ids[0])
        got = [p for p in c.sync() if p.type == PUBLISH]
        self.assertEqual([p.payload for p in got], [b"stays", b"no expiry"], "an expired message was delivered")

    def test_MQTT_3_3_2_5_expired_retained_message_not_sent(self):
        c = self.conn()
        c.subscribe([(self.retained_topic + "/#", 1)])
        got = [p.payload for p in c.sync() if p.type == PUBLISH]
        self.assertEqual(got, [b"stays"], "an expired retained message was sent")

    def test_MQTT_3_3_2_6_forwarded_expiry_reduced_by_the_wait(self):
        with self.subTest("immediate delivery: not increased"):
            p = self.now_sub.expect(PUBLISH)
            self.assertIn(p.props.get(P_MESSAGE_EXPIRY), (EXPIRY_LONG - 1, EXPIRY_LONG))
        def bounds(published, sent_after, sent_before):
            # The interval forwarded is the received one minus the time the message waited in
            # the server (rounded up): the wait is between these two measures, whatever the load.
            least = sent_after - published[1]
            most = sent_before - published[0]
            self.assertGreaterEqual(least, self.waited - 0.01)
            return int(math.floor(EXPIRY_LONG - most)), int(math.ceil(EXPIRY_LONG - least))

        with self.subTest("queued in the session"):
            t0 = time.monotonic()
            c = self.resume(self.queued_ids[1])
            got = {p.payload: p for p in c.sync() if p.type == PUBLISH}
            low, high = bounds(self.queued_published, t0, time.monotonic())
            self.assertIn(b"stays", got)
            value = got[b"stays"].props.get(P_MESSAGE_EXPIRY)
            self.assertIsNotNone(value)
            self.assertTrue(low <= value <= high, "Message Expiry Interval %r, expected %d..%d" % (value, low, high))
            if b"no expiry" in got:
                self.assertNotIn(P_MESSAGE_EXPIRY, got[b"no expiry"].props, "no interval was published")
        with self.subTest("retained"):
            late = self.conn()
            t0 = time.monotonic()
            late.subscribe([(self.retained_topic + "/long", 1)])
            value = late.expect(PUBLISH).props.get(P_MESSAGE_EXPIRY)
            low, high = bounds(self.retained_published, t0, time.monotonic())
            self.assertIsNotNone(value)
            self.assertTrue(low <= value <= high, "Message Expiry Interval %r, expected %d..%d" % (value, low, high))

    def test_MQTT_4_3_3_7_no_expiry_once_the_publish_was_sent(self):
        again = self.resume(self.inflight_id)
        p = self.expectPacket(again, PUBLISH, msg="QoS 2 PUBLISH sent before it expired not re-sent on resume")
        self.assertEqual((p.payload, p.packet_id, p.dup), (b"in flight", self.inflight_first.packet_id, True))

    def test_MQTT_4_3_3_13_qos2_sequence_completed_after_expiry(self):
        self.assertEqual(self.recv_pubrec.reason, 0x00)
        self.receiver.send(raw.ack(raw.PUBREL, 61))
        comp = self.receiver.expect(PUBCOMP)
        self.assertEqual((comp.packet_id, comp.reason), (61, 0x00))


if __name__ == "__main__":
    unittest.main()
