"""MQTT 5.0 section 3.3: PUBLISH (flags, topic name, properties, actions).

Retained messages are in test_retain.py, QoS flows in test_qos_flows.py, flow control in
test_flow_control.py. Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.3.1-1] The DUP flag MUST be set to 1 by the Client or Server when it attempts to
    re-deliver a PUBLISH packet.
[MQTT-3.3.1-2] The DUP flag MUST be set to 0 for all QoS 0 messages.
[MQTT-3.3.1-3] The DUP flag in the outgoing PUBLISH packet is set independently to the
    incoming PUBLISH packet, its value MUST be determined solely by whether the outgoing
    PUBLISH packet is a retransmission.
[MQTT-3.3.1-4] A PUBLISH Packet MUST NOT have both QoS bits set to 1.
[MQTT-3.3.2-1] The Topic Name MUST be present as the first field in the PUBLISH packet
    Variable Header. It MUST be a UTF-8 Encoded String.
[MQTT-3.3.2-2] The Topic Name in the PUBLISH packet MUST NOT contain wildcard characters.
[MQTT-3.3.2-3] The Topic Name in a PUBLISH packet sent by a Server to a subscribing Client
    MUST match the Subscription's Topic Filter according to the matching process defined in
    section 4.7.
[MQTT-3.3.2-4] A Server MUST send the Payload Format Indicator unaltered to all subscribers
    receiving the Application Message.
[MQTT-3.3.2-7] A receiver MUST NOT carry forward any Topic Alias mappings from one Network
    Connection to another.
[MQTT-3.3.2-8] A sender MUST NOT send a PUBLISH packet containing a Topic Alias which has the value 0.
[MQTT-3.3.2-9] A Client MUST NOT send a PUBLISH packet with a Topic Alias greater than the
    Topic Alias Maximum value returned by the Server in the CONNACK packet.
[MQTT-3.3.2-12] A Server MUST accept all Topic Alias values greater than 0 and less than or
    equal to the Topic Alias Maximum value that it returned in the CONNACK packet.
[MQTT-3.3.2-13] The Response Topic MUST be a UTF-8 Encoded String.
[MQTT-3.3.2-14] The Response Topic MUST NOT contain wildcard characters.
[MQTT-3.3.2-15] The Server MUST send the Response Topic unaltered to all subscribers
    receiving the Application Message.
[MQTT-3.3.2-16] The Server MUST send the Correlation Data unaltered to all subscribers
    receiving the Application Message.
[MQTT-3.3.2-17] The Server MUST send all User Properties unaltered in a PUBLISH packet when
    forwarding the Application Message to a Client.
[MQTT-3.3.2-18] The Server MUST maintain the order of User Properties when forwarding the
    Application Message.
[MQTT-3.3.2-19] The Content Type MUST be a UTF-8 Encoded String.
[MQTT-3.3.2-20] A Server MUST send the Content Type unaltered to all subscribers receiving
    the Application Message.
[MQTT-3.3.4-1] The receiver of a PUBLISH Packet MUST respond with the packet as determined by
    the QoS in the PUBLISH Packet.
[MQTT-3.3.4-2] In this case [overlapping subscriptions] the Server MUST deliver the message to
    the Client respecting the maximum QoS of all the matching subscriptions.
[MQTT-3.3.4-3] If the Client specified a Subscription Identifier for any of the overlapping
    subscriptions the Server MUST send those Subscription Identifiers in the message which is
    published as the result of the subscriptions.
[MQTT-3.3.4-4] If the Server sends a single copy of the message it MUST include in the PUBLISH
    packet the Subscription Identifiers for all matching subscriptions which have a
    Subscription Identifiers, their order is not significant.
[MQTT-3.3.4-6] A PUBLISH packet sent from a Client to a Server MUST NOT contain a
    Subscription Identifier. [Server: a Protocol Error]
[MQTT-3.3.4-7] The Client MUST NOT send more than Receive Maximum QoS 1 and QoS 2 PUBLISH
    packets for which it has not received PUBACK, PUBCOMP, or PUBREC with a Reason Code of
    128 or greater from the Server. [Server: DISCONNECT 0x93 Receive Maximum exceeded]
"""

import struct
import unittest

from _support import (ConformanceCase, PUBLISH, PUBACK, PUBREC, PUBCOMP, PINGRESP, P_PAYLOAD_FORMAT,
                      P_RESPONSE_TOPIC, P_CORRELATION_DATA, P_USER_PROPERTY, P_CONTENT_TYPE, P_TOPIC_ALIAS,
                      P_TOPIC_ALIAS_MAXIMUM, P_SUBSCRIPTION_IDENTIFIER, P_SESSION_EXPIRY, P_RECEIVE_MAXIMUM, raw,
                      publish_packet, raw_props, utf8_raw)


class PublishTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300, "topic_alias_maximum": 10}}

    # -- 3.3.1 fixed header
    def test_MQTT_3_3_1_1_dup_set_on_redelivery(self):
        cid = self.unique("dup")
        t = self.topic("dup")
        sub = self.conn(cid, properties=[(P_SESSION_EXPIRY, 60)])
        sub.subscribe([(t, 1)])
        pub = self.conn()
        pub.publish(t, b"once", qos=1)
        first = sub.expect(PUBLISH)
        self.assertFalse(first.dup, "first delivery attempt: DUP 0")
        sub.close()  # no PUBACK
        again, ack = self.connected(cid, clean=False, properties=[(P_SESSION_EXPIRY, 0)])
        self.assertTrue(ack.session_present)
        p = again.expect(PUBLISH)
        self.assertEqual((p.payload, p.packet_id), (b"once", first.packet_id))
        self.assertTrue(p.dup, "re-delivery: DUP 1: %r" % p)

    def test_MQTT_3_3_1_2_dup_is_0_for_qos0(self):
        t = self.topic("dupq0")
        sub = self.subscriber([(t, 0)])
        pub = self.conn()
        with self.subTest("the server's QoS 0 deliveries have DUP 0, even of a re-sent QoS 1 message"):
            pub.publish_with_id(t, b"resent", qos=1, packet_id=9, dup=True)
            p = sub.expect(PUBLISH)
            self.assertEqual((p.qos, p.dup), (0, False))
        with self.subTest("a QoS 0 PUBLISH with DUP 1 from the client is malformed"):
            bad = self.conn()
            bad.send(publish_packet(t, b"x", qos=0, dup=True))
            self.assertDisconnected(bad, 0x81)

    def test_MQTT_3_3_1_3_outgoing_dup_independent_of_incoming(self):
        t = self.topic("dupin")
        sub = self.subscriber([(t, 2)])
        pub = self.conn()
        pub.publish_with_id(t, b"q1-dup", qos=1, packet_id=11, dup=True)
        pub.publish_with_id(t, b"q2-dup", qos=2, packet_id=12, dup=True)
        for payload in (b"q1-dup", b"q2-dup"):
            p = sub.expect(PUBLISH)
            self.assertEqual(p.payload, payload)
            self.assertFalse(p.dup, "first transmission to the subscriber must have DUP 0: %r" % p)
            sub.ack(p)

    def test_MQTT_3_3_1_4_qos_3_is_malformed(self):
        c = self.conn()
        c.send(raw.fixed(PUBLISH, 0x06, raw.utf8("a/b") + b"\x00\x01\x00x"))
        self.assertDisconnected(c, 0x81)

    # -- 3.3.2.1 topic name
    def test_MQTT_3_3_2_1_topic_name_present_and_utf8(self):
        cases = {
            "no topic at all": raw.fixed(PUBLISH, 0, b""),
            "topic length past the end": raw.fixed(PUBLISH, 0, struct.pack("!H", 50) + b"a/b"),
            "ill-formed UTF-8": publish_packet(utf8_raw(b"a/\xfe"), b"x"),
        }
        for label, packet in cases.items():
            with self.subTest(label):
                c = self.conn()
                c.send(packet)
                self.assertDisconnected(c, 0x81)

    def test_MQTT_3_3_2_2_topic_name_without_wildcards(self):
        for name in ("a/+", "a/#", "+", "#", "a/+/b", "a+b"):
            with self.subTest(topic=name):
                c = self.conn()
                c.send(raw.publish(name, b"x", 1, 1))
                self.assertDisconnected(c, 0x90)

    def test_MQTT_3_3_2_3_delivered_topic_matches_the_filter(self):
        t = self.topic("match")
        sub = self.subscriber([(t + "/+/c", 0)])
        pub = self.conn()
        for name in (t + "/b/c", t + "/x/c", t + "//c"):
            pub.publish(name, name.encode(), qos=1)
        pub.publish(t + "/b/c/d", b"no match", qos=1)
        pub.publish(t + "/b/c", b"marker", qos=1)
        got = sub.publishes_until(b"marker")
        self.assertEqual([p.topic for p in got], [t + "/b/c", t + "/x/c", t + "//c"])
        for p in got:
            self.assertEqual(p.payload, p.topic.encode())

    # -- 3.3.2.3 properties forwarded
    def _forward(self, props, qos=1):
        t = self.topic("fwd")
        subs = [self.subscriber([(t, 1)]), self.subscriber([(t, 0)])]
        pub = self.conn()
        pub.publish(t, b"body", qos=qos, properties=props)
        return [s.expect(PUBLISH) for s in subs]

    def test_MQTT_3_3_2_4_payload_format_indicator_unaltered(self):
        for value, payload in ((1, "text ✓"), (0, b"\xff\x00binary")):
            with self.subTest(indicator=value):
                t = self.topic("pfi")
                subs = [self.subscriber([(t, 1)]), self.subscriber([(t, 0)])]
                self.conn().publish(t, payload, qos=1, properties=[(P_PAYLOAD_FORMAT, value)])
                for s in subs:
                    p = s.expect(PUBLISH)
                    self.assertEqual(p.props.get(P_PAYLOAD_FORMAT), value, "properties %r" % p.props)

    def test_MQTT_3_3_2_7_topic_alias_not_carried_to_a_new_connection(self):
        cid = self.unique("alias")
        t = self.topic("alias")
        sub = self.subscriber([(t, 1)])
        c = self.conn(cid)
        c.publish(t, b"set", qos=1, properties=[(P_TOPIC_ALIAS, 3)])
        self.assertEqual(sub.expect(PUBLISH).payload, b"set")
        c.disconnect(0)
        c = self.conn(cid, clean=False)
        c.send(raw.publish("", b"reuse", 1, 1, properties=[(P_TOPIC_ALIAS, 3)]))
        self.assertDisconnected(c, 0x82)

    def test_MQTT_3_3_2_8_topic_alias_zero(self):
        c = self.conn()
        c.send(raw.publish(self.topic("a0"), b"x", 1, 1, properties=[(P_TOPIC_ALIAS, 0)]))
        self.assertDisconnected(c, 0x94)

    def test_MQTT_3_3_2_9_topic_alias_above_the_server_maximum(self):
        c, ack = self.connected()
        maximum = ack.props.get(P_TOPIC_ALIAS_MAXIMUM)
        self.assertEqual(maximum, 10)
        c.send(raw.publish(self.topic("a11"), b"x", 1, 1, properties=[(P_TOPIC_ALIAS, maximum + 1)]))
        self.assertDisconnected(c, 0x94)

    def test_MQTT_3_3_2_12_server_accepts_aliases_1_to_maximum(self):
        t = self.topic("aliases")
        sub = self.subscriber([(t + "/#", 1)])
        c, ack = self.connected()
        maximum = ack.props[P_TOPIC_ALIAS_MAXIMUM]
        for alias in range(1, maximum + 1):
            self.assertEqual(c.publish("%s/%d" % (t, alias), b"set", qos=1, properties=[(P_TOPIC_ALIAS, alias)]).reason, 0)
        for alias in range(maximum, 0, -1):
            self.assertEqual(c.publish("", b"use", qos=1, properties=[(P_TOPIC_ALIAS, alias)]).reason, 0)
        got = [sub.expect(PUBLISH) for _ in range(2 * maximum)]
        for p in got:
            sub.ack(p)
        self.assertEqual([p.topic for p in got[maximum:]], ["%s/%d" % (t, a) for a in range(maximum, 0, -1)])
        for p in got:
            self.assertNotIn(P_TOPIC_ALIAS, p.props, "the publisher's alias leaked to a subscriber")

    def test_MQTT_3_3_2_13_response_topic_must_be_utf8(self):
        for bad in (b"resp/\xff", b"resp/\xed\xa0\x80", b"resp\x00"):
            with self.subTest(bad=bad):
                c = self.conn()
                c.send(publish_packet("a/b", b"x", props=raw_props(bytes([P_RESPONSE_TOPIC]) + utf8_raw(bad))))
                self.assertDisconnected(c, 0x81)

    def test_MQTT_3_3_2_14_response_topic_without_wildcards(self):
        for bad in ("resp/+", "resp/#", "+"):
            with self.subTest(response_topic=bad):
                c = self.conn()
                c.send(raw.publish("a/b", b"x", 1, 1, properties=[(P_RESPONSE_TOPIC, bad)]))
                self.assertDisconnected(c, {0x90, 0x82, 0x81})

    def test_MQTT_3_3_2_15_response_topic_unaltered(self):
        rt = "reply/ÿ/\ufeff/" + self.topic("rt")
        for p in self._forward([(P_RESPONSE_TOPIC, rt)]):
            self.assertEqual(p.props.get(P_RESPONSE_TOPIC), rt)

    def test_MQTT_3_3_2_16_correlation_data_unaltered(self):
        data = b"\x00\x01\xfe\xff corr \x00"
        for p in self._forward([(P_CORRELATION_DATA, data)]):
            self.assertEqual(p.props.get(P_CORRELATION_DATA), data)

    def test_MQTT_3_3_2_17_user_properties_unaltered(self):
        props = [("k", "v"), ("k", "v"), ("", ""), ("ünï", "cødé ✓"), ("key", "value with spaces")]
        for p in self._forward([(P_USER_PROPERTY, kv) for kv in props]):
            self.assertEqual(sorted(p.props.get(P_USER_PROPERTY, [])), sorted(props))

    def test_MQTT_3_3_2_18_user_property_order_maintained(self):
        props = [("z", "1"), ("a", "2"), ("z", "0"), ("m", "3"), ("a", "1")]
        for p in self._forward([(P_USER_PROPERTY, kv) for kv in props], qos=2):
            self.assertEqual(p.props.get(P_USER_PROPERTY), props)

    def test_MQTT_3_3_2_19_content_type_must_be_utf8(self):
        for bad in (b"text/\xff", b"text/\xc0\xaf", b"te\x00xt"):
            with self.subTest(bad=bad):
                c = self.conn()
                c.send(publish_packet("a/b", b"x", props=raw_props(bytes([P_CONTENT_TYPE]) + utf8_raw(bad))))
                self.assertDisconnected(c, 0x81)

    def test_MQTT_3_3_2_20_content_type_unaltered(self):
        ct = "application/vnd.edgemq+json; charset=utf-8 ✓"
        for p in self._forward([(P_CONTENT_TYPE, ct)]):
            self.assertEqual(p.props.get(P_CONTENT_TYPE), ct)

    # -- 3.3.4 actions
    def test_MQTT_3_3_4_1_response_determined_by_qos(self):
        c = self.conn()
        t = self.topic("resp")
        with self.subTest("QoS 0: no response"):
            c.send(raw.publish(t, b"q0", 0))
            self.assertEqual(c.sync(), [], "nothing but the PINGRESP")
        with self.subTest("QoS 1: PUBACK"):
            c.send(raw.publish(t, b"q1", 1, 21))
            p = c.recv()
            self.assertEqual((p.type, p.packet_id), (PUBACK, 21))
        with self.subTest("QoS 2: PUBREC, then PUBCOMP for the PUBREL"):
            c.send(raw.publish(t, b"q2", 2, 22))
            p = c.recv()
            self.assertEqual((p.type, p.packet_id), (PUBREC, 22))
            c.send(raw.ack(raw.PUBREL, 22))
            p = c.recv()
            self.assertEqual((p.type, p.packet_id), (PUBCOMP, 22))
        self.assertEqual(c.sync(), [])

    def test_MQTT_3_3_4_2_overlapping_subscriptions_maximum_qos(self):
        t = self.topic("ovl")
        c = self.conn()
        c.subscribe([(t + "/+", 1), (t + "/#", 2), (t + "/x", 0)])
        pub = self.conn()
        pub.publish(t + "/x", b"two", qos=2)
        pub.publish(t + "/x", b"one", qos=1)
        pub.publish(t + "/x", b"marker", qos=0)
        got = c.publishes_until(b"marker")
        for payload, expected in ((b"two", 2), (b"one", 1)):
            copies = [p.qos for p in got if p.payload == payload]
            self.assertTrue(copies, "%r not delivered" % payload)
            self.assertEqual(max(copies), expected,
                             "%r delivered at QoS %s; the highest granted QoS is 2 (capped by the published QoS)"
                             % (payload, copies))

    def test_MQTT_3_3_4_3_overlapping_subscriptions_carry_their_identifiers(self):
        t = self.topic("ovlid")
        c = self.conn()
        c.subscribe([(t + "/+", 1)], properties=[(P_SUBSCRIPTION_IDENTIFIER, 17)])
        c.subscribe([(t + "/#", 0)])  # no identifier
        c.subscribe([(t + "/a", 0)], properties=[(P_SUBSCRIPTION_IDENTIFIER, 2000)])
        pub = self.conn()
        pub.publish(t + "/a", b"m", qos=1)
        pub.publish(t + "/a", b"marker", qos=0)
        got = c.publishes_until(b"marker")
        self.assertTrue(got)
        ids = set()
        for p in got:
            ids.update(p.props.get(P_SUBSCRIPTION_IDENTIFIER, []))
        self.assertEqual(ids, {17, 2000}, "identifiers sent for the message: %r" % [p.props for p in got])

    def test_MQTT_3_3_4_4_single_copy_has_all_identifiers(self):
        t = self.topic("allids")
        c = self.conn()
        for i, f in enumerate((t + "/#", t + "/+/c", t + "/b/+", t + "/b/c"), start=1):
            c.subscribe([(f, 1)], properties=[(P_SUBSCRIPTION_IDENTIFIER, i * 1000 + 1)])
        pub = self.conn()
        pub.publish(t + "/b/c", b"one copy", qos=1)
        pub.publish(t + "/b/c", b"marker", qos=0)
        got = c.publishes_until(b"marker")
        if len(got) != 1:
            self.skipTest("the server sent %d copies: the statement is about a single copy" % len(got))
        self.assertEqual(sorted(got[0].props.get(P_SUBSCRIPTION_IDENTIFIER, [])), [1001, 2001, 3001, 4001])

    def test_MQTT_3_3_4_6_client_publish_with_subscription_identifier(self):
        t = self.topic("subid")
        sub = self.subscriber([(t, 0)])
        c = self.conn()
        c.send(raw.publish(t, b"x", 1, 1, properties=[(P_SUBSCRIPTION_IDENTIFIER, 5)]))
        first = c.recv()
        if first.type == PUBACK:
            delivered = sub.sync()
            self.fail("PUBLISH carrying a Subscription Identifier accepted with PUBACK %#04x (subscriber got %r) "
                      "instead of a Protocol Error (DISCONNECT 0x82)" % (first.reason, delivered))
        c.stash.appendleft(first)
        self.assertDisconnected(c, {0x82, 0x81})


class InboundReceiveMaximumTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300, "receive_maximum": 2}}

    def test_MQTT_3_3_4_7_client_exceeding_receive_maximum(self):
        c, ack = self.connected()
        self.assertEqual(ack.props.get(P_RECEIVE_MAXIMUM), 2)
        t = self.topic("rm")
        c.send(raw.publish(t, b"1", 2, 1))
        self.assertEqual(c.expect(PUBREC).packet_id, 1)
        c.send(raw.publish(t, b"2", 2, 2))
        self.assertEqual(c.expect(PUBREC).packet_id, 2)
        with self.subTest("completing one frees a slot"):
            c.send(raw.ack(raw.PUBREL, 1))
            self.assertEqual(c.expect(PUBCOMP).packet_id, 1)
            c.send(raw.publish(t, b"3", 2, 3))
            self.assertEqual(c.expect(PUBREC).packet_id, 3)
        c.send(raw.publish(t, b"4", 2, 4))  # third unacknowledged QoS 2 PUBLISH
        self.assertDisconnected(c, 0x93)


if __name__ == "__main__":
    unittest.main()
