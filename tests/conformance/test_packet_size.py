"""The client's Maximum Packet Size (MQTT 5.0 section 3.1.2.11.4) as the Server must honour it:
for PUBLISH packets, and for the optional Reason String and User Property of every
acknowledgement and of DISCONNECT.

The ack tests connect with a Maximum Packet Size of 8 bytes: every acknowledgement fits in
it without properties (at most 6 bytes), while a Reason String or a User Property would need
at least 3 more bytes. So each provoked acknowledgement must come without them and within 8
bytes.

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.1.2-24] The Server MUST NOT send packets exceeding Maximum Packet Size to the Client.
[MQTT-3.1.2-25] Where a Packet is too large to send, the Server MUST discard it without sending
    it and then behave as if it had completed sending that Application Message.
[MQTT-3.4.2-2] The sender MUST NOT send this property [Reason String] if it would increase the
    size of the PUBACK packet beyond the Maximum Packet Size specified by the receiver.
[MQTT-3.4.2-3] The sender MUST NOT send this property [User Property] if it would increase the
    size of the PUBACK packet beyond the Maximum Packet Size specified by the receiver.
[MQTT-3.5.2-2], [MQTT-3.5.2-3] The same for the Reason String and User Property of PUBREC.
[MQTT-3.6.2-2], [MQTT-3.6.2-3] The same for the Reason String and User Property of PUBREL.
[MQTT-3.7.2-2], [MQTT-3.7.2-3] The same for the Reason String and User Property of PUBCOMP.
[MQTT-3.9.2-1] The Server MUST NOT send this Property [Reason String] if it would increase the
    size of the SUBACK packet beyond the Maximum Packet Size specified by the Client.
[MQTT-3.9.2-2] The Server MUST NOT send this property [User Property] if it would increase the
    size of the SUBACK packet beyond the Maximum Packet Size specified by the Client.
[MQTT-3.11.2-1], [MQTT-3.11.2-2] The same for the Reason String and User Property of UNSUBACK.
[MQTT-3.14.2-3] The sender MUST NOT send this Property [Reason String] if it would increase the
    size of the DISCONNECT packet beyond the Maximum Packet Size specified by the receiver.
[MQTT-3.14.2-4] The sender MUST NOT send this property [User Property] if it would increase the
    size of the DISCONNECT packet beyond the Maximum Packet Size specified by the receiver.
"""

import unittest

from _support import (ConformanceCase, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT,
                      P_MAXIMUM_PACKET_SIZE, P_RECEIVE_MAXIMUM, P_SESSION_EXPIRY, P_PAYLOAD_FORMAT, P_REASON_STRING,
                      P_USER_PROPERTY, raw, ack_props)

TINY = 8


class PacketSizeTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300}}

    # -- PUBLISH
    def test_MQTT_3_1_2_24_no_packet_above_the_client_maximum(self):
        limit = 64
        t = "s/" + str(self.port)  # short topic: a PUBLISH is 2 + 2 + len(t) + 1 (+2) bytes + payload
        sub = self.conn(properties=[(P_MAXIMUM_PACKET_SIZE, limit)])
        sub.subscribe([(t, 1)])
        pub = self.conn()
        sizes = [10, 30, 60, 100, 1000]
        for n in sizes:
            pub.publish(t, b"x" * n, qos=1)
        pub.publish(t, b"marker", qos=1)
        got = sub.until_payload(b"marker")
        for p in got:
            self.assertLessEqual(len(p.raw), limit, "packet of %d bytes: %r" % (len(p.raw), p))
        delivered = [len(p.payload) for p in got if p.type == PUBLISH]
        expected = [n for n in sizes if len(raw.publish(t, b"x" * n, 1, 1)) <= limit]
        self.assertEqual(delivered, expected)

    def test_MQTT_3_1_2_25_too_large_message_treated_as_sent(self):
        limit = 64
        t = "d/" + str(self.port)
        cid = self.unique("big")
        sub = self.conn(cid, properties=[(P_MAXIMUM_PACKET_SIZE, limit), (P_RECEIVE_MAXIMUM, 1),
                                         (P_SESSION_EXPIRY, 60)])
        sub.subscribe([(t, 2)])
        pub = self.conn()
        pub.publish(t, b"B" * 500, qos=2)   # too large: discarded
        pub.publish(t, b"small-1", qos=1)
        # With Receive Maximum 1 the small one can only come if the big one did not take the slot.
        p = sub.expect(PUBLISH)
        self.assertEqual(p.payload, b"small-1")
        sub.close()  # no PUBACK: small-1 stays in flight, the big one must not be there
        again, ack = self.connected(cid, clean=False, properties=[(P_MAXIMUM_PACKET_SIZE, 100000),
                                                                  (P_SESSION_EXPIRY, 0)])
        self.assertTrue(ack.session_present)
        got = [x for x in again.sync() if x.type == PUBLISH]
        self.assertEqual([x.payload for x in got], [b"small-1"], "the discarded message came back: %r" % got)

    # -- optional properties of acknowledgements
    def tiny(self):
        return self.conn(properties=[(P_MAXIMUM_PACKET_SIZE, TINY)])

    def check(self, p, pid, ptype):
        self.assertEqual(p.type, ptype, p)
        self.assertLessEqual(len(p.raw), TINY, "%r is larger than the client's Maximum Packet Size" % p)
        props = ack_props(p) if ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP) else p.props
        self.assertNotIn(pid, props, "%r carries property %#x beyond the Maximum Packet Size" % (p, pid))

    def provoke_puback(self):
        c = self.tiny()
        c.send(raw.publish(self.topic("nobody"), b"x", 1, 1))                                   # 0x10
        c.send(raw.publish("a", b"\xff", 1, 2, properties=[(P_PAYLOAD_FORMAT, 1)]))           # 0x99
        return [c.expect(PUBACK), c.expect(PUBACK)]

    def provoke_pubrec(self):
        c = self.tiny()
        c.send(raw.publish(self.topic("nobody"), b"x", 2, 1))                                   # 0x10
        c.send(raw.publish("a", b"\xff", 2, 2, properties=[(P_PAYLOAD_FORMAT, 1)]))           # 0x99
        return [c.expect(PUBREC), c.expect(PUBREC)]

    def provoke_pubrel(self):
        c = self.tiny()
        c.send(raw.ack(PUBREC, 77))                                                            # 0x92
        return [c.expect(PUBREL)]

    def provoke_pubcomp(self):
        c = self.tiny()
        c.send(raw.ack(PUBREL, 78))                                                            # 0x92
        return [c.expect(PUBCOMP)]

    def provoke_suback(self):
        c = self.tiny()
        c.send(raw.subscribe(1, [("$share/g/" + self.topic("s"), 1)]))
        c.send(raw.subscribe(2, [(self.topic("s"), 2)]))
        return [c.expect(SUBACK), c.expect(SUBACK)]

    def provoke_unsuback(self):
        c = self.tiny()
        c.send(raw.unsubscribe(1, [self.topic("never")]))                                      # 0x11
        return [c.expect(UNSUBACK)]

    def provoke_disconnect(self):
        got = []
        for bad in (raw.connect("again"), b"\xc1\x00", raw.publish("a/+", b"")):
            c = self.tiny()
            c.send(bad)
            got.append(self.assertClosed(c)[-1])
        return got

    def test_MQTT_3_4_2_2_puback_reason_string_within_maximum(self):
        for p in self.provoke_puback():
            self.check(p, P_REASON_STRING, PUBACK)

    def test_MQTT_3_4_2_3_puback_user_property_within_maximum(self):
        for p in self.provoke_puback():
            self.check(p, P_USER_PROPERTY, PUBACK)

    def test_MQTT_3_5_2_2_pubrec_reason_string_within_maximum(self):
        for p in self.provoke_pubrec():
            self.check(p, P_REASON_STRING, PUBREC)

    def test_MQTT_3_5_2_3_pubrec_user_property_within_maximum(self):
        for p in self.provoke_pubrec():
            self.check(p, P_USER_PROPERTY, PUBREC)

    def test_MQTT_3_6_2_2_pubrel_reason_string_within_maximum(self):
        for p in self.provoke_pubrel():
            self.check(p, P_REASON_STRING, PUBREL)

    def test_MQTT_3_6_2_3_pubrel_user_property_within_maximum(self):
        for p in self.provoke_pubrel():
            self.check(p, P_USER_PROPERTY, PUBREL)

    def test_MQTT_3_7_2_2_pubcomp_reason_string_within_maximum(self):
        for p in self.provoke_pubcomp():
            self.check(p, P_REASON_STRING, PUBCOMP)

    def test_MQTT_3_7_2_3_pubcomp_user_property_within_maximum(self):
        for p in self.provoke_pubcomp():
            self.check(p, P_USER_PROPERTY, PUBCOMP)

    def test_MQTT_3_9_2_1_suback_reason_string_within_maximum(self):
        for p in self.provoke_suback():
            self.check(p, P_REASON_STRING, SUBACK)

    def test_MQTT_3_9_2_2_suback_user_property_within_maximum(self):
        for p in self.provoke_suback():
            self.check(p, P_USER_PROPERTY, SUBACK)

    def test_MQTT_3_11_2_1_unsuback_reason_string_within_maximum(self):
        for p in self.provoke_unsuback():
            self.check(p, P_REASON_STRING, UNSUBACK)

    def test_MQTT_3_11_2_2_unsuback_user_property_within_maximum(self):
        for p in self.provoke_unsuback():
            self.check(p, P_USER_PROPERTY, UNSUBACK)

    def test_MQTT_3_14_2_3_disconnect_reason_string_within_maximum(self):
        for p in self.provoke_disconnect():
            self.check(p, P_REASON_STRING, DISCONNECT)

    def test_MQTT_3_14_2_4_disconnect_user_property_within_maximum(self):
        for p in self.provoke_disconnect():
            self.check(p, P_USER_PROPERTY, DISCONNECT)


if __name__ == "__main__":
    unittest.main()
