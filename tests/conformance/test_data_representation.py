"""MQTT 5.0 chapter 1.5 (data representation) and 2 (control packet format).

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-1.5.4-1] The character data in a UTF-8 Encoded String MUST be well-formed UTF-8 ...
    In particular, the character data MUST NOT include encodings of code points between
    U+D800 and U+DFFF. (A receiver treats ill-formed UTF-8 as a Malformed Packet.)
[MQTT-1.5.4-2] A UTF-8 Encoded String MUST NOT include an encoding of the null character U+0000.
[MQTT-1.5.4-3] A UTF-8 encoded sequence 0xEF 0xBB 0xBF is always interpreted as U+FEFF
    ("ZERO WIDTH NO-BREAK SPACE") wherever it appears in a string and MUST NOT be skipped
    over or stripped off by a packet receiver.
[MQTT-1.5.5-1] The encoded value [of a Variable Byte Integer] MUST use the minimum number
    of bytes necessary to represent the value.
[MQTT-1.5.7-1] Both strings [of a UTF-8 String Pair] MUST comply with the requirements for
    UTF-8 Encoded Strings.
[MQTT-2.1.3-1] Where a flag bit is marked as "Reserved" it is reserved for future use and
    MUST be set to the value listed.
[MQTT-2.2.1-2] A PUBLISH packet MUST NOT contain a Packet Identifier if its QoS value is set to 0.
[MQTT-2.2.1-4] Each time a Server sends a new PUBLISH (with QoS > 0) MQTT Control Packet it
    MUST assign it a non zero Packet Identifier that is currently unused.
[MQTT-2.2.1-5] A PUBACK, PUBREC, PUBREL, or PUBCOMP packet MUST contain the same Packet
    Identifier as the PUBLISH packet that was originally sent.
[MQTT-2.2.1-6] A SUBACK and UNSUBACK MUST contain the Packet Identifier that was used in the
    corresponding SUBSCRIBE and UNSUBSCRIBE packet respectively.
[MQTT-2.2.2-1] If there are no properties, this MUST be indicated by including a Property
    Length of zero.
"""

import struct
import unittest

from _support import (ConformanceCase, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, CONNACK,
                       P_USER_PROPERTY, P_CONTENT_TYPE, raw, publish_packet, raw_props, utf8_raw, varint_at)

ILL_FORMED = {
    "surrogate U+D800": b"\xed\xa0\x80",
    "surrogate U+DFFF": b"\xed\xbf\xbf",
    "overlong '/'": b"\xc0\xaf",
    "lone continuation byte": b"\x80",
    "truncated sequence": b"\xe2\x82",
    "byte 0xFF": b"\xff",
}


class DataRepresentationTest(ConformanceCase):

    # -- 1.5.4 UTF-8 Encoded String
    def test_MQTT_1_5_4_1_ill_formed_utf8_is_a_malformed_packet(self):
        for name, bad in ILL_FORMED.items():
            with self.subTest("topic name: " + name):
                c = self.conn()
                c.send(publish_packet(utf8_raw(b"a/" + bad + b"/b"), b"x"))
                self.assertDisconnected(c, 0x81)
        with self.subTest("topic filter: surrogate"):
            c = self.conn()
            c.send(raw.fixed(raw.SUBSCRIBE, 2, struct.pack("!H", 1) + b"\x00" + utf8_raw(b"f/\xed\xa0\x80") + b"\x00"))
            self.assertDisconnected(c, 0x81)
        with self.subTest("client identifier: surrogate (CONNECT)"):
            c = self.client()
            c.send(raw.fixed(raw.CONNECT, 0, raw.utf8("MQTT") + b"\x05\x02\x00\x3c\x00" + utf8_raw(b"id\xed\xb0\x80")))
            self.assertRefused(c, 0x81)

    def test_MQTT_1_5_4_2_null_character_is_a_malformed_packet(self):
        with self.subTest("topic name"):
            c = self.conn()
            c.send(publish_packet(utf8_raw(b"a\x00b"), b"x"))
            self.assertDisconnected(c, 0x81)
        with self.subTest("topic filter"):
            c = self.conn()
            c.send(raw.fixed(raw.SUBSCRIBE, 2, struct.pack("!H", 1) + b"\x00" + utf8_raw(b"a\x00b") + b"\x00"))
            self.assertDisconnected(c, 0x81)
        with self.subTest("content type property"):
            c = self.conn()
            c.send(publish_packet("a/b", b"x", props=raw_props(bytes([P_CONTENT_TYPE]) + utf8_raw(b"text\x00"))))
            self.assertDisconnected(c, 0x81)

    def test_MQTT_1_5_4_3_bom_is_not_stripped(self):
        base = self.topic("bom")
        with_bom = "\ufeff" + base
        exact = self.subscriber([(with_bom, 0)])
        without = self.subscriber([(base, 0)])
        pub = self.conn()
        pub.publish(with_bom, b"with-bom", qos=1)
        p = exact.expect(PUBLISH)
        self.assertEqual(p.payload, b"with-bom")
        self.assertTrue(p.body.startswith(struct.pack("!H", len(with_bom.encode())) + b"\xef\xbb\xbf"),
                        "the topic is delivered with its leading EF BB BF: %r" % p)
        self.assertEqual(p.topic, with_bom)
        # The BOM is part of the name: it does not match the filter without it.
        pub.publish(base, b"marker", qos=1)
        self.assertNoPublish(without.until_payload(b"marker"), "a name starting with U+FEFF matched a filter without it")

    # -- 1.5.5 Variable Byte Integer
    def test_MQTT_1_5_5_1_variable_byte_integer_minimum_bytes(self):
        with self.subTest("non-minimal Remaining Length from the client is malformed"):
            c = self.conn()
            c.send(b"\xc0\x80\x00")  # PINGREQ with remaining length 0 encoded in two bytes
            self.assertDisconnected(c, 0x81)
        with self.subTest("non-minimal Remaining Length of a PUBLISH"):
            c = self.conn()
            body = raw.utf8("a/b") + b"\x00" + b"x"
            c.send(b"\x30" + bytes([len(body) | 0x80, 0x00]) + body)
            self.assertDisconnected(c, 0x81)
        with self.subTest("the server encodes Remaining Length minimally"):
            t = self.topic("vbi")
            sub = self.subscriber([(t, 0)])
            pub = self.conn()
            for size in (0, 100, 200, 20000):
                pub.publish(t, b"p" * size, qos=1)
                p = sub.expect(PUBLISH)
                value, nbytes = varint_at(p.raw, 1)
                self.assertEqual(len(raw.varint(value)), nbytes,
                                 "Remaining Length %d encoded in %d bytes" % (value, nbytes))

    # -- 1.5.7 UTF-8 String Pair
    def test_MQTT_1_5_7_1_string_pair_strings_must_be_valid_utf8(self):
        for label, key, value in (("ill-formed name", b"k\xed\xa0\x80", b"v"), ("ill-formed value", b"k", b"\xc0\xaf"),
                                  ("null in name", b"k\x00", b"v"), ("null in value", b"k", b"v\x00")):
            with self.subTest(label):
                c = self.conn()
                c.send(publish_packet("a/b", b"x", props=raw_props(bytes([P_USER_PROPERTY]) + utf8_raw(key) +
                                                                    utf8_raw(value))))
                self.assertDisconnected(c, 0x81)

    # -- 2.1.3 Flags
    def test_MQTT_2_1_3_1_reserved_flag_bits(self):
        bad = {
            "PINGREQ flags 0001": b"\xc1\x00",
            "PINGREQ flags 1000": b"\xc8\x00",
            "PUBACK flags 0010": b"\x42\x00\x01",
            "PUBREC flags 0001": b"\x51\x00\x01",
            "PUBCOMP flags 0100": b"\x74\x00\x01",
            "DISCONNECT flags 0001": b"\xe1\x00",
        }
        for label, packet in bad.items():
            with self.subTest("client sends " + label):
                c = self.conn()
                c.send(packet)
                self.assertDisconnected(c, 0x81)
        with self.subTest("flags of the packets the server sends"):
            t = self.topic("flags")
            c, ack = self.connected()
            self.assertEqual(ack.raw[0], 0x20, "CONNACK fixed header")
            c.send(raw.subscribe(7, [(t, 2)]))
            self.assertEqual(c.expect(SUBACK).raw[0], 0x90, "SUBACK fixed header")
            c.send(raw.unsubscribe(8, ["nothing/" + t]))
            self.assertEqual(c.expect(UNSUBACK).raw[0], 0xB0, "UNSUBACK fixed header")
            c.send(raw.subscribe(9, [(t, 2)]))
            c.expect(SUBACK)
            c.send(raw.publish(t, b"q2", 2, 5))
            self.assertEqual(c.expect(PUBREC, skip=(PUBLISH,)).raw[0], 0x50, "PUBREC fixed header")
            c.send(raw.ack(PUBREL, 5))
            self.assertEqual(c.expect(PUBCOMP, skip=(PUBLISH,)).raw[0], 0x70, "PUBCOMP fixed header")
            p = c.expect(PUBLISH)
            self.assertEqual(p.raw[0] & 0x0F, 0x04, "PUBLISH QoS 2, DUP 0, RETAIN 0")
            c.send(raw.ack(PUBREC, p.packet_id))
            self.assertEqual(c.expect(PUBREL).raw[0], 0x62, "PUBREL fixed header")
            c.send(raw.ack(PUBCOMP, p.packet_id))
            c.send(raw.publish(t, b"q1", 1, 6))
            self.assertEqual(c.expect(PUBACK, skip=(PUBLISH,)).raw[0], 0x40, "PUBACK fixed header")
            c.send(raw.pingreq())
            self.assertEqual(c.expect(raw.PINGRESP, skip=(PUBLISH,)).raw, b"\xd0\x00", "PINGRESP")

    # -- 2.2.1 Packet Identifier
    def test_MQTT_2_2_1_2_qos0_publish_has_no_packet_identifier(self):
        t = self.topic("q0")
        sub = self.subscriber([(t, 0)])
        pub = self.conn()
        for qos in (0, 1, 2):
            pub.publish(t, b"payload-%d" % qos, qos=qos)
            p = sub.expect(PUBLISH)
            self.assertEqual(p.qos, 0)
            # topic, then directly the Property Length (0): no Packet Identifier in between
            self.assertEqual(p.body, raw.utf8(t) + b"\x00" + b"payload-%d" % qos, "QoS 0 PUBLISH body %r" % p.body)

    def test_MQTT_2_2_1_4_server_packet_identifiers_nonzero_and_unused(self):
        t = self.topic("ids")
        sub = self.subscriber([(t, 2)])
        pub = self.conn()
        for i in range(6):
            pub.publish(t, b"m%d" % i, qos=1 + i % 2)
        got = [sub.expect(PUBLISH) for _ in range(6)]  # none acknowledged: all in flight at once
        ids = [p.packet_id for p in got]
        self.assertNotIn(0, ids)
        self.assertEqual(len(set(ids)), len(ids), "packet identifiers of unacknowledged PUBLISH packets: %s" % ids)
        # Once acknowledged, further new PUBLISH packets still never reuse an id in flight.
        for p in got[:3]:
            sub.ack(p)
        pub.publish(t, b"more", qos=1)
        p = sub.expect(PUBLISH)
        self.assertNotIn(p.packet_id, ids[3:] + [0])

    def test_MQTT_2_2_1_5_acks_carry_the_publish_packet_identifier(self):
        t = self.topic("ackid")
        sub = self.subscriber([(t, 2)])
        pub = self.conn()
        with self.subTest("PUBACK for the client's QoS 1 PUBLISH"):
            pub.send(raw.publish(t, b"a", 1, 0x1234))
            self.assertEqual(pub.expect(PUBACK).packet_id, 0x1234)
        with self.subTest("PUBREC and PUBCOMP for the client's QoS 2 PUBLISH"):
            pub.send(raw.publish(t, b"b", 2, 0xABCD))
            self.assertEqual(pub.expect(PUBREC).packet_id, 0xABCD)
            pub.send(raw.ack(PUBREL, 0xABCD))
            self.assertEqual(pub.expect(PUBCOMP).packet_id, 0xABCD)
        with self.subTest("PUBREL for the server's QoS 2 PUBLISH"):
            p1 = sub.expect(PUBLISH)
            sub.send(raw.ack(PUBACK, p1.packet_id))
            p2 = sub.expect(PUBLISH)
            self.assertEqual(p2.qos, 2)
            sub.send(raw.ack(PUBREC, p2.packet_id))
            self.assertEqual(sub.expect(PUBREL).packet_id, p2.packet_id)
            sub.send(raw.ack(PUBCOMP, p2.packet_id))

    def test_MQTT_2_2_1_6_suback_and_unsuback_packet_identifiers(self):
        c = self.conn()
        t = self.topic("subid")
        for pid in (1, 0x7FFF, 0xFFFF):
            c.send(raw.subscribe(pid, [(t, 1)]))
            self.assertEqual(c.expect(SUBACK).packet_id, pid)
            c.send(raw.unsubscribe(pid ^ 0x00F0 or 1, [t]))
            self.assertEqual(c.expect(UNSUBACK).packet_id, pid ^ 0x00F0 or 1)

    # -- 2.2.2 Properties
    def test_MQTT_2_2_2_1_no_properties_is_a_zero_property_length(self):
        c, ack = self.connected()
        t = self.topic("noprops")
        c.send(raw.subscribe(0x0102, [(t, 1), (t + "/x", 0)]))
        sa = c.expect(SUBACK)
        self.assertEqual(sa.body, b"\x01\x02" + b"\x00" + b"\x01\x00", "SUBACK without properties: %r" % sa)
        c.send(raw.unsubscribe(0x0304, [t]))
        ua = c.expect(UNSUBACK)
        self.assertEqual(ua.body, b"\x03\x04" + b"\x00" + b"\x00", "UNSUBACK without properties: %r" % ua)
        sub2 = self.subscriber([(t + "/x", 0)])
        c.publish(t + "/x", b"hello")
        p = sub2.expect(PUBLISH)
        self.assertEqual(p.body, raw.utf8(t + "/x") + b"\x00hello", "PUBLISH without properties")
        self.assertEqual(ack.type, CONNACK)


if __name__ == "__main__":
    unittest.main()
