"""MQTT 5.0 section 4.8.2: Shared Subscriptions ($share/{ShareName}/{filter}).

BEING IMPLEMENTED: today edgemq answers shared subscriptions with SUBACK 0x9E and announces
Shared Subscription Available 0; these tests describe the work in progress and are expected
to fail until it lands.

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.8.3-4] It is a Protocol Error to set the No Local bit to 1 on a Shared Subscription.
[MQTT-4.8.2-1] A Shared Subscription's Topic Filter MUST start with $share/ and MUST contain a
    ShareName that is at least one character long.
[MQTT-4.8.2-2] The ShareName MUST NOT contain the characters "/", "+" or "#", but MUST be
    followed by a "/" character. This "/" character MUST be followed by a Topic Filter.
[MQTT-4.8.2-3] The Server MUST respect the granted QoS for the Client's subscription.
[MQTT-4.8.2-4] If the Server is in the process of sending a QoS 2 message to its chosen
    subscribing Client and the connection to the Client breaks before delivery is complete,
    the Server MUST complete the delivery of the message to that Client when it reconnects.
[MQTT-4.8.2-5] If the Client's Session terminates before the Client reconnects, the Server MUST
    NOT send the Application Message to any other subscribed Client.
[MQTT-4.8.2-6] If a Client responds with a PUBACK or PUBREC containing a Reason Code of 0x80 or
    greater to a PUBLISH packet from the Server, the Server MUST discard the Application Message
    and not attempt to send it to any other Subscriber.

Also checked, without a statement number: Shared Subscription Available is not 0 in CONNACK;
each message goes to one member of the group; retained messages are not sent when a shared
subscription is made (section 4.8.2, "Shared Subscriptions" behaviour).
"""

import unittest

from _support import (ConformanceCase, PUBLISH, PUBACK, PUBREC, SUBACK, DISCONNECT, P_SESSION_EXPIRY,
                      P_SHARED_SUB_AVAILABLE, raw)

NO_LOCAL = 0x04


class SharedSubscriptionTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300}}

    def share(self, group, topic):
        return "$share/%s/%s" % (group, topic)

    def member(self, filt, qos=1, cid=None, expiry=None):
        props = None if expiry is None else [(P_SESSION_EXPIRY, expiry)]
        c = self.conn(cid, properties=props)
        sa = c.subscribe([(filt, qos)])
        self.assertEqual(sa.reasons, [qos], "shared subscription %r refused: %r" % (filt, sa))
        return c

    def assertFilterRejected(self, filt):
        c = self.conn()
        c.send(raw.subscribe(1, [(filt, 1)]))
        p = c.recv()
        if p.type == SUBACK:
            self.assertGreaterEqual(p.reasons[0], 0x80, "invalid shared filter %r accepted: %r" % (filt, p))
        else:
            self.assertEqual(p.type, DISCONNECT, p)
            self.assertIn(p.reason, (0x8F, 0x81, 0x82), p)

    def test_shared_subscription_available(self):
        _, ack = self.connected()
        self.assertNotEqual(ack.props.get(P_SHARED_SUB_AVAILABLE, 1), 0, "CONNACK: %r" % ack.props)

    def test_MQTT_3_8_3_4_no_local_on_a_shared_subscription(self):
        c = self.conn()
        c.send(raw.subscribe(1, [(self.share("g", self.topic("nl")), 1 | NO_LOCAL)]))
        self.assertDisconnected(c, 0x82)

    def test_MQTT_4_8_2_1_share_name_at_least_one_character(self):
        t = self.topic("name")
        self.assertFilterRejected("$share//" + t)
        with self.subTest("valid"):
            self.member(self.share("g", t))
            self.member(self.share("x", t))

    def test_MQTT_4_8_2_2_share_name_characters_and_filter(self):
        t = self.topic("chars")
        for bad in ("$share/g+/" + t, "$share/g#/" + t, "$share/+/" + t, "$share/#", "$share/g", "$share/g/"):
            with self.subTest(invalid=bad):
                self.assertFilterRejected(bad)
        with self.subTest("a wildcard Topic Filter after the ShareName is fine"):
            c = self.member(self.share("g", t + "/+/x/#"))
            self.conn().publish(t + "/a/x/y", b"matched", qos=1)
            self.assertEqual(c.expect(PUBLISH).topic, t + "/a/x/y")

    def test_shared_one_member_per_message(self):
        t = self.topic("rr")
        members = [self.member(self.share("g", t)) for _ in range(3)]
        plain = self.subscriber([(t, 1)])
        pub = self.conn()
        n = 30
        for i in range(n):
            pub.publish(t, b"%d" % i, qos=1)
        self.assertEqual(len([p for p in plain.until_payload(b"%d" % (n - 1))]), n - 1, "non-shared gets all")
        counts = []
        seen = []
        for m in members:
            got = [p for p in m.sync() if p.type == PUBLISH]
            for p in got:
                m.ack(p)
            counts.append(len(got))
            seen += [p.payload for p in got]
        self.assertEqual(sorted(seen, key=int), [b"%d" % i for i in range(n)], "each message to exactly one member")
        self.assertTrue(all(counts), "every member gets some of the messages: %s" % counts)

    def test_shared_subscription_gets_no_retained_messages(self):
        t = self.topic("ret")
        self.conn().publish(t, b"retained", qos=1, retain=True)
        c = self.member(self.share("g", t))
        self.assertEqual(c.sync(), [])

    def test_MQTT_4_8_2_3_granted_qos_respected_per_member(self):
        t = self.topic("qos")
        low = self.member(self.share("g", t), qos=0)
        high = self.member(self.share("g", t), qos=2)
        pub = self.conn()
        for i in range(10):
            pub.publish(t, b"%d" % i, qos=2)
        got_low = [p for p in low.sync() if p.type == PUBLISH]
        got_high = []
        for _ in range(10 - len(got_low)):
            p = high.expect(PUBLISH)
            high.ack(p)
            got_high.append(p)
        self.assertTrue(got_low and got_high, "both members used")
        self.assertEqual({p.qos for p in got_low}, {0})
        self.assertEqual({p.qos for p in got_high}, {2})

    def test_MQTT_4_8_2_4_qos2_delivery_completed_to_the_same_client(self):
        t = self.topic("q2")
        cid = self.unique("a")
        a = self.member(self.share("g", t), qos=2, cid=cid, expiry=60)
        pub = self.conn()
        pub.publish(t, b"to a", qos=2)
        first = a.expect(PUBLISH)
        b = self.member(self.share("g", t), qos=2)
        b.subscribe([(t + "/marker", 0)])
        a.close()  # before PUBREC
        again, ack = self.connected(cid, clean=False, properties=[(P_SESSION_EXPIRY, 60)])
        self.assertTrue(ack.session_present)
        p = self.expectPacket(again, PUBLISH, msg="the QoS 2 message in progress was not re-sent to its client")
        self.assertEqual((p.payload, p.packet_id, p.dup), (b"to a", first.packet_id, True))
        again.ack(p)
        pub.publish(t + "/marker", b"marker", qos=1)
        self.assertNoPublish(b.until_payload(b"marker"), "the message went to another member as well")

    def test_MQTT_4_8_2_5_not_sent_elsewhere_when_the_session_ends(self):
        t = self.topic("end")
        a = self.member(self.share("g", t), qos=2, expiry=1)
        pub = self.conn()
        pub.publish(t, b"to a", qos=2)
        a.expect(PUBLISH)
        b = self.member(self.share("g", t), qos=2)
        b.subscribe([(t + "/marker", 0)])
        a.close()  # its session ends one second later
        idle = self.conn()
        with self.assertRaises(TimeoutError):
            idle.recv(timeout=2.3)
        pub.publish(t + "/marker", b"marker", qos=1)
        self.assertNoPublish(b.until_payload(b"marker"), "the QoS 2 message was sent to another member")

    def test_MQTT_4_8_2_6_refused_message_not_sent_to_another_member(self):
        for qos, ack_type in ((1, PUBACK), (2, PUBREC)):
            with self.subTest(qos=qos):
                t = self.topic("refused")
                a = self.member(self.share("g", t), qos=qos)
                pub = self.conn()
                pub.publish(t, b"refused", qos=qos)
                p = a.expect(PUBLISH)
                b = self.member(self.share("g", t), qos=qos)
                b.subscribe([(t + "/marker", 0)])
                a.send(raw.ack(ack_type, p.packet_id, reason=0x80))
                a.sync()  # the refusal has been processed
                pub.publish(t + "/marker", b"marker", qos=1)
                self.assertNoPublish(b.until_payload(b"marker"), "a refused message was sent to another member")


if __name__ == "__main__":
    unittest.main()
