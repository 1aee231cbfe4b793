"""MQTT 5.0 sections 3.8 (SUBSCRIBE) and 3.9 (SUBACK).

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.8.1-1] Bits 3,2,1 and 0 of the Fixed Header of the SUBSCRIBE packet are reserved and
    MUST be set to 0,0,1 and 0 respectively. The Server MUST treat any other value as
    malformed and close the Network Connection.
[MQTT-3.8.3-1] The Topic Filters MUST be a UTF-8 Encoded String.
[MQTT-3.8.3-2] The Payload MUST contain at least one Topic Filter and Subscription Options pair.
[MQTT-3.8.3-3] Bit 2 of the Subscription Options represents the No Local option. If the value
    is 1, Application Messages MUST NOT be forwarded to a connection with a ClientID equal to
    the ClientID of the publishing connection.
[MQTT-3.8.3-5] The Server MUST treat a SUBSCRIBE packet as malformed if any of Reserved bits
    in the Payload are non-zero.
[MQTT-3.8.4-1] When the Server receives a SUBSCRIBE packet from a Client, the Server MUST
    respond with a SUBACK packet.
[MQTT-3.8.4-2] The SUBACK packet MUST have the same Packet Identifier as the SUBSCRIBE packet
    that it is acknowledging.
[MQTT-3.8.4-3] If a Server receives a SUBSCRIBE packet containing a Topic Filter that is
    identical to a Non-shared Subscription's Topic Filter for the current Session, then it
    MUST replace that existing Subscription with a new Subscription.
[MQTT-3.8.4-5] If a Server receives a SUBSCRIBE packet that contains multiple Topic Filters it
    MUST handle that packet as if it had received a sequence of multiple SUBSCRIBE packets,
    except that it combines their responses into a single SUBACK response.
[MQTT-3.8.4-6] The SUBACK packet sent by the Server to the Client MUST contain a Reason Code
    for each Topic Filter/Subscription Option pair.
[MQTT-3.8.4-7] This Reason Code MUST either show the maximum QoS that was granted for that
    Subscription or indicate that the subscription failed.
[MQTT-3.8.4-8] The QoS of Application Messages sent in response to a Subscription MUST be the
    minimum of the QoS of the originally published message and the Maximum QoS granted by the Server.
[MQTT-3.9.3-1] The order of Reason Codes in the SUBACK packet MUST match the order of Topic
    Filters in the SUBSCRIBE packet.
[MQTT-3.9.3-2] The Server sending a SUBACK packet MUST use one of the Subscribe Reason Codes
    for each Topic Filter received.
(3.8.4-4 is in test_retain.py, 3.8.3-4 in test_shared_subscriptions.py.)
"""

import struct
import unittest

from _support import (ConformanceCase, PUBLISH, SUBACK, SUBACK_CODES, P_SUBSCRIPTION_IDENTIFIER, raw, utf8_raw)


def subscribe_raw(pid, payload, flags=0x02, props=b"\x00"):
    return raw.fixed(raw.SUBSCRIBE, flags, struct.pack("!H", pid) + props + payload)


class SubscribeTest(ConformanceCase):

    def test_MQTT_3_8_1_1_subscribe_reserved_bits(self):
        for flags in (0x00, 0x01, 0x03, 0x06, 0x0A):
            with self.subTest(flags="%#x" % flags):
                c = self.conn()
                c.send(subscribe_raw(1, raw.utf8("a/b") + b"\x00", flags=flags))
                self.assertDisconnected(c, 0x81)

    def test_MQTT_3_8_3_1_topic_filter_must_be_utf8(self):
        for bad in (b"a/\xff", b"a/\xed\xb0\x80", b"a/\xc0\xaf", b"a/\x00"):
            with self.subTest(filter=bad):
                c = self.conn()
                c.send(subscribe_raw(1, utf8_raw(bad) + b"\x01"))
                self.assertDisconnected(c, 0x81)

    def test_MQTT_3_8_3_2_at_least_one_topic_filter(self):
        c = self.conn()
        c.send(subscribe_raw(1, b""))
        self.assertDisconnected(c, 0x82)

    def test_MQTT_3_8_3_3_no_local(self):
        cid = self.unique("nl")
        t = self.topic("nl")
        c = self.conn(cid)
        c.subscribe([(t, 0x04 | 1)])
        other = self.subscriber([(t, 1)])
        c.publish(t, b"own", qos=1)
        self.assertEqual(other.expect(PUBLISH).payload, b"own")
        self.conn().publish(t, b"from someone else", qos=1)
        got = c.publishes_until(b"from someone else")
        self.assertEqual(got, [], "a No Local subscription received its own message")
        with self.subTest("without No Local the own message is delivered"):
            c2 = self.conn()
            c2.subscribe([(t, 1)])
            c2.publish(t, b"mine", qos=1)
            self.assertEqual(c2.expect(PUBLISH).payload, b"mine")

    def test_MQTT_3_8_3_5_reserved_option_bits(self):
        for opts in (0x40, 0x80, 0xC1):
            with self.subTest(options="%#x" % opts):
                c = self.conn()
                c.send(subscribe_raw(1, raw.utf8("a/b") + bytes([opts])))
                self.assertDisconnected(c, 0x81)

    def test_MQTT_3_8_4_1_suback_for_every_subscribe(self):
        c = self.conn()
        t = self.topic("ack")
        for pid, filters in ((1, [(t, 0)]), (2, [(t, 1)]), (3, [(t + "/+", 2), (t + "/#", 0)]), (4, [(t, 2)])):
            c.send(raw.subscribe(pid, filters))
            sa = c.expect(SUBACK)
            self.assertEqual(sa.packet_id, pid)
        self.assertEqual(c.sync(), [])

    def test_MQTT_3_8_4_2_suback_packet_identifier(self):
        c = self.conn()
        t = self.topic("pid")
        pids = [0x0001, 0x00FF, 0x0100, 0xA5A5, 0xFFFF]
        c.send(b"".join(raw.subscribe(pid, [(t, 1)]) for pid in pids))  # pipelined
        self.assertEqual([c.expect(SUBACK).packet_id for _ in pids], pids)

    def test_MQTT_3_8_4_3_identical_filter_replaces_subscription(self):
        t = self.topic("repl")
        c = self.conn()
        c.subscribe([(t, 0)], properties=[(P_SUBSCRIPTION_IDENTIFIER, 1)])
        c.subscribe([(t, 2)], properties=[(P_SUBSCRIPTION_IDENTIFIER, 2)])
        pub = self.conn()
        pub.publish(t, b"m", qos=2)
        pub.publish(t, b"marker", qos=0)
        got = c.publishes_until(b"marker")
        self.assertEqual(len(got), 1, "one subscription, not two: %r" % got)
        self.assertEqual((got[0].qos, got[0].props.get(P_SUBSCRIPTION_IDENTIFIER)), (2, [2]),
                         "the new subscription's options replaced the old ones")

    def test_MQTT_3_8_4_5_multiple_filters_as_a_sequence(self):
        t = self.topic("multi")
        c = self.conn()
        c.send(raw.subscribe(5, [(t + "/a", 0), (t + "/b", 1), (t + "/c", 2), (t + "/a", 2)]))
        sa = c.expect(SUBACK)
        self.assertEqual(sa.reasons, [0, 1, 2, 2], "one combined SUBACK")
        self.assertEqual(c.sync(), [], "a single SUBACK")
        pub = self.conn()
        for x in "abc":
            pub.publish(t + "/" + x, x.encode(), qos=2)
        pub.publish(t + "/c", b"marker", qos=0)
        got = c.publishes_until(b"marker")
        self.assertEqual([(p.payload, p.qos) for p in got], [(b"a", 2), (b"b", 1), (b"c", 2)],
                         "the later filter replaced the earlier identical one")

    def test_MQTT_3_8_4_6_reason_code_per_filter(self):
        c = self.conn()
        t = self.topic("count")
        for n in (1, 2, 7):
            c.send(raw.subscribe(n, [("%s/%d" % (t, i), i % 3) for i in range(n)]))
            self.assertEqual(len(c.expect(SUBACK).reasons), n)

    def test_MQTT_3_8_4_8_delivered_qos_is_the_minimum(self):
        t = self.topic("minqos")
        subs = {granted: self.subscriber([(t, granted)]) for granted in (0, 1, 2)}
        pub = self.conn()
        for published in (0, 1, 2):
            pub.publish(t, b"p%d" % published, qos=published)
            for granted, s in subs.items():
                p = s.expect(PUBLISH)
                self.assertEqual(p.qos, min(published, granted), "published %d, granted %d" % (published, granted))
                s.ack(p)

    def test_MQTT_3_9_3_1_reason_codes_in_filter_order(self):
        c = self.conn()
        t = self.topic("order")
        c.send(raw.subscribe(1, [(t + "/2", 2), (t + "/0", 0), (t + "/1", 1), (t + "/x", 0), (t + "/y", 2)]))
        self.assertEqual(c.expect(SUBACK).reasons, [2, 0, 1, 0, 2])

    def test_MQTT_3_9_3_2_subscribe_reason_codes(self):
        c = self.conn()
        t = self.topic("codes")
        c.send(raw.subscribe(1, [(t, 0), (t + "/+", 1), ("$share/g/" + t, 1), (t + "/#", 2)]))
        sa = c.expect(SUBACK)
        self.assertEqual(len(sa.reasons), 4)
        for code in sa.reasons:
            self.assertIn(code, SUBACK_CODES, "not a Subscribe Reason Code: %r" % sa)


class LimitedSubscribeTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300, "maximum_qos": 1, "wildcard_subscription_available": False}}

    def test_MQTT_3_8_4_7_reason_code_is_granted_qos_or_failure(self):
        c = self.conn()
        t = self.topic("granted")
        c.send(raw.subscribe(1, [(t + "/0", 0), (t + "/1", 1), (t + "/2", 2), (t + "/+", 1), (t + "/#", 0)]))
        sa = c.expect(SUBACK)
        self.assertEqual(sa.reasons[:3], [0, 1, 1], "granted QoS (capped at the server's maximum)")
        self.assertEqual(sa.reasons[3:], [0xA2, 0xA2], "wildcard subscriptions fail with 0xA2")
        pub = self.conn()
        pub.publish(t + "/2", b"granted 1", qos=1)
        p = c.expect(PUBLISH)
        self.assertEqual((p.payload, p.qos), (b"granted 1", 1))


if __name__ == "__main__":
    unittest.main()
