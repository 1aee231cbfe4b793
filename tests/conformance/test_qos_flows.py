"""MQTT 5.0 sections 3.4 - 3.7 (PUBACK, PUBREC, PUBREL, PUBCOMP) and 4.3 - 4.5 (QoS
delivery protocols, message delivery retry, message receipt).

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.4.2-1] The Client or Server sending the PUBACK packet MUST use one of the PUBACK Reason Codes.
[MQTT-3.5.2-1] The Client or Server sending the PUBREC packet MUST use one of the PUBREC Reason Code values.
[MQTT-3.6.1-1] Bits 3,2,1 and 0 of the Fixed Header in the PUBREL packet are reserved and MUST
    be set to 0,0,1 and 0 respectively. The Server MUST treat any other value as malformed and
    close the Network Connection.
[MQTT-3.6.2-1] The Client or Server sending the PUBREL packet MUST use one of the PUBREL Reason Code values.
[MQTT-3.7.2-1] The Client or Server sending the PUBCOMP packet MUST use one of the PUBCOMP Reason Code values.
[MQTT-4.3.1-1] In the QoS 0 delivery protocol, the sender MUST send a PUBLISH packet with QoS 0
    and DUP flag set to 0.
[MQTT-4.3.2-1] In the QoS 1 delivery protocol, the sender MUST assign an unused Packet
    Identifier each time it has a new Application Message to publish.
[MQTT-4.3.2-2] In the QoS 1 delivery protocol, the sender MUST send a PUBLISH packet containing
    this Packet Identifier with QoS 1 and DUP flag set to 0.
[MQTT-4.3.2-3] In the QoS 1 delivery protocol, the sender MUST treat the PUBLISH packet as
    "unacknowledged" until it has received the corresponding PUBACK packet from the receiver.
[MQTT-4.3.2-4] In the QoS 1 delivery protocol, the receiver MUST respond with a PUBACK packet
    containing the Packet Identifier from the incoming PUBLISH packet, having accepted
    ownership of the Application Message.
[MQTT-4.3.2-5] In the QoS 1 delivery protocol, the receiver, after it has sent a PUBACK
    packet, MUST treat any incoming PUBLISH packet that contains the same Packet Identifier as
    being a new Application Message, irrespective of the setting of its DUP flag.
[MQTT-4.3.3-1] In the QoS 2 delivery protocol, the sender MUST assign an unused Packet
    Identifier when it has a new Application Message to publish.
[MQTT-4.3.3-2] In the QoS 2 delivery protocol, the sender MUST send a PUBLISH packet containing
    this Packet Identifier with QoS 2 and DUP flag set to 0.
[MQTT-4.3.3-3] In the QoS 2 delivery protocol, the sender MUST treat the PUBLISH packet as
    "unacknowledged" until it has received the corresponding PUBREC packet from the receiver.
[MQTT-4.3.3-4] In the QoS 2 delivery protocol, the sender MUST send a PUBREL packet when it
    receives a PUBREC packet from the receiver with a Reason Code value less than 0x80. This
    PUBREL packet MUST contain the same Packet Identifier as the original PUBLISH packet.
[MQTT-4.3.3-5] In the QoS 2 delivery protocol, the sender MUST treat the PUBREL packet as
    "unacknowledged" until it has received the corresponding PUBCOMP packet from the receiver.
[MQTT-4.3.3-6] In the QoS 2 delivery protocol, the sender MUST NOT re-send the PUBLISH once it
    has sent the corresponding PUBREL packet.
[MQTT-4.3.3-8] In the QoS 2 delivery protocol, the receiver MUST respond with a PUBREC
    containing the Packet Identifier from the incoming PUBLISH packet, having accepted
    ownership of the Application Message.
[MQTT-4.3.3-9] In the QoS 2 delivery protocol, the receiver, if it has sent a PUBREC with a
    Reason Code of 0x80 or greater, MUST treat any subsequent PUBLISH packet that contains that
    Packet Identifier as being a new Application Message.
[MQTT-4.3.3-10] In the QoS 2 delivery protocol, the receiver, until it has received the
    corresponding PUBREL packet, MUST acknowledge any subsequent PUBLISH packet with the same
    Packet Identifier by sending a PUBREC. It MUST NOT cause duplicate messages to be delivered
    to any onward recipients in this case.
[MQTT-4.3.3-11] In the QoS 2 delivery protocol, the receiver MUST respond to a PUBREL packet by
    sending a PUBCOMP packet containing the same Packet Identifier as the PUBREL.
[MQTT-4.3.3-12] In the QoS 2 delivery protocol, the receiver, after it has sent a PUBCOMP, MUST
    treat any subsequent PUBLISH packet that contains that Packet Identifier as being a new
    Application Message.
[MQTT-4.4.0-1] When a Client reconnects with Clean Start set to 0 and a session is present,
    both the Client and Server MUST resend any unacknowledged PUBLISH packets (where QoS > 0)
    and PUBREL packets using their original Packet Identifiers. This is the only circumstance
    where a Client or Server is REQUIRED to resend messages. Clients and Servers MUST NOT
    resend messages at any other time.
[MQTT-4.4.0-2] If PUBACK or PUBREC is received containing a Reason Code of 0x80 or greater the
    corresponding PUBLISH packet is treated as acknowledged, and MUST NOT be retransmitted.
[MQTT-4.5.0-1] When a Server takes ownership of an incoming Application Message it MUST add it
    to the Session State for those Clients that have matching Subscriptions.
"""

import unittest

from _support import (ConformanceCase, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT, PUBACK_CODES,
                      PUBREC_CODES, PUBREL_CODES, PUBCOMP_CODES, P_PAYLOAD_FORMAT, P_SESSION_EXPIRY, raw)


class QosFlowTest(ConformanceCase):

    def persistent(self, filters, cid=None):
        """A subscriber with a session that outlives its connection; returns (client, id)."""
        cid = cid or self.unique("p")
        c = self.conn(cid, properties=[(P_SESSION_EXPIRY, 60)])
        c.subscribe(filters)
        return c, cid

    def resume(self, cid):
        c, ack = self.connected(cid, clean=False, properties=[(P_SESSION_EXPIRY, 60)])
        self.assertTrue(ack.session_present)
        return c

    # -- reason codes
    def test_MQTT_3_4_2_1_puback_reason_codes(self):
        t = self.topic("pa")
        c = self.conn()
        seen = set()
        c.send(raw.publish(t, b"x", 1, 1))                                                # 0x10
        seen.add(c.expect(PUBACK).reason)
        self.subscriber([(t, 0)])
        c.send(raw.publish(t, b"x", 1, 2))                                                # 0x00
        seen.add(c.expect(PUBACK).reason)
        c.send(raw.publish(t, b"\xc3\x28", 1, 3, properties=[(P_PAYLOAD_FORMAT, 1)]))    # 0x99
        seen.add(c.expect(PUBACK).reason)
        self.assertEqual(seen, {0x00, 0x10, 0x99})
        self.assertLessEqual(seen, PUBACK_CODES)

    def test_MQTT_3_5_2_1_pubrec_reason_codes(self):
        t = self.topic("pr")
        c = self.conn()
        seen = set()
        for pid, props, subscribe in ((1, None, False), (2, None, True), (3, [(P_PAYLOAD_FORMAT, 1)], False)):
            if subscribe:
                self.subscriber([(t, 0)])
            c.send(raw.publish(t, b"\xc3\x28" if props else b"x", 2, pid, properties=props))
            rec = c.expect(PUBREC)
            seen.add(rec.reason)
            if rec.reason < 0x80:
                c.send(raw.ack(PUBREL, pid))
                c.expect(PUBCOMP)
        self.assertEqual(seen, {0x00, 0x10, 0x99})
        self.assertLessEqual(seen, PUBREC_CODES)

    def test_MQTT_3_6_1_1_pubrel_reserved_bits(self):
        for flags in (0x00, 0x03, 0x0A, 0x06):
            with self.subTest(flags="%#x" % flags):
                c = self.conn()
                c.send(raw.publish(self.topic("rel"), b"x", 2, 5))
                c.expect(PUBREC)
                c.send(bytes([0x60 | flags, 0x02, 0x00, 0x05]))
                self.assertDisconnected(c, 0x81)

    def test_MQTT_3_6_2_1_pubrel_reason_codes(self):
        t = self.topic("prl")
        sub = self.subscriber([(t, 2)])
        self.conn().publish(t, b"x", qos=2)
        p = sub.expect(PUBLISH)
        sub.send(raw.ack(PUBREC, p.packet_id))
        known = sub.expect(PUBREL)
        sub.send(raw.ack(PUBCOMP, p.packet_id))
        sub.send(raw.ack(PUBREC, 0x7777))
        unknown = sub.expect(PUBREL)
        self.assertEqual((known.reason, unknown.reason), (0x00, 0x92))
        self.assertLessEqual({known.reason, unknown.reason}, PUBREL_CODES)

    def test_MQTT_3_7_2_1_pubcomp_reason_codes(self):
        c = self.conn()
        c.send(raw.publish(self.topic("pc"), b"x", 2, 8))
        c.expect(PUBREC)
        c.send(raw.ack(PUBREL, 8))
        known = c.expect(PUBCOMP)
        c.send(raw.ack(PUBREL, 9))
        unknown = c.expect(PUBCOMP)
        self.assertEqual((known.reason, unknown.reason), (0x00, 0x92))
        self.assertLessEqual({known.reason, unknown.reason}, PUBCOMP_CODES)

    # -- 4.3.1 QoS 0
    def test_MQTT_4_3_1_1_qos0_sent_with_qos0_and_dup0(self):
        t = self.topic("q0")
        sub = self.subscriber([(t, 0)])
        pub = self.conn()
        for q in (0, 1, 2):
            pub.publish(t, b"m", qos=q)
            p = sub.expect(PUBLISH)
            self.assertEqual(p.raw[0], 0x30, "QoS 0, DUP 0, RETAIN 0: %r" % p)

    # -- 4.3.2 QoS 1
    def test_MQTT_4_3_2_1_qos1_new_message_gets_unused_packet_identifier(self):
        t = self.topic("q1ids")
        sub = self.subscriber([(t, 1)])
        pub = self.conn()
        outstanding = {}
        for i in range(20):
            pub.publish(t, b"%d" % i, qos=1)
            p = sub.expect(PUBLISH)
            self.assertNotIn(p.packet_id, outstanding, "packet id %d reused while unacknowledged" % p.packet_id)
            outstanding[p.packet_id] = p
            if i % 3 == 2:  # acknowledge some, keep others outstanding
                for pid in list(outstanding)[:2]:
                    sub.ack(outstanding.pop(pid))

    def test_MQTT_4_3_2_2_qos1_sent_with_qos1_and_dup0(self):
        t = self.topic("q1")
        sub = self.subscriber([(t, 1)])
        self.conn().publish(t, b"m", qos=1)
        p = sub.expect(PUBLISH)
        self.assertEqual(p.raw[0], 0x32, "QoS 1, DUP 0: %r" % p)
        self.assertNotEqual(p.packet_id, 0)

    def test_MQTT_4_3_2_3_qos1_unacknowledged_until_puback(self):
        t = self.topic("q1un")
        sub, cid = self.persistent([(t, 1)])
        pub = self.conn()
        pub.publish(t, b"acked", qos=1)
        pub.publish(t, b"unacked", qos=1)
        acked, unacked = sub.expect(PUBLISH), sub.expect(PUBLISH)
        sub.ack(acked)
        sub.sync()  # the PUBACK has been processed
        sub.close()
        again = self.resume(cid)
        got = again.sync()
        self.assertEqual([(p.payload, p.packet_id) for p in got], [(b"unacked", unacked.packet_id)])

    def test_MQTT_4_3_2_4_server_pubacks_after_taking_ownership(self):
        t = self.topic("own1")
        sub = self.subscriber([(t, 1)])
        c = self.conn()
        c.send(raw.publish(t, b"owned", 1, 0x4242))
        a = c.expect(PUBACK)
        self.assertEqual((a.packet_id, a.reason), (0x4242, 0x00))
        c.close()  # the publisher goes away: the server owns the message
        self.assertEqual(sub.expect(PUBLISH).payload, b"owned")

    def test_MQTT_4_3_2_5_same_packet_id_after_puback_is_a_new_message(self):
        t = self.topic("new1")
        sub = self.subscriber([(t, 1)])
        c = self.conn()
        c.publish_with_id(t, b"first", qos=1, packet_id=7)
        c.publish_with_id(t, b"second", qos=1, packet_id=7, dup=True)
        c.publish_with_id(t, b"third", qos=1, packet_id=7)
        got = []
        for _ in range(3):
            p = sub.expect(PUBLISH)
            sub.ack(p)
            got.append(p.payload)
        self.assertEqual(got, [b"first", b"second", b"third"])

    # -- 4.3.3 QoS 2 (server as sender)
    def test_MQTT_4_3_3_1_qos2_new_message_gets_unused_packet_identifier(self):
        t = self.topic("q2ids")
        sub = self.subscriber([(t, 2)])
        pub = self.conn()
        for i in range(6):
            pub.publish(t, b"%d" % i, qos=2)
        got = [sub.expect(PUBLISH) for _ in range(6)]
        ids = [p.packet_id for p in got]
        self.assertEqual(len(set(ids)), 6, ids)
        self.assertNotIn(0, ids)
        # PUBREC'd but not completed: their ids are still in use.
        for p in got:
            sub.send(raw.ack(PUBREC, p.packet_id))
            self.assertEqual(sub.expect(PUBREL).packet_id, p.packet_id)
        pub.publish(t, b"more", qos=2)
        p = sub.expect(PUBLISH)
        self.assertNotIn(p.packet_id, ids)

    def test_MQTT_4_3_3_2_qos2_sent_with_qos2_and_dup0(self):
        t = self.topic("q2")
        sub = self.subscriber([(t, 2)])
        self.conn().publish(t, b"m", qos=2)
        p = sub.expect(PUBLISH)
        self.assertEqual(p.raw[0], 0x34, "QoS 2, DUP 0: %r" % p)

    def test_MQTT_4_3_3_3_qos2_publish_unacknowledged_until_pubrec(self):
        t = self.topic("q2un")
        sub, cid = self.persistent([(t, 2)])
        self.conn().publish(t, b"no pubrec", qos=2)
        first = sub.expect(PUBLISH)
        sub.close()
        again = self.resume(cid)
        p = again.expect(PUBLISH)
        self.assertEqual((p.payload, p.packet_id, p.qos, p.dup), (b"no pubrec", first.packet_id, 2, True))

    def test_MQTT_4_3_3_4_pubrel_for_pubrec_below_0x80(self):
        t = self.topic("q2rel")
        sub = self.subscriber([(t, 2)])
        self.conn().publish(t, b"m", qos=2)
        p = sub.expect(PUBLISH)
        sub.send(raw.ack(PUBREC, p.packet_id, reason=0x00))
        rel = sub.expect(PUBREL)
        self.assertEqual((rel.packet_id, rel.reason), (p.packet_id, 0x00))
        sub.send(raw.ack(PUBCOMP, p.packet_id))
        with self.subTest("PUBREC 0x10 (No matching subscribers) is also below 0x80"):
            self.conn().publish(t, b"m2", qos=2)
            p = sub.expect(PUBLISH)
            sub.send(raw.ack(PUBREC, p.packet_id, reason=0x10))
            self.assertEqual(sub.expect(PUBREL).packet_id, p.packet_id)
            sub.send(raw.ack(PUBCOMP, p.packet_id))

    def test_MQTT_4_3_3_5_pubrel_unacknowledged_until_pubcomp(self):
        t = self.topic("q2comp")
        sub, cid = self.persistent([(t, 2)])
        self.conn().publish(t, b"m", qos=2)
        p = sub.expect(PUBLISH)
        sub.send(raw.ack(PUBREC, p.packet_id))
        self.assertEqual(sub.expect(PUBREL).packet_id, p.packet_id)
        sub.close()  # no PUBCOMP
        again = self.resume(cid)
        rel = again.expect(PUBREL)
        self.assertEqual(rel.packet_id, p.packet_id)
        again.send(raw.ack(PUBCOMP, p.packet_id))
        self.assertEqual(again.sync(), [])  # the PUBCOMP has been processed before the connection goes
        again.close()
        third = self.resume(cid)
        self.assertEqual(third.sync(), [], "nothing left in flight after the PUBCOMP")

    def test_MQTT_4_3_3_6_publish_not_resent_after_pubrel(self):
        t = self.topic("q2norepub")
        sub, cid = self.persistent([(t, 2)])
        self.conn().publish(t, b"m", qos=2)
        p = sub.expect(PUBLISH)
        sub.send(raw.ack(PUBREC, p.packet_id))
        sub.expect(PUBREL)
        sub.close()
        again = self.resume(cid)
        got = again.sync()
        self.assertEqual([x.type for x in got], [PUBREL], "only the PUBREL is re-sent: %r" % got)

    # -- 4.3.3 QoS 2 (server as receiver)
    def test_MQTT_4_3_3_8_server_pubrecs_with_the_packet_identifier(self):
        t = self.topic("own2")
        sub = self.subscriber([(t, 2)])
        c = self.conn()
        c.send(raw.publish(t, b"owned", 2, 0x2468))
        rec = c.expect(PUBREC)
        self.assertEqual((rec.packet_id, rec.reason), (0x2468, 0x00))
        c.close()  # never sends PUBREL: the server owns the message anyway
        p = sub.expect(PUBLISH)
        self.assertEqual(p.payload, b"owned")

    def test_MQTT_4_3_3_9_after_error_pubrec_same_id_is_a_new_message(self):
        t = self.topic("q2err")
        sub = self.subscriber([(t, 2)])
        c = self.conn()
        c.send(raw.publish(t, b"\xff\xfe", 2, 31, properties=[(P_PAYLOAD_FORMAT, 1)]))
        self.assertEqual(c.expect(PUBREC).reason, 0x99)
        c.send(raw.publish(t, b"valid", 2, 31, properties=[(P_PAYLOAD_FORMAT, 1)]))
        rec = c.expect(PUBREC)
        self.assertEqual((rec.packet_id, rec.reason), (31, 0x00))
        c.send(raw.ack(PUBREL, 31))
        self.assertEqual(c.expect(PUBCOMP).reason, 0x00)
        p = sub.expect(PUBLISH)
        self.assertEqual(p.payload, b"valid")

    def test_MQTT_4_3_3_10_duplicate_before_pubrel_acknowledged_not_redelivered(self):
        t = self.topic("q2dup")
        sub = self.subscriber([(t, 2)])
        c = self.conn()
        c.send(raw.publish(t, b"once", 2, 40))
        self.assertEqual(c.expect(PUBREC).packet_id, 40)
        for dup in (True, False):
            c.send(raw.publish(t, b"once", 2, 40, dup=dup))
            rec = c.expect(PUBREC)
            self.assertEqual((rec.packet_id, rec.reason), (40, 0x00))
        c.send(raw.ack(PUBREL, 40))
        self.assertEqual(c.expect(PUBCOMP).packet_id, 40)
        c.publish(t, b"marker", qos=1)
        got = sub.publishes_until(b"marker")
        self.assertEqual([p.payload for p in got], [b"once"], "delivered exactly once")

    def test_MQTT_4_3_3_11_pubcomp_for_pubrel(self):
        c = self.conn()
        for pid in (1, 300, 65535):
            c.send(raw.publish(self.topic("comp"), b"x", 2, pid))
            self.assertEqual(c.expect(PUBREC).packet_id, pid)
            c.send(raw.ack(PUBREL, pid))
            self.assertEqual(c.expect(PUBCOMP).packet_id, pid)

    def test_MQTT_4_3_3_12_same_id_after_pubcomp_is_a_new_message(self):
        t = self.topic("q2new")
        sub = self.subscriber([(t, 2)])
        c = self.conn()
        for payload in (b"one", b"two"):
            c.send(raw.publish(t, payload, 2, 50))
            c.expect(PUBREC)
            c.send(raw.ack(PUBREL, 50))
            c.expect(PUBCOMP)
        c.publish(t, b"marker", qos=1)
        self.assertEqual([p.payload for p in sub.publishes_until(b"marker")], [b"one", b"two"])

    # -- 4.4 retry
    def test_MQTT_4_4_0_1_resend_unacknowledged_on_resume_only(self):
        t = self.topic("resend")
        sub, cid = self.persistent([(t + "/1", 1), (t + "/2", 2)])
        pub = self.conn()
        pub.publish(t + "/1", b"q1", qos=1)
        pub.publish(t + "/2", b"q2-publish", qos=2)
        pub.publish(t + "/2", b"q2-pubrel", qos=2)
        q1, q2a, q2b = (sub.expect(PUBLISH) for _ in range(3))
        sub.send(raw.ack(PUBREC, q2b.packet_id))
        sub.expect(PUBREL)
        with self.subTest("nothing is re-sent on the same connection"):
            self.assertEqual(sub.sync(), [])
        sub.close()
        again = self.resume(cid)
        got = again.sync()
        pubs = sorted((p.packet_id, p.payload, p.dup) for p in got if p.type == PUBLISH)
        rels = [p.packet_id for p in got if p.type == PUBREL]
        self.assertEqual(pubs, sorted([(q1.packet_id, b"q1", True), (q2a.packet_id, b"q2-publish", True)]))
        self.assertEqual(rels, [q2b.packet_id])

    def test_MQTT_4_4_0_2_error_ack_is_final(self):
        t = self.topic("errack")
        sub, cid = self.persistent([(t + "/1", 1), (t + "/2", 2)])
        pub = self.conn()
        pub.publish(t + "/1", b"refused q1", qos=1)
        pub.publish(t + "/2", b"refused q2", qos=2)
        p1, p2 = sub.expect(PUBLISH), sub.expect(PUBLISH)
        sub.send(raw.ack(PUBACK, p1.packet_id, reason=0x80))
        sub.send(raw.ack(PUBREC, p2.packet_id, reason=0x80))
        got = sub.sync()
        self.assertNotIn(PUBREL, [p.type for p in got], "no PUBREL after a PUBREC >= 0x80")
        sub.close()
        again = self.resume(cid)
        self.assertEqual(again.sync(), [], "refused messages are not retransmitted")

    # -- 4.5
    def test_MQTT_4_5_0_1_message_added_to_matching_sessions(self):
        t = self.topic("own")
        online = self.subscriber([(t + "/#", 1)])
        offline, cid = self.persistent([(t + "/+", 2)])
        offline.disconnect(0)
        self.conn().publish(t + "/x", b"for both", qos=2)
        self.assertEqual(online.expect(PUBLISH).payload, b"for both")
        again = self.resume(cid)
        p = again.expect(PUBLISH)
        self.assertEqual((p.payload, p.qos), (b"for both", 2))


if __name__ == "__main__":
    unittest.main()
