"""MQTT 5.0 section 3.1: CONNECT.

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.1.0-1] After a Network Connection is established by a Client to a Server, the first
    packet sent from the Client to the Server MUST be a CONNECT packet.
[MQTT-3.1.0-2] The Server MUST process a second CONNECT packet sent from a Client as a
    Protocol Error and close the Network Connection.
[MQTT-3.1.2-1] The protocol name MUST be the UTF-8 String "MQTT". If the Server does not want
    to accept the CONNECT, and wishes to reveal that it is an MQTT Server it MAY send a
    CONNACK packet with Reason Code of 0x84 (Unsupported Protocol Version), and then it MUST
    close the Network Connection.
[MQTT-3.1.2-2] If the Protocol Version is not 5 and the Server does not want to accept the
    CONNECT packet, the Server MAY send a CONNACK packet with Reason Code 0x84 (Unsupported
    Protocol Version) and then MUST close the Network Connection.
[MQTT-3.1.2-3] The Server MUST validate that the reserved flag in the CONNECT packet is set to 0.
[MQTT-3.1.2-9] If the Will Flag is set to 1, the Will Properties, Will Topic, and Will
    Payload fields MUST be present in the Payload.
[MQTT-3.1.2-11] If the Will Flag is set to 0, then the Will QoS MUST be set to 0 (0x00).
[MQTT-3.1.2-12] If the Will Flag is set to 1, the value of Will QoS can be 0 (0x00), 1 (0x01),
    or 2 (0x02). [A value of 3 (0x03) is a Malformed Packet.]
[MQTT-3.1.2-13] If the Will Flag is set to 0, then Will Retain MUST be set to 0.
[MQTT-3.1.2-16] If the User Name Flag is set to 0, a User Name MUST NOT be present in the Payload.
[MQTT-3.1.2-17] If the User Name Flag is set to 1, a User Name MUST be present in the Payload.
[MQTT-3.1.2-18] If the Password Flag is set to 0, a Password MUST NOT be present in the Payload.
[MQTT-3.1.2-19] If the Password Flag is set to 1, a Password MUST be present in the Payload.
[MQTT-3.1.2-21] If the Server returns a Server Keep Alive on the CONNACK packet, the Client
    MUST use that value instead of the value it sent as the Keep Alive.
[MQTT-3.1.2-22] If the Keep Alive value is non-zero and the Server does not receive an MQTT
    Control Packet from the Client within one and a half times the Keep Alive time period, it
    MUST close the Network Connection to the Client as if the network had failed.
[MQTT-3.1.2-27] If Topic Alias Maximum is absent or zero, the Server MUST NOT send any Topic
    Aliases to the Client.
[MQTT-3.1.2-28] A value of 0 [of Request Response Information] indicates that the Server
    MUST NOT return Response Information.
[MQTT-3.1.2-29] If the value of Request Problem Information is 0, the Server MAY return a
    Reason String or User Properties on a CONNACK or DISCONNECT packet, but MUST NOT send a
    Reason String or User Properties on any packet other than PUBLISH, CONNACK, or DISCONNECT.
[MQTT-3.1.3-1] The Payload of the CONNECT packet ... These fields, if present, MUST appear in
    the order Client Identifier, Will Properties, Will Topic, Will Payload, User Name, Password.
[MQTT-3.1.3-2] The ClientID MUST be used by Clients and by Servers to identify state that
    they hold relating to this MQTT Session between the Client and the Server.
[MQTT-3.1.3-3] The ClientID MUST be present and is the first field in the CONNECT packet Payload.
[MQTT-3.1.3-4] The ClientID MUST be a UTF-8 Encoded String.
[MQTT-3.1.3-5] The Server MUST allow ClientID's which are between 1 and 23 UTF-8 encoded bytes
    in length, and that contain only the characters
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".
[MQTT-3.1.3-6] A Server MAY allow a Client to supply a ClientID that has a length of zero
    bytes, however if it does so the Server MUST treat this as a special case and assign a
    unique ClientID to that Client.
[MQTT-3.1.3-7] It MUST then process the CONNECT packet as if the Client had provided that
    unique ClientID, and MUST return the Assigned Client Identifier in the CONNACK packet.
[MQTT-3.1.3-8] If the Server rejects the ClientID it MAY respond to the CONNECT packet with a
    CONNACK using Reason Code 0x85 (Client Identifier not valid) ... and then it MUST close
    the Network Connection.
[MQTT-3.1.3-11] The Will Topic MUST be a UTF-8 Encoded String.
[MQTT-3.1.3-12] If the User Name Flag is set to 1, the User Name is the next field in the
    Payload. The User Name MUST be a UTF-8 Encoded String.
[MQTT-3.1.4-1] The Server MUST validate that the CONNECT packet matches the format described
    in section 3.1 and close the Network Connection if it does not match.
[MQTT-3.1.4-2] The Server MAY check that the contents of the CONNECT packet meet any further
    restrictions ... If any of these checks fail, it MUST close the Network Connection.
[MQTT-3.1.4-3] If the ClientID represents a Client already connected to the Server, the
    Server sends a DISCONNECT packet to the existing Client with Reason Code of 0x8E (Session
    taken over) ... and MUST close the Network Connection of the existing Client.
[MQTT-3.1.4-4] The Server MUST perform the processing of Clean Start that is described in
    section 3.1.2.4.
[MQTT-3.1.4-5] The Server MUST acknowledge the CONNECT packet with a CONNACK packet containing
    a 0x00 (Success) Reason Code.
[MQTT-3.1.4-6] If the Server rejects the CONNECT, it MUST NOT process any data sent by the
    Client after the CONNECT packet except AUTH packets.
"""

import struct
import time
import unittest

from _support import (ConformanceCase, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK,
                      DISCONNECT, P_SESSION_EXPIRY, P_ASSIGNED_CLIENT_ID, P_RECEIVE_MAXIMUM, P_MAXIMUM_PACKET_SIZE,
                      P_TOPIC_ALIAS_MAXIMUM, P_TOPIC_ALIAS, P_REQUEST_RESPONSE_INFO, P_RESPONSE_INFO,
                      P_REQUEST_PROBLEM_INFO, P_REASON_STRING, P_USER_PROPERTY, P_SERVER_KEEP_ALIVE, P_AUTH_METHOD,
                      raw, connect_packet, utf8_raw, raw_props, ack_props, V5, V311)

WILL_PROPS_EMPTY = b"\x00"


def will_payload(client_id, topic=b"w/t", payload=b"bye", will_props=WILL_PROPS_EMPTY):
    return raw.utf8(client_id) + will_props + utf8_raw(topic) + raw.binary(payload)


class ConnectTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300}}

    # -- 3.1.0
    def test_MQTT_3_1_0_1_first_packet_must_be_connect(self):
        first = {
            "PINGREQ": raw.pingreq(),
            "PUBLISH": raw.publish("a/b", b"x"),
            "SUBSCRIBE": raw.subscribe(1, [("a/b", 0)]),
            "DISCONNECT": raw.disconnect(0),
        }
        for name, packet in first.items():
            with self.subTest(name):
                c = self.client()
                c.send(packet)
                got = self.assertClosed(c)
                self.assertEqual(got, [], "no answer to a first packet that is not CONNECT: %r" % got)

    def test_MQTT_3_1_0_2_second_connect_is_a_protocol_error(self):
        for version in (V5, V311):
            with self.subTest(version=version):
                c, _ = self.connected(version=version)
                c.send(raw.connect(self.unique("again"), version))
                if version == V5:
                    got = self.assertDisconnected(c, 0x82)
                else:
                    got = self.assertClosed(c)
                self.assertNotIn(CONNACK, [p.type for p in got], "no second CONNACK")

    # -- 3.1.2.1 / 3.1.2.2 protocol name and version
    def test_MQTT_3_1_2_1_protocol_name_must_be_MQTT(self):
        for name in (b"MQTX", b"mqtt", b"MQIsdp", b"MQTT\x00", b""):
            with self.subTest(name=name):
                c = self.client()
                c.send(connect_packet(self.unique("n"), protocol_name=name))
                self.assertRefused(c, {0x84, 0x01})

    def test_MQTT_3_1_2_2_unsupported_protocol_version(self):
        for level in (0, 1, 2, 3, 6, 7, 255):
            with self.subTest(level=level):
                c = self.client()
                c.send(connect_packet(self.unique("v"), version=V311, level=level))
                self.assertRefused(c, {0x84, 0x01})

    def test_MQTT_3_1_2_3_reserved_connect_flag_must_be_zero(self):
        for version in (V5, V311):
            with self.subTest(version=version):
                c = self.client(version)
                c.send(connect_packet(self.unique("r"), version=version, flags=0x03))
                got = self.assertRefused(c, {0x81})
                if version == V311:
                    self.assertEqual(got, [], "3.1.1 has no return code for this: just closed")

    # -- 3.1.2.5 - 3.1.2.9 will and credential flags
    def test_MQTT_3_1_2_9_will_fields_must_be_present(self):
        cid = self.unique("w")
        cases = {
            "nothing after the client id": raw.utf8(cid),
            "will properties only": raw.utf8(cid) + b"\x00",
            "no will payload": raw.utf8(cid) + b"\x00" + raw.utf8("w/t"),
        }
        for label, payload in cases.items():
            with self.subTest(label):
                c = self.client()
                c.send(connect_packet(flags=0x06, payload=payload))
                self.assertRefused(c, {0x81})

    def test_MQTT_3_1_2_11_will_qos_must_be_zero_without_will_flag(self):
        for will_qos in (1, 2):
            with self.subTest(will_qos=will_qos):
                c = self.client()
                c.send(connect_packet(self.unique("q"), flags=0x02 | (will_qos << 3)))
                self.assertRefused(c, {0x81})

    def test_MQTT_3_1_2_12_will_qos_values(self):
        for will_qos in (0, 1, 2):
            with self.subTest("Will QoS %d accepted" % will_qos):
                c = self.client()
                cid = self.unique("wq")
                c.send(connect_packet(flags=0x06 | (will_qos << 3), payload=will_payload(cid)))
                ack = c.expect(CONNACK)
                self.assertEqual(ack.reason, 0x00)
                c.disconnect(0)
        with self.subTest("Will QoS 3 is a Malformed Packet"):
            c = self.client()
            c.send(connect_packet(flags=0x06 | (3 << 3), payload=will_payload(self.unique("wq"))))
            self.assertRefused(c, {0x81})

    def test_MQTT_3_1_2_13_will_retain_must_be_zero_without_will_flag(self):
        c = self.client()
        c.send(connect_packet(self.unique("wr"), flags=0x22))
        self.assertRefused(c, {0x81})

    def test_MQTT_3_1_2_16_no_user_name_when_flag_is_0(self):
        c = self.client()
        c.send(connect_packet(payload=raw.utf8(self.unique("u")) + raw.utf8("alice")))
        self.assertRefused(c, {0x81})

    def test_MQTT_3_1_2_17_user_name_present_when_flag_is_1(self):
        c = self.client()
        c.send(connect_packet(flags=0x82, payload=raw.utf8(self.unique("u"))))
        self.assertRefused(c, {0x81})
        with self.subTest("with the user name it is accepted"):
            c = self.client()
            c.send(connect_packet(flags=0x82, payload=raw.utf8(self.unique("u")) + raw.utf8("alice")))
            self.assertEqual(c.expect(CONNACK).reason, 0x00)

    def test_MQTT_3_1_2_18_no_password_when_flag_is_0(self):
        c = self.client()
        c.send(connect_packet(flags=0x82, payload=raw.utf8(self.unique("p")) + raw.utf8("alice") + raw.binary(b"pw")))
        self.assertRefused(c, {0x81})

    def test_MQTT_3_1_2_19_password_present_when_flag_is_1(self):
        c = self.client()
        c.send(connect_packet(flags=0xC2, payload=raw.utf8(self.unique("p")) + raw.utf8("alice")))
        self.assertRefused(c, {0x81})
        with self.subTest("with the password it is accepted"):
            c = self.client()
            c.send(connect_packet(flags=0xC2, payload=raw.utf8(self.unique("p")) + raw.utf8("alice") +
                                  raw.binary(b"secret")))
            self.assertEqual(c.expect(CONNACK).reason, 0x00)

    # -- 3.1.2.10 keep alive
    def test_MQTT_3_1_2_22_keep_alive_one_and_a_half_times(self):
        # The server's period starts when it receives the CONNECT: after t_sent, before
        # t_acked. Timing the close from both ends keeps a slow test thread from mattering.
        t_sent = time.monotonic()
        c, ack = self.connected(keepalive=1)
        t_acked = time.monotonic()
        self.assertNotIn(P_SERVER_KEEP_ALIVE, ack.props)
        with self.assertRaises(TimeoutError, msg="closed before the Keep Alive period had passed"):
            c.recv(timeout=max(0.0, t_sent + 1.0 - time.monotonic()) or 0.001)
        got = self.assertDisconnected(c, 0x8D, timeout=3.0)
        closed = time.monotonic()
        self.assertGreaterEqual(closed - t_sent, 1.4, "closed after %.2fs, before 1.5 x Keep Alive" % (closed - t_sent))
        self.assertLess(closed - t_acked, 2.9, "closed after %.2fs" % (closed - t_acked))
        self.assertEqual(len(got), 1, got)
        with self.subTest("a packet within 1.5 x Keep Alive keeps it open"):
            c, _ = self.connected(keepalive=1)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 2.0:
                with self.assertRaises(TimeoutError):
                    c.recv(timeout=0.4)
                c.ping()

    def test_MQTT_3_1_2_27_no_topic_alias_when_client_maximum_absent_or_zero(self):
        t = self.topic("noalias")
        for label, props in (("absent", None), ("zero", [(P_TOPIC_ALIAS_MAXIMUM, 0)])):
            with self.subTest(label):
                sub = self.conn(properties=props)
                sub.subscribe([(t, 1)])
                pub = self.conn()
                for i in range(4):
                    pub.publish(t, b"m%d" % i, qos=1)
                for i in range(4):
                    p = sub.expect(PUBLISH)
                    sub.ack(p)
                    self.assertNotIn(P_TOPIC_ALIAS, p.props, "Topic Alias sent: %r" % p)
                    self.assertEqual(p.topic, t)

    def test_MQTT_3_1_2_28_no_response_information_unless_requested(self):
        for label, props in (("absent", None), ("0", [(P_REQUEST_RESPONSE_INFO, 0)])):
            with self.subTest("Request Response Information " + label):
                _, ack = self.connected(properties=props)
                self.assertEqual(ack.reason, 0)
                self.assertNotIn(P_RESPONSE_INFO, ack.props, "Response Information returned: %r" % ack.props)

    def test_MQTT_3_1_2_29_request_problem_information_0(self):
        c = self.conn(properties=[(P_REQUEST_PROBLEM_INFO, 0)])
        t = self.topic("rpi")
        checked = []

        def check(p):
            props = ack_props(p) if p.type in (PUBACK, PUBREC, PUBREL, raw.PUBCOMP) else p.props
            self.assertNotIn(P_REASON_STRING, props, "Reason String on %r" % p)
            self.assertNotIn(P_USER_PROPERTY, props, "User Property on %r" % p)
            checked.append(p.name)

        c.send(raw.publish(t, b"nobody", 1, 1))        # PUBACK 0x10 (no matching subscribers)
        check(c.expect(PUBACK))
        c.send(raw.publish(t, b"nobody", 2, 2))        # PUBREC 0x10
        check(c.expect(PUBREC))
        c.send(raw.ack(PUBREL, 2))
        check(c.expect(PUBCOMP))
        c.send(raw.ack(PUBREL, 999))                   # PUBCOMP 0x92
        check(c.expect(PUBCOMP))
        c.send(raw.ack(PUBREC, 998))                   # PUBREL 0x92
        check(c.expect(PUBREL))
        c.send(raw.publish(t, b"\xff\xfe", 1, 3, properties=[(raw.P_PAYLOAD_FORMAT, 1)]))  # PUBACK 0x99
        check(c.expect(PUBACK))
        c.send(raw.subscribe(4, [(t, 1)]))
        check(c.expect(SUBACK))
        c.send(raw.unsubscribe(5, ["none/" + t]))      # UNSUBACK 0x11
        check(c.expect(UNSUBACK))
        self.assertEqual(len(checked), 8)

    # -- 3.1.3 payload
    def test_MQTT_3_1_3_1_payload_fields_in_order(self):
        cid = self.unique("order")
        wt = self.topic("order-will")
        watcher = self.subscriber([(wt, 1)])
        will_props = raw.props((P_USER_PROPERTY, ("k", "v")))
        payload = raw.utf8(cid) + will_props + raw.utf8(wt) + raw.binary(b"will-payload") + raw.utf8("user") + \
            raw.binary(b"\x00\x01pass")
        c = self.client()
        c.send(connect_packet(flags=0xC2 | 0x04 | (1 << 3), payload=payload))
        self.assertEqual(c.expect(CONNACK).reason, 0x00)
        c.close()  # abnormal close: the will is published, proving each field was read in place
        p = watcher.expect(PUBLISH)
        self.assertEqual((p.topic, p.payload, p.props.get(P_USER_PROPERTY)), (wt, b"will-payload", [("k", "v")]))

    def test_MQTT_3_1_3_2_client_id_identifies_session_state(self):
        a_id, b_id = self.unique("A"), self.unique("B")
        t = self.topic("cid")
        a = self.conn(a_id, properties=[(P_SESSION_EXPIRY, 60)])
        a.subscribe([(t, 1)])
        a.disconnect(0)
        _, ack = self.connected(b_id, clean=False, properties=[(P_SESSION_EXPIRY, 60)])
        self.assertFalse(ack.session_present, "another ClientID must not find A's session")
        pub = self.conn()
        pub.publish(t, b"for A", qos=1)
        a2, ack = self.connected(a_id, clean=False, properties=[(P_SESSION_EXPIRY, 0)])
        self.assertTrue(ack.session_present)
        self.assertEqual(a2.expect(PUBLISH).payload, b"for A")

    def test_MQTT_3_1_3_3_client_id_must_be_present(self):
        c = self.client()
        c.send(connect_packet(payload=b""))
        self.assertRefused(c, {0x81})

    def test_MQTT_3_1_3_4_client_id_must_be_utf8(self):
        for bad in (b"id\xff", b"id\xed\xa0\x80", b"id\x00"):
            with self.subTest(bad=bad):
                c = self.client()
                c.send(connect_packet(payload=utf8_raw(bad)))
                self.assertRefused(c, {0x81, 0x85})

    def test_MQTT_3_1_3_5_server_allows_1_to_23_alphanumeric_ids(self):
        chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        ids = ["Z", chars[:23], chars[23:46], chars[39:62], "0123456789" + "9" * 13]
        for cid in ids:
            for version in (V5, V311):
                with self.subTest(client_id=cid, version=version):
                    c, ack = self.connected(cid, version=version)
                    self.assertEqual(ack.reason, 0x00)
                    c.disconnect(0)
                    self.assertClosed(c)

    def test_MQTT_3_1_3_6_zero_length_client_id_gets_a_unique_id(self):
        clients = []
        ids = set()
        for _ in range(4):
            c, ack = self.connected("")
            ids.add(ack.props.get(P_ASSIGNED_CLIENT_ID))
            clients.append(c)
        self.assertNotIn(None, ids)
        self.assertEqual(len(ids), 4, ids)
        for c in clients:  # all still connected: none took over another's session
            c.ping()

    def test_MQTT_3_1_3_7_assigned_client_identifier_is_used_for_the_session(self):
        t = self.topic("assigned")
        c, ack = self.connected("", properties=[(P_SESSION_EXPIRY, 60)])
        assigned = ack.props.get(P_ASSIGNED_CLIENT_ID)
        self.assertTrue(assigned, "CONNACK lacks the Assigned Client Identifier: %r" % ack)
        c.subscribe([(t, 1)])
        c.disconnect(0)
        self.assertClosed(c)
        pub = self.conn()
        pub.publish(t, b"kept", qos=1)
        c2, ack2 = self.connected(assigned, clean=False, properties=[(P_SESSION_EXPIRY, 0)])
        self.assertTrue(ack2.session_present, "the session is the one of the assigned ClientID")
        self.assertNotIn(P_ASSIGNED_CLIENT_ID, ack2.props)
        self.assertEqual(c2.expect(PUBLISH).payload, b"kept")

    def test_MQTT_3_1_3_8_rejected_client_id_closes_connection(self):
        # The only ClientID edgemq rejects: an empty one with Clean Session 0 (MQTT 3.1.1 rules,
        # return code 0x02 Identifier rejected, the 3.1.1 counterpart of 0x85).
        c = self.client(V311)
        c.send(connect_packet(version=V311, flags=0x00, payload=raw.utf8("")))
        got = self.assertRefused(c, {0x02, 0x85})
        self.assertEqual([p.raw for p in got], [b"\x20\x02\x00\x02"])

    def test_MQTT_3_1_3_11_will_topic_must_be_utf8(self):
        for bad in (b"w/\xff", b"w/\xed\xa0\x80", b"w\x00"):
            with self.subTest(bad=bad):
                c = self.client()
                c.send(connect_packet(flags=0x06, payload=will_payload(self.unique("wt"), topic=bad)))
                self.assertRefused(c, {0x81})

    def test_MQTT_3_1_3_12_user_name_must_be_utf8(self):
        for bad in (b"al\xffce", b"al\xed\xa0\x80", b"al\x00"):
            with self.subTest(bad=bad):
                c = self.client()
                c.send(connect_packet(flags=0x82, payload=raw.utf8(self.unique("un")) + utf8_raw(bad)))
                self.assertRefused(c, {0x81})

    # -- 3.1.4 actions
    def test_MQTT_3_1_4_1_connect_format_is_validated(self):
        cid = self.unique("fmt")
        cases = {
            "bytes after the payload": connect_packet(payload=raw.utf8(cid) + b"\x00\x01"),
            "client id longer than the packet": connect_packet(payload=struct.pack("!H", 40) + b"short"),
            "property length past the end": connect_packet(cid, props=b"\x20"),
            "unknown property": connect_packet(cid, props=raw_props(b"\x7f\x00")),
            "property not allowed in CONNECT": connect_packet(cid, props=raw_props(bytes([P_TOPIC_ALIAS]) + b"\x00\x01")),
            "truncated variable header": raw.fixed(raw.CONNECT, 0, raw.utf8("MQTT") + b"\x05"),
        }
        for label, packet in cases.items():
            with self.subTest(label):
                c = self.client()
                c.send(packet)
                self.assertRefused(c, {0x81, 0x82})

    def test_MQTT_3_1_4_2_failed_checks_close_the_connection(self):
        cid = self.unique("chk")
        cases = {
            "Receive Maximum 0": [(P_RECEIVE_MAXIMUM, 0)],
            "Maximum Packet Size 0": [(P_MAXIMUM_PACKET_SIZE, 0)],
            "Session Expiry Interval twice": raw.props((P_SESSION_EXPIRY, 1), (P_SESSION_EXPIRY, 2)),
            "Request Problem Information 2": [(P_REQUEST_PROBLEM_INFO, 2)],
        }
        for label, props in cases.items():
            with self.subTest(label):
                c = self.client()
                c.send(raw.connect(cid, properties=props))
                got = self.assertRefused(c, {0x82, 0x81})
                self.assertEqual(len(got), 1, "a CONNACK with the reason is expected here: %r" % got)

    def test_MQTT_3_1_4_3_existing_connection_taken_over(self):
        cid = self.unique("take")
        old, _ = self.connected(cid)
        new, ack = self.connected(cid)
        got = self.assertDisconnected(old, 0x8E)
        self.assertEqual(len(got), 1, got)
        new.ping()

    def test_MQTT_3_1_4_4_clean_start_processed_on_takeover(self):
        cid = self.unique("cs")
        t = self.topic("cs")
        old = self.conn(cid, properties=[(P_SESSION_EXPIRY, 60)])
        old.subscribe([(t, 1)])
        new, ack = self.connected(cid, clean=True)
        self.assertFalse(ack.session_present)
        self.assertDisconnected(old, 0x8E)
        pub = self.conn()
        pub.publish(t, b"old-filter", qos=1)
        new.subscribe([("marker/" + t, 0)])
        pub.publish("marker/" + t, b"marker")
        self.assertEqual(new.until_payload(b"marker"), [], "the discarded session's subscription still delivers")

    def test_MQTT_3_1_4_5_connack_success(self):
        for version in (V5, V311):
            with self.subTest(version=version):
                _, ack = self.connected(version=version)
                self.assertEqual(ack.type, CONNACK)
                self.assertEqual(ack.reason, 0x00)
                if version == V311:
                    self.assertEqual(ack.raw, b"\x20\x02\x00\x00")

    def test_MQTT_3_1_4_6_no_processing_after_a_rejected_connect(self):
        t = self.topic("rejected")
        live = self.subscriber([(t, 1)])
        rejected = {
            "unsupported protocol version": connect_packet(self.unique("rej"), version=V311, level=6),
            "authentication method": raw.connect(self.unique("rej"), properties=[(P_AUTH_METHOD, "unknown-method")]),
            "reserved flag": connect_packet(self.unique("rej"), flags=0x03),
        }
        for label, connect in rejected.items():
            with self.subTest(label):
                c = self.client()
                after = raw.publish(t, b"after " + label.encode(), 0, retain=True) + \
                    raw.subscribe(1, [("#", 0)]) + raw.pingreq()
                c.send(connect + after)
                got = self.assertRefused(c, {0x84, 0x01, 0x8C, 0x81})
                self.assertLessEqual(len(got), 1)
        # Nothing was published: not to the live subscriber, and nothing was retained.
        pub = self.conn()
        pub.publish(t, b"marker", qos=1)
        self.assertNoPublish(live.until_payload(b"marker"))
        late = self.conn()
        late.subscribe([(t, 0)])
        pub.publish(t, b"first", qos=1)
        self.assertEqual(late.expect(PUBLISH).payload, b"first", "a retained message was stored")


class ServerKeepAliveTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300, "max_keep_alive": 1}}

    def test_MQTT_3_1_2_21_client_using_server_keep_alive_stays_connected(self):
        c, ack = self.connected(keepalive=60)
        self.assertEqual(ack.props.get(P_SERVER_KEEP_ALIVE), 1)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:  # longer than 1.5 x the Server Keep Alive
            with self.assertRaises(TimeoutError):
                c.recv(timeout=0.4)
            c.ping()


if __name__ == "__main__":
    unittest.main()
