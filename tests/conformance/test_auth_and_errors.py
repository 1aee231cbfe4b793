"""MQTT 5.0 sections 3.15 (AUTH), 4.12 (Enhanced authentication) and 4.13 (Handling errors),
for a Server that supports no authentication method.

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.15.1-1] Bits 3,2,1 and 0 of the Fixed Header of the AUTH packet are reserved and MUST
    all be set to 0. The Client or Server MUST treat any other value as malformed and close the
    Network Connection.
[MQTT-4.12.0-1] If the Server does not support the Authentication Method supplied by the
    Client, it MAY send a CONNACK with a Reason Code of 0x8C (Bad authentication method) or
    0x87 (Not Authorized) as described in section 4.13 and MUST close the Network Connection.
[MQTT-4.12.0-6] If the Client does not include an Authentication Method in the CONNECT, the
    Server MUST NOT send an AUTH packet, and it MUST NOT send an Authentication Method in the
    CONNACK packet.
[MQTT-4.12.0-7] If the Client does not include an Authentication Method in the CONNECT, the
    Client MUST NOT send an AUTH packet to the Server. [Server: a Protocol Error]
[MQTT-4.13.1-1] When a Server detects a Malformed Packet or Protocol Error, and a Reason Code
    is given in the specification, it MUST close the Network Connection.
[MQTT-4.13.2-1] The CONNACK and DISCONNECT packets allow a Reason Code of 0x80 or greater to
    indicate that the Network Connection will be closed. If a Reason Code of 0x80 or greater
    is specified, then the Network Connection MUST be closed whether or not the CONNACK or
    DISCONNECT is sent.
"""

import unittest

from _support import (ConformanceCase, CONNACK, AUTH, DISCONNECT, PUBLISH, P_AUTH_METHOD, P_AUTH_DATA,
                      P_TOPIC_ALIAS, P_SESSION_EXPIRY, raw, connect_packet)


def auth_packet(reason=0x19, props=b"\x00", flags=0):
    return raw.fixed(AUTH, flags, bytes([reason]) + props)


class AuthAndErrorsTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300, "max_packet_size": 2048}}

    def test_MQTT_3_15_1_1_auth_reserved_bits(self):
        for flags in (0x01, 0x02, 0x08):
            with self.subTest(flags="%#x" % flags):
                c = self.conn()
                c.send(auth_packet(0x19, raw.props((P_AUTH_METHOD, "m")), flags=flags))
                self.assertDisconnected(c, 0x81)

    def test_MQTT_4_12_0_1_unsupported_authentication_method(self):
        for method in ("SCRAM-SHA-1", "GS2-KRB5", "x"):
            with self.subTest(method=method):
                c = self.client()
                c.send(raw.connect(self.unique("auth"), properties=[(P_AUTH_METHOD, method), (P_AUTH_DATA, b"\x01")]))
                got = self.assertRefused(c, {0x8C, 0x87})
                self.assertEqual(len(got), 1)

    def test_MQTT_4_12_0_6_no_auth_without_a_method(self):
        c = self.client()
        c.send(raw.connect(self.unique("noauth")) + raw.subscribe(1, [("a", 0)]) + raw.pingreq())
        ack = c.expect(CONNACK)
        self.assertEqual(ack.reason, 0)
        self.assertNotIn(P_AUTH_METHOD, ack.props)
        self.assertNotIn(P_AUTH_DATA, ack.props)
        got = c.sync()
        self.assertNotIn(AUTH, [p.type for p in got])

    def test_MQTT_4_12_0_7_auth_without_a_method_is_a_protocol_error(self):
        for label, packet in (("re-authenticate", auth_packet(0x19, raw.props((P_AUTH_METHOD, "m")))),
                              ("continue", auth_packet(0x18, raw.props((P_AUTH_METHOD, "m")))),
                              ("no properties", b"\xf0\x00")):
            with self.subTest(label):
                c = self.conn()
                c.send(packet)
                self.assertDisconnected(c, 0x82)

    def test_MQTT_4_13_1_1_errors_close_the_connection(self):
        t = self.topic("err")
        errors = {
            "malformed: reserved flags": (b"\xc2\x00", 0x81),
            "malformed: remaining length too long": (b"\xc0\xff\xff\xff\xff\x01", 0x81),
            "malformed: property not allowed": (raw.publish(t, b"x", 0, properties=[(P_SESSION_EXPIRY, 1)]), 0x81),
            "malformed: packet type 0": (b"\x00\x00", 0x81),
            "protocol error: duplicate property": (raw.publish(t, b"x", 1, 1, properties=raw.props(
                (raw.P_PAYLOAD_FORMAT, 0), (raw.P_PAYLOAD_FORMAT, 0))), 0x82),
            "protocol error: packet identifier 0": (raw.publish(t, b"x", 1, 0), 0x82),
            "protocol error: Retain Handling 3": (raw.subscribe(1, [(t, 0x30)]), 0x82),
            "protocol error: unknown topic alias": (raw.publish("", b"x", 0, properties=[(P_TOPIC_ALIAS, 5)]), 0x82),
            "protocol error: invalid PUBACK reason code": (raw.ack(raw.PUBACK, 1, reason=0x05), 0x82),
            "protocol error: CONNACK from a client": (b"\x20\x03\x00\x00\x00", 0x82),
        }
        for label, (data, reason) in errors.items():
            with self.subTest(label):
                c = self.conn()
                c.send(data)
                got = self.assertDisconnected(c, reason)
                self.assertEqual([p.type for p in got], [DISCONNECT])
        with self.subTest("MQTT 3.1.1 client: closed without a packet"):
            c = self.conn(version=raw.V311)
            c.send(b"\xc2\x00")
            self.assertEqual(self.assertClosed(c), [])

    def test_MQTT_4_13_2_1_reason_0x80_or_more_closes(self):
        with self.subTest("CONNACK"):
            for data in (raw.connect(self.unique("x"), properties=[(P_AUTH_METHOD, "m")]),
                         connect_packet(self.unique("x"), flags=0x01 | 0x02)):
                c = self.client()
                c.send(data + raw.pingreq() + raw.subscribe(1, [("a", 0)]))
                got = self.assertClosed(c)
                self.assertEqual(len(got), 1)
                self.assertGreaterEqual(got[0].reason, 0x80)
        with self.subTest("DISCONNECT"):
            for data in (b"\xc1\x00", raw.publish("a/+", b"")):
                c = self.conn()
                c.send(data + raw.pingreq())
                got = self.assertClosed(c)
                self.assertEqual([(p.type, p.reason >= 0x80) for p in got], [(DISCONNECT, True)])
        with self.subTest("without sending the DISCONNECT (MQTT 3.1.1)"):
            c = self.conn(version=raw.V311)
            c.send(raw.publish("a/+", b"", version=raw.V311) + raw.pingreq())
            self.assertEqual(self.assertClosed(c), [])


if __name__ == "__main__":
    unittest.main()
