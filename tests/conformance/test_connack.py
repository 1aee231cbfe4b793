"""MQTT 5.0 section 3.2: CONNACK, and the capabilities a Server announces in it.

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.2.0-1] The Server MUST send a CONNACK with a 0x00 (Success) Reason Code before
    sending any Packet other than AUTH.
[MQTT-3.2.0-2] The Server MUST NOT send more than one CONNACK in a Network Connection.
[MQTT-3.2.2-1] Byte 1 is the "Connect Acknowledge Flags". Bits 7-1 are reserved and MUST be set to 0.
[MQTT-3.2.2-2] If the Server accepts a connection with Clean Start set to 1, the Server MUST
    set Session Present to 0 in the CONNACK packet in addition to setting a 0x00 (Success)
    Reason Code in the CONNACK packet.
[MQTT-3.2.2-3] If the Server accepts a connection with Clean Start set to 0 and the Server has
    Session State for the ClientID, it MUST set Session Present to 1 in the CONNACK packet,
    otherwise it MUST set Session Present to 0 in the CONNACK packet. In both cases it MUST
    set a 0x00 (Success) Reason Code in the CONNACK packet.
[MQTT-3.2.2-6] If a Server sends a CONNACK packet containing a non-zero Reason Code it MUST
    set Session Present to 0.
[MQTT-3.2.2-7] If a Server sends a CONNACK packet containing a Reason code of 128 or greater
    it MUST then close the Network Connection.
[MQTT-3.2.2-8] The Server sending the CONNACK packet MUST use one of the Connect Reason Code values.
[MQTT-3.2.2-9] If a Server does not support QoS 1 or QoS 2 PUBLISH packets it MUST send a
    Maximum QoS in the CONNACK packet specifying the highest QoS it supports.
[MQTT-3.2.2-10] A Server that does not support QoS 1 or QoS 2 PUBLISH packets MUST still
    accept SUBSCRIBE packets containing a Requested QoS of 0, 1 or 2.
[MQTT-3.2.2-11] If a Client receives a Maximum QoS from a Server, it MUST NOT send PUBLISH
    packets at a QoS level exceeding the Maximum QoS level specified. [Server: DISCONNECT 0x9B]
[MQTT-3.2.2-12] If a Server receives a CONNECT packet containing a Will QoS that exceeds its
    capabilities, it MUST reject the connection. It SHOULD use a CONNACK packet with Reason
    Code 0x9B (QoS not supported) ... and MUST close the Network Connection.
[MQTT-3.2.2-13] If a Server receives a CONNECT packet containing a Will Message with the Will
    Retain set to 1, and it does not support retained messages, the Server MUST reject the
    connection request. It SHOULD send CONNACK with Reason Code 0x9A (Retain not supported)
    and then it MUST close the Network Connection.
[MQTT-3.2.2-14] A Client receiving Retain Available set to 0 from the Server MUST NOT send a
    PUBLISH packet with the RETAIN flag set to 1. [Server: DISCONNECT 0x9A]
[MQTT-3.2.2-15] The Client MUST NOT send packets exceeding Maximum Packet Size to the Server.
    [Server: DISCONNECT 0x95 Packet too large]
[MQTT-3.2.2-16] If the Client connects using a zero length Client Identifier, the Server MUST
    respond with a CONNACK containing an Assigned Client Identifier. The Assigned Client
    Identifier MUST be a new Client Identifier not used by any other Session currently in the Server.
[MQTT-3.2.2-17] The Client MUST NOT send a Topic Alias in a PUBLISH packet to the Server
    greater than this value [Topic Alias Maximum]. [Server: DISCONNECT 0x94]
[MQTT-3.2.2-18] If Topic Alias Maximum is absent or 0, the Client MUST NOT send any Topic
    Aliases on to the Server. [Server: DISCONNECT 0x94]
[MQTT-3.2.2-19] The Server MUST NOT send this property [Reason String] if it would increase
    the size of the CONNACK packet beyond the Maximum Packet Size specified by the Client.
[MQTT-3.2.2-20] The Server MUST NOT send this property [User Property] if it would increase
    the size of the CONNACK packet beyond the Maximum Packet Size specified by the Client.
[MQTT-3.2.2-21] If the Server sends a Server Keep Alive on the CONNACK packet, the Client MUST
    use this value instead of the Keep Alive value the Client sent on CONNECT.
    [Server: enforces its own value, DISCONNECT 0x8D]
[MQTT-3.2.2-22] If the Server does not send the Server Keep Alive, the Server MUST use the
    Keep Alive value set by the Client on CONNECT.
"""

import time
import unittest

from _support import (ConformanceCase, CONNACK, PUBLISH, SUBACK, PINGRESP, DISCONNECT, CONNACK_CODES,
                      P_SESSION_EXPIRY, P_ASSIGNED_CLIENT_ID, P_MAXIMUM_QOS, P_RETAIN_AVAILABLE, P_TOPIC_ALIAS,
                      P_TOPIC_ALIAS_MAXIMUM, P_MAXIMUM_PACKET_SIZE, P_SERVER_KEEP_ALIVE, P_REASON_STRING,
                      P_USER_PROPERTY, P_AUTH_METHOD, raw, connect_packet)


class ConnackTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300, "max_packet_size": 4096, "max_keep_alive": 5}}

    def test_MQTT_3_2_0_1_connack_before_any_other_packet(self):
        t = self.topic("first")
        pub = self.conn()
        pub.publish(t, b"retained", qos=1, retain=True)
        cid = self.unique("first")
        # A resumed session with a queued message, a retained message for the new
        # subscription and a PINGREQ, all sent in the same write as the CONNECT.
        c = self.conn(cid, properties=[(P_SESSION_EXPIRY, 60)])
        c.subscribe([(t + "/q", 1)])
        c.disconnect(0)
        self.assertClosed(c)
        pub.publish(t + "/q", b"queued", qos=1)
        c = self.client()
        c.send(raw.connect(cid, clean=False, properties=[(P_SESSION_EXPIRY, 0)]) + raw.subscribe(1, [(t, 1)]) +
               raw.pingreq())
        first = c.recv()
        self.assertEqual(first.type, CONNACK, "first packet from the server: %r" % first)
        self.assertEqual(first.reason, 0x00)
        rest = [c.recv() for _ in range(4)]
        self.assertCountEqual([p.type for p in rest], [PUBLISH, PUBLISH, SUBACK, PINGRESP])

    def test_MQTT_3_2_0_2_only_one_connack(self):
        c, _ = self.connected()
        c.send(raw.connect(self.unique("second")))
        got = self.assertDisconnected(c, 0x82)
        self.assertNotIn(CONNACK, [p.type for p in got])
        with self.subTest("a resumed session gets a single CONNACK"):
            cid = self.unique("one")
            t = self.topic("one")
            c = self.conn(cid, properties=[(P_SESSION_EXPIRY, 60)])
            c.subscribe([(t, 1)])
            c.disconnect(0)
            self.assertClosed(c)
            pub = self.conn()
            for i in range(3):
                pub.publish(t, b"q%d" % i, qos=1)
            c, ack = self.connected(cid, clean=False, properties=[(P_SESSION_EXPIRY, 0)])
            self.assertTrue(ack.session_present)
            got = c.until_payload(b"q2")
            got += c.sync()
            self.assertNotIn(CONNACK, [p.type for p in got])

    def test_MQTT_3_2_2_1_connack_flags_reserved_bits_zero(self):
        cid = self.unique("flags")
        for clean in (True, False, False):
            _, ack = self.connected(cid, clean=clean, properties=[(P_SESSION_EXPIRY, 60)])
            self.assertEqual(ack.body[0] & 0xFE, 0, "Connect Acknowledge Flags %#04x" % ack.body[0])
        c = self.client()
        c.send(raw.connect(self.unique("flags"), properties=[(P_AUTH_METHOD, "nope")]))
        ack = c.expect(CONNACK)
        self.assertEqual(ack.body[0] & 0xFE, 0)

    def test_MQTT_3_2_2_2_clean_start_1_gives_session_present_0(self):
        cid = self.unique("cs1")
        c = self.conn(cid, properties=[(P_SESSION_EXPIRY, 60)])
        c.subscribe([(self.topic("cs1"), 1)])
        c.disconnect(0)
        self.assertClosed(c)
        _, ack = self.connected(cid, clean=True, properties=[(P_SESSION_EXPIRY, 60)])
        self.assertEqual(ack.body[:2], b"\x00\x00", "Session Present 0, Reason Code 0x00")

    def test_MQTT_3_2_2_3_session_present_reflects_stored_state(self):
        cid = self.unique("cs0")
        c, ack = self.connected(cid, clean=False, properties=[(P_SESSION_EXPIRY, 60)])
        self.assertEqual(ack.body[:2], b"\x00\x00", "no session yet: Session Present 0")
        c.disconnect(0)
        self.assertClosed(c)
        c, ack = self.connected(cid, clean=False, properties=[(P_SESSION_EXPIRY, 60)])
        self.assertEqual(ack.body[:2], b"\x01\x00", "stored session: Session Present 1")
        c.disconnect(0)
        self.assertClosed(c)
        _, ack = self.connected(cid, version=raw.V311, clean=False)
        self.assertEqual(ack.raw, b"\x20\x02\x01\x00", "3.1.1 client resuming it")

    def test_MQTT_3_2_2_6_refusal_sets_session_present_0(self):
        cid = self.unique("refused")
        c = self.conn(cid, properties=[(P_SESSION_EXPIRY, 60)])
        c.disconnect(0)
        self.assertClosed(c)
        refusals = {
            "authentication method": raw.connect(cid, clean=False, properties=[(P_AUTH_METHOD, "x")]),
            "Receive Maximum 0": raw.connect(cid, clean=False, properties=[(raw.P_RECEIVE_MAXIMUM, 0)]),
            "will QoS 3": connect_packet(flags=0x1C, payload=raw.utf8(cid) + b"\x00" + raw.utf8("w") + raw.binary(b"")),
        }
        for label, packet in refusals.items():
            with self.subTest(label):
                c = self.client()
                c.send(packet)
                got = self.assertRefused(c, CONNACK_CODES - {0})
                self.assertEqual(len(got), 1)
                self.assertFalse(got[0].session_present, "Session Present with reason %#04x" % got[0].reason)

    def test_MQTT_3_2_2_7_reason_128_or_more_closes_the_connection(self):
        for label, packet in ((0x8C, raw.connect(self.unique("x"), properties=[(P_AUTH_METHOD, "x")])),
                              (0x81, connect_packet(self.unique("x"), flags=0x03)),
                              (0x82, raw.connect(self.unique("x"), properties=[(P_MAXIMUM_PACKET_SIZE, 0)]))):
            with self.subTest("%#04x" % label):
                c = self.client()
                c.send(packet + raw.pingreq())
                got = self.assertClosed(c)
                self.assertEqual([(p.type, p.reason) for p in got], [(CONNACK, label)])

    def test_MQTT_3_2_2_8_connect_reason_codes(self):
        seen = set()
        packets = [raw.connect(self.unique("rc")),
                   raw.connect(self.unique("rc"), properties=[(P_AUTH_METHOD, "x")]),
                   connect_packet(self.unique("rc"), flags=0x03),
                   raw.connect(self.unique("rc"), properties=[(raw.P_RECEIVE_MAXIMUM, 0)]),
                   connect_packet(flags=0x06, payload=raw.utf8(self.unique("rc")) + b"\x00" + raw.utf8("w/+") +
                                  raw.binary(b""))]
        for packet in packets:
            c = self.client()
            c.send(packet)
            ack = c.expect(CONNACK)
            self.assertIn(ack.reason, CONNACK_CODES, "not a Connect Reason Code: %r" % ack)
            seen.add(ack.reason)
        self.assertGreaterEqual(len(seen), 4, seen)

    def test_MQTT_3_2_2_15_packet_larger_than_server_maximum(self):
        c, ack = self.connected()
        limit = ack.props[P_MAXIMUM_PACKET_SIZE]
        self.assertEqual(limit, 4096)
        t = self.topic("big")
        overhead = len(raw.publish(t, b"", 1, 1))
        ok = raw.publish(t, b"x" * (limit - overhead - 1), 1, 1)  # remaining length takes 2 bytes
        self.assertEqual(len(ok), limit)
        c.send(ok)
        self.assertEqual(c.expect(raw.PUBACK).packet_id, 1, "a packet of exactly Maximum Packet Size is accepted")
        c.send(raw.publish(t, b"x" * (limit - overhead), 1, 2))
        self.assertDisconnected(c, 0x95)

    def test_MQTT_3_2_2_16_assigned_client_identifier_is_new(self):
        existing = self.unique("existing")
        holder = self.conn(existing, properties=[(P_SESSION_EXPIRY, 60)])
        assigned = set()
        for _ in range(5):
            c, ack = self.connected("")
            aid = ack.props.get(P_ASSIGNED_CLIENT_ID)
            self.assertTrue(aid, "no Assigned Client Identifier: %r" % ack)
            self.assertNotEqual(aid, existing)
            self.assertNotIn(aid, assigned)
            assigned.add(aid)
            c.disconnect(0)
        holder.ping()  # the existing session's connection was not taken over

    def test_MQTT_3_2_2_17_topic_alias_above_maximum(self):
        c, ack = self.connected()
        maximum = ack.props[P_TOPIC_ALIAS_MAXIMUM]
        c.send(raw.publish(self.topic("alias"), b"x", 1, 1, properties=[(P_TOPIC_ALIAS, maximum + 1)]))
        self.assertDisconnected(c, 0x94)

    def test_MQTT_3_2_2_19_reason_string_within_client_maximum_packet_size(self):
        self._check_connack_optional_property(P_REASON_STRING)

    def test_MQTT_3_2_2_20_user_property_within_client_maximum_packet_size(self):
        self._check_connack_optional_property(P_USER_PROPERTY)

    def _check_connack_optional_property(self, pid):
        for limit in (16, 32):
            for label, props in (("accepted", []), ("refused", [(P_AUTH_METHOD, "nope")])):
                with self.subTest(limit=limit, connect=label):
                    c = self.client()
                    c.send(raw.connect(self.unique("mps"), properties=[(P_MAXIMUM_PACKET_SIZE, limit)] + props))
                    ack = c.expect(CONNACK)
                    if pid in ack.props:
                        self.assertLessEqual(len(ack.raw), limit,
                                             "CONNACK of %d bytes carries property %#x beyond the client's "
                                             "Maximum Packet Size %d" % (len(ack.raw), pid, limit))

    def test_MQTT_3_2_2_22_server_uses_the_client_keep_alive(self):
        # This server caps Keep Alive at 5 s; a client asking for 1 s gets no Server Keep
        # Alive, so the server must hold it to its own 1 s.
        # The period starts when the server receives the CONNECT (between t_sent and t_acked).
        t_sent = time.monotonic()
        c, ack = self.connected(keepalive=1)
        t_acked = time.monotonic()
        self.assertNotIn(P_SERVER_KEEP_ALIVE, ack.props)
        with self.assertRaises(TimeoutError):
            c.recv(timeout=max(0.0, t_sent + 1.2 - time.monotonic()) or 0.001)
        self.assertDisconnected(c, 0x8D, timeout=3.0)
        closed = time.monotonic()
        self.assertGreaterEqual(closed - t_sent, 1.4, "closed after %.2fs" % (closed - t_sent))
        self.assertLess(closed - t_acked, 2.9, "closed after %.2fs (Keep Alive 1 s)" % (closed - t_acked))


class CappedKeepAliveTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300, "max_keep_alive": 1}}

    def test_MQTT_3_2_2_21_client_ignoring_server_keep_alive_is_disconnected(self):
        t_sent = time.monotonic()  # the period starts between t_sent and t_acked
        c, ack = self.connected(keepalive=30)
        t_acked = time.monotonic()
        self.assertEqual(ack.props.get(P_SERVER_KEEP_ALIVE), 1, "Server Keep Alive in %r" % ack.props)
        got = self.assertDisconnected(c, 0x8D, timeout=4.0)
        closed = time.monotonic()
        self.assertEqual(len(got), 1)
        self.assertGreaterEqual(closed - t_sent, 1.3, "closed after %.2fs" % (closed - t_sent))
        self.assertLess(closed - t_acked, 2.9, "closed after %.2fs: the Server Keep Alive (1 s) was not applied"
                        % (closed - t_acked))


class LimitedCapabilitiesTest(ConformanceCase):
    """A server without QoS 2, retained messages or topic aliases."""
    config = {"mqtt": {"connect_timeout_ms": 300, "maximum_qos": 1, "retain_available": False,
                       "topic_alias_maximum": 0}}

    def test_MQTT_3_2_2_9_maximum_qos_is_announced(self):
        _, ack = self.connected()
        self.assertEqual(ack.props.get(P_MAXIMUM_QOS), 1, "CONNACK properties %r" % ack.props)

    def test_MQTT_3_2_2_10_subscribe_with_any_requested_qos_is_accepted(self):
        c = self.conn()
        t = self.topic("anyqos")
        sa = c.subscribe([(t + "/0", 0), (t + "/1", 1), (t + "/2", 2)])
        self.assertEqual(sa.reasons, [0, 1, 1], "granted QoS capped at the Maximum QoS: %r" % sa)
        c.publish(t + "/2", b"works", qos=1)
        p = c.expect(PUBLISH)
        self.assertEqual((p.payload, p.qos), (b"works", 1))

    def test_MQTT_3_2_2_11_publish_above_maximum_qos(self):
        c = self.conn()
        c.send(raw.publish(self.topic("q2"), b"x", 2, 1))
        self.assertDisconnected(c, 0x9B)

    def test_MQTT_3_2_2_12_will_qos_above_maximum_is_refused(self):
        c = self.client()
        c.send(raw.connect(self.unique("wq"), will={"topic": "w/t", "payload": b"x", "qos": 2}))
        got = self.assertRefused(c, {0x9B, 0x80, 0x83})
        self.assertEqual(len(got), 1, "expected a CONNACK 0x9B before the close, got %r" % got)
        self.assertEqual(got[0].reason, 0x9B)

    def test_MQTT_3_2_2_13_will_retain_without_retain_support_is_refused(self):
        c = self.client()
        c.send(raw.connect(self.unique("wr"), will={"topic": "w/t", "payload": b"x", "qos": 0, "retain": True}))
        got = self.assertRefused(c, {0x9A, 0x80, 0x83})
        self.assertEqual(len(got), 1, "expected a CONNACK 0x9A before the close, got %r" % got)
        self.assertEqual(got[0].reason, 0x9A)

    def test_MQTT_3_2_2_14_retained_publish_when_retain_unavailable(self):
        c, ack = self.connected()
        self.assertEqual(ack.props.get(P_RETAIN_AVAILABLE), 0)
        c.send(raw.publish(self.topic("ret"), b"x", 0, retain=True))
        self.assertDisconnected(c, 0x9A)

    def test_MQTT_3_2_2_18_topic_alias_when_maximum_is_zero(self):
        c, ack = self.connected()
        self.assertIn(ack.props.get(P_TOPIC_ALIAS_MAXIMUM, 0), (0,), "Topic Alias Maximum absent or 0")
        c.send(raw.publish(self.topic("alias"), b"x", 0, properties=[(P_TOPIC_ALIAS, 1)]))
        self.assertDisconnected(c, 0x94)


if __name__ == "__main__":
    unittest.main()
