"""MQTT 5.0 sections 3.10 (UNSUBSCRIBE) and 3.11 (UNSUBACK).

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.10.1-1] Bits 3,2,1 and 0 of the Fixed Header of the UNSUBSCRIBE packet are reserved and
    MUST be set to 0,0,1 and 0 respectively. The Server MUST treat any other value as
    malformed and close the Network Connection.
[MQTT-3.10.3-1] The Topic Filters in an UNSUBSCRIBE packet MUST be UTF-8 Encoded Strings.
[MQTT-3.10.3-2] The Payload of an UNSUBSCRIBE packet MUST contain at least one Topic Filter.
[MQTT-3.10.4-1] The Topic Filters (whether they contain wildcards or not) supplied in an
    UNSUBSCRIBE packet MUST be compared character-by-character with the current set of Topic
    Filters held by the Server for the Client. If any filter matches exactly then its owning
    Subscription MUST be deleted.
[MQTT-3.10.4-2] When a Server receives UNSUBSCRIBE it MUST stop adding any new messages which
    match the Topic Filters, for delivery to the Client.
[MQTT-3.10.4-3] When a Server receives UNSUBSCRIBE it MUST complete the delivery of any QoS 1 or
    QoS 2 messages which match the Topic Filters and it has started to send to the Client.
[MQTT-3.10.4-4] The Server MUST respond to an UNSUBSCRIBE request by sending an UNSUBACK packet.
[MQTT-3.10.4-5] The UNSUBACK packet MUST have the same Packet Identifier as the UNSUBSCRIBE
    packet. Even where no Topic Subscriptions are deleted, the Server MUST respond with an UNSUBACK.
[MQTT-3.10.4-6] If a Server receives an UNSUBSCRIBE packet that contains multiple Topic
    Filters, it MUST process that packet as if it had received a sequence of multiple
    UNSUBSCRIBE packets, except that it sends just one UNSUBACK response.
[MQTT-3.11.3-1] The order of Reason Codes in the UNSUBACK packet MUST match the order of Topic
    Filters in the UNSUBSCRIBE packet.
[MQTT-3.11.3-2] The Server sending an UNSUBACK packet MUST use one of the Unsubscribe Reason
    Code values for each Topic Filter received.
"""

import struct
import unittest

from _support import (ConformanceCase, PUBLISH, PUBREC, PUBREL, PUBCOMP, UNSUBACK, UNSUBACK_CODES,
                      P_SUBSCRIPTION_IDENTIFIER, raw, utf8_raw)


def unsubscribe_raw(pid, payload, flags=0x02, props=b"\x00"):
    return raw.fixed(raw.UNSUBSCRIBE, flags, struct.pack("!H", pid) + props + payload)


class UnsubscribeTest(ConformanceCase):

    def test_MQTT_3_10_1_1_unsubscribe_reserved_bits(self):
        for flags in (0x00, 0x01, 0x03, 0x0A):
            with self.subTest(flags="%#x" % flags):
                c = self.conn()
                c.send(unsubscribe_raw(1, raw.utf8("a/b"), flags=flags))
                self.assertDisconnected(c, 0x81)

    def test_MQTT_3_10_3_1_topic_filters_must_be_utf8(self):
        for bad in (b"a/\xff", b"a/\xed\xa0\x80", b"a\x00"):
            with self.subTest(filter=bad):
                c = self.conn()
                c.send(unsubscribe_raw(1, utf8_raw(bad)))
                self.assertDisconnected(c, 0x81)

    def test_MQTT_3_10_3_2_at_least_one_topic_filter(self):
        c = self.conn()
        c.send(unsubscribe_raw(1, b""))
        self.assertDisconnected(c, 0x82)

    def test_MQTT_3_10_4_1_filters_compared_character_by_character(self):
        t = self.topic("cmp")
        c = self.conn()
        for sid, f in ((1, t + "/+"), (2, t + "/a"), (3, t + "/#")):
            c.subscribe([(f, 0)], properties=[(P_SUBSCRIPTION_IDENTIFIER, sid)])
        c.send(raw.unsubscribe(2, [t + "/A", t + "/a/", t + "/x", t + "/+"]))
        self.assertEqual(c.expect(UNSUBACK).reasons, [0x11, 0x11, 0x11, 0x00],
                         "only the exact string '+' filter existed among these")
        pub = self.conn()
        pub.publish(t + "/a", b"a", qos=1)
        pub.publish(t + "/b", b"b", qos=1)
        pub.publish(t + "/b", b"marker", qos=1)
        got = c.publishes_until(b"marker")
        ids = {}
        for p in got:
            ids.setdefault(p.payload, set()).update(p.props.get(P_SUBSCRIPTION_IDENTIFIER, []))
        self.assertEqual(ids, {b"a": {2, 3}, b"b": {3}}, "subscriptions left: t/a (2) and t/# (3), not t/+ (1)")

    def test_MQTT_3_10_4_2_no_new_messages_after_unsubscribe(self):
        t = self.topic("stop")
        c = self.conn()
        c.subscribe([(t, 1), (t + "/marker", 0)])
        pub = self.conn()
        pub.publish(t, b"before", qos=1)  # routed while the subscription exists
        c.send(raw.unsubscribe(3, [t]))
        self.assertEqual(c.expect(UNSUBACK, skip=(PUBLISH,)).reasons, [0x00])
        for i in range(3):
            pub.publish(t, b"after %d" % i, qos=1)
        pub.publish(t + "/marker", b"marker")
        got = c.publishes_until(b"marker")
        self.assertEqual([p.payload for p in got], [b"before"], "messages delivered after the UNSUBSCRIBE")

    def test_MQTT_3_10_4_3_delivery_in_progress_is_completed(self):
        t = self.topic("complete")
        c = self.conn()
        c.subscribe([(t + "/1", 1), (t + "/2", 2)])
        pub = self.conn()
        pub.publish(t + "/1", b"q1", qos=1)
        pub.publish(t + "/2", b"q2", qos=2)
        p1, p2 = c.expect(PUBLISH), c.expect(PUBLISH)
        c.send(raw.unsubscribe(4, [t + "/1", t + "/2"]))
        self.assertEqual(c.expect(UNSUBACK).reasons, [0, 0])
        c.send(raw.ack(PUBREC, p2.packet_id))
        rel = c.expect(PUBREL)
        self.assertEqual(rel.packet_id, p2.packet_id)
        c.send(raw.ack(PUBCOMP, p2.packet_id))
        c.send(raw.ack(raw.PUBACK, p1.packet_id))
        self.assertEqual(c.sync(), [])

    def test_MQTT_3_10_4_4_unsuback_for_every_unsubscribe(self):
        c = self.conn()
        t = self.topic("ua")
        c.subscribe([(t, 1)])
        for pid in (10, 11, 12):
            c.send(raw.unsubscribe(pid, [t]))
            self.assertEqual(c.expect(UNSUBACK).packet_id, pid)
        self.assertEqual(c.sync(), [])

    def test_MQTT_3_10_4_5_same_packet_id_even_if_nothing_deleted(self):
        c = self.conn()
        for pid in (1, 0x1234, 0xFFFF):
            c.send(raw.unsubscribe(pid, [self.topic("never-subscribed")]))
            ua = c.expect(UNSUBACK)
            self.assertEqual((ua.packet_id, ua.reasons), (pid, [0x11]))

    def test_MQTT_3_10_4_6_multiple_filters_one_unsuback(self):
        t = self.topic("multi")
        c = self.conn()
        c.subscribe([(t + "/a", 1), (t + "/b", 1), (t + "/c", 1)])
        c.send(raw.unsubscribe(7, [t + "/a", t + "/c", t + "/a"]))
        ua = c.expect(UNSUBACK)
        self.assertEqual(ua.reasons, [0x00, 0x00, 0x11], "handled in sequence: the second t/a no longer exists")
        self.assertEqual(c.sync(), [], "just one UNSUBACK")
        pub = self.conn()
        for x in "abc":
            pub.publish(t + "/" + x, x.encode(), qos=1)
        pub.publish(t + "/b", b"marker", qos=1)
        self.assertEqual([p.payload for p in c.publishes_until(b"marker")], [b"b"])

    def test_MQTT_3_11_3_1_reason_codes_in_filter_order(self):
        t = self.topic("order")
        c = self.conn()
        c.subscribe([(t + "/1", 0), (t + "/3", 0)])
        c.send(raw.unsubscribe(8, [t + "/0", t + "/1", t + "/2", t + "/3", t + "/4"]))
        self.assertEqual(c.expect(UNSUBACK).reasons, [0x11, 0x00, 0x11, 0x00, 0x11])

    def test_MQTT_3_11_3_2_unsubscribe_reason_codes(self):
        t = self.topic("codes")
        c = self.conn()
        c.subscribe([(t, 0), (t + "/#", 1)])
        c.send(raw.unsubscribe(9, [t, t + "/#", t + "/none", "$share/g/" + t]))
        ua = c.expect(UNSUBACK)
        self.assertEqual(len(ua.reasons), 4)
        for code in ua.reasons:
            self.assertIn(code, UNSUBACK_CODES, "not an Unsubscribe Reason Code: %r" % ua)


if __name__ == "__main__":
    unittest.main()
