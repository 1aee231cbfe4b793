"""Malformed and hostile input on raw sockets.

Once connected, an MQTT 5 client gets a DISCONNECT carrying the reason code and then the
connection is closed; an MQTT 3.1.1 client just gets closed. Before CONNECT the broker
answers at most a CONNACK. Throughout, an unrelated "bystander" client must keep working:
every test ends by checking it (see tearDown).
"""

import time
import unittest

from support import rawmqtt as raw
from support.edgemq_harness import DaemonTestCase
from support.paho_helper import PahoClient

MAX_PACKET = 4096
CONNECT_TIMEOUT_MS = 500
RECEIVE_MAXIMUM = 4


class MalformedBase(DaemonTestCase):
    config = {"mqtt": {"max_packet_size": MAX_PACKET, "connect_timeout_ms": CONNECT_TIMEOUT_MS,
                       "receive_maximum": RECEIVE_MAXIMUM}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bystander = PahoClient(cls.host, cls.port, client_id="bystander-" + cls.__name__)
        cls.bystander.connect()
        cls.bystander_topic = "bystander/" + cls.__name__
        cls.bystander.subscribe(cls.bystander_topic, 1)
        cls.bystander_n = 0

    @classmethod
    def tearDownClass(cls):
        cls.bystander.close()
        super().tearDownClass()

    def tearDown(self):
        super().tearDown()  # closes this test's clients and checks the daemon is alive
        # Other clients keep working whatever the test threw at the broker.
        cls = type(self)
        cls.bystander_n += 1
        payload = b"still here %d" % cls.bystander_n
        self.bystander.publish(self.bystander_topic, payload, qos=1)
        m = self.bystander.get()
        self.assertEqual(m.payload, payload, "the bystander client stopped working")
        self.assertFalse(self.bystander.disconnected.is_set(), "the bystander client was disconnected")

    # -- helpers
    def connected(self, version=raw.V5, **kw):
        c = self.track(raw.RawClient(self.host, self.port, version))
        c.connect(self.unique("bad"), **kw)
        return c

    def send_after_connect(self, data, version=raw.V5):
        """Connect, send `data`, return every packet received until the broker closes."""
        c = self.connected(version)
        try:
            c.send(data)
        except OSError:
            pass  # the broker may close before it has read everything: that is allowed
        return c.read_until_closed()

    def assertDisconnectedWith(self, data, reason):
        got = self.send_after_connect(data)
        self.assertEqual([(p.type, p.reason) for p in got], [(raw.DISCONNECT, reason)],
                         "expected DISCONNECT %#04x then close, got %s" % (reason, got))

    def assertClosedSilently(self, data, version=raw.V311):
        got = self.send_after_connect(data, version)
        self.assertEqual(got, [], "expected the connection closed without any packet")


class MalformedV5Test(MalformedBase):
    def test_publish_qos3(self):
        self.assertDisconnectedWith(bytes([0x36]) + raw.publish("a/b", b"x", qos=1)[1:], 0x81)

    def test_publish_topic_with_wildcards(self):
        for topic in ("a/#", "a/+/b", "#", "+"):
            with self.subTest(topic=topic):
                self.assertDisconnectedWith(raw.publish(topic, b"x"), 0x90)

    def test_subscribe_invalid_filters(self):
        for flt in ("a/#/b", "a/b#", "a+", "+a/b", ""):
            with self.subTest(filter=flt):
                self.assertDisconnectedWith(raw.subscribe(1, [(flt, 0)]), 0x8F)

    def test_subscribe_with_no_filters(self):
        self.assertDisconnectedWith(raw.subscribe(1, []), 0x82)

    def test_subscribe_reserved_option_bits_and_qos3(self):
        self.assertDisconnectedWith(raw.subscribe(1, [("a", 0xC0)]), 0x81)
        self.assertDisconnectedWith(raw.subscribe(1, [("a", 0x03)]), 0x82)  # MQTT 5 3.8.3.1: Protocol Error

    def test_subscribe_retain_handling_3(self):
        self.assertDisconnectedWith(raw.subscribe(1, [("a", 0x30)]), 0x82)

    def test_subscribe_wrong_fixed_header_flags(self):
        good = raw.subscribe(1, [("a", 0)])
        self.assertDisconnectedWith(bytes([0x80]) + good[1:], 0x81)

    def test_duplicate_property(self):
        self.assertDisconnectedWith(
            raw.publish("a", b"x", properties=[(raw.P_CONTENT_TYPE, "a"), (raw.P_CONTENT_TYPE, "b")]), 0x82)

    def test_unknown_property_identifier(self):
        self.assertDisconnectedWith(raw.publish("a", b"x", properties=b"\x02\x7f\x00"), 0x81)

    def test_property_length_beyond_packet(self):
        self.assertDisconnectedWith(raw.publish("a", b"", properties=b"\x09\x03\x00"), 0x81)

    def test_packet_larger_than_max_packet_size_header_only(self):
        # Only the fixed header and a few bytes: the size alone must trigger the refusal.
        self.assertDisconnectedWith(bytes([0x30]) + raw.varint(MAX_PACKET + 100) + b"\x00\x01a", 0x95)

    def test_packet_larger_than_max_packet_size_complete(self):
        got = self.send_after_connect(raw.publish("big", b"x" * (MAX_PACKET + 100)))
        # The broker drains what we are still sending before it closes: the DISCONNECT arrives.
        self.assertEqual([(p.type, p.reason) for p in got], [(raw.DISCONNECT, 0x95)])

    def test_packet_exactly_max_packet_size_accepted(self):
        c = self.connected()
        topic = self.unique("fits")
        c.subscribe([(topic, 0)])
        head = raw.publish(topic, b"", qos=0)
        payload_len = MAX_PACKET - len(head) - 1  # remaining length grows from 1 to 2 bytes
        pkt = raw.publish(topic, b"p" * payload_len)
        self.assertEqual(len(pkt), MAX_PACKET)
        c.send(pkt)
        p = c.expect(raw.PUBLISH)
        self.assertEqual(len(p.payload), payload_len)

    def test_second_connect(self):
        self.assertDisconnectedWith(raw.connect("again"), 0x82)

    def test_invalid_utf8_in_topic(self):
        for name, topic in (("0xff 0xfe", b"\x00\x02\xff\xfe"), ("U+0000", b"\x00\x03a\x00b"),
                            ("surrogate", b"\x00\x03\xed\xa0\x80"), ("overlong", b"\x00\x02\xc0\xaf")):
            with self.subTest(case=name):
                self.assertDisconnectedWith(raw.publish(topic, b"x"), 0x81)

    def test_invalid_utf8_in_subscribe_and_unsubscribe(self):
        self.assertDisconnectedWith(raw.subscribe(1, [(b"\xc3\x28", 0)]), 0x81)
        self.assertDisconnectedWith(raw.unsubscribe(1, [b"\xc3\x28"]), 0x81)

    def test_publish_packet_id_zero(self):
        self.assertDisconnectedWith(raw.publish("a", b"x", qos=1, packet_id=0), 0x82)

    def test_empty_topic_without_alias(self):
        self.assertDisconnectedWith(raw.publish("", b"x"), 0x82)

    def test_topic_alias_zero_and_unknown(self):
        self.assertDisconnectedWith(raw.publish("a", b"x", properties=[(raw.P_TOPIC_ALIAS, 0)]), 0x94)
        self.assertDisconnectedWith(raw.publish("", b"x", properties=[(raw.P_TOPIC_ALIAS, 5)]), 0x82)

    def test_payload_format_indicator_with_invalid_utf8(self):
        self.assertDisconnectedWith(raw.publish("a", b"\xff", properties=[(raw.P_PAYLOAD_FORMAT, 1)]), 0x99)

    def test_reserved_packet_type_and_server_only_packets(self):
        for name, data in (("type 0", b"\x00\x00"), ("CONNACK", b"\x20\x02\x00\x00")):
            with self.subTest(packet=name):
                self.assertDisconnectedWith(data, 0x81)
        self.assertDisconnectedWith(b"\xf0\x00", 0x82)  # AUTH with no authentication in progress

    def test_malformed_remaining_length(self):
        self.assertDisconnectedWith(b"\x30\xff\xff\xff\xff\x7f", 0x81)

    def test_pingreq_with_flags(self):
        self.assertDisconnectedWith(b"\xc1\x00", 0x81)

    def test_disconnect_with_invalid_reason_code(self):
        self.assertDisconnectedWith(b"\xe0\x01\x05", 0x82)

    def test_receive_maximum_exceeded(self):
        topic = self.unique("rm")
        data = b"".join(raw.publish(topic, b"x", qos=2, packet_id=i) for i in range(1, RECEIVE_MAXIMUM + 2))
        got = self.send_after_connect(data)
        self.assertEqual([(p.type, p.packet_id) for p in got[:-1]],
                         [(raw.PUBREC, i) for i in range(1, RECEIVE_MAXIMUM + 1)])
        self.assertEqual((got[-1].type, got[-1].reason), (raw.DISCONNECT, 0x93))

    def test_valid_traffic_after_many_protocol_errors_from_same_client_id(self):
        cid = self.unique("again")
        for _ in range(3):
            c = self.track(raw.RawClient(self.host, self.port))
            c.connect(cid)
            c.send(raw.publish("a/#", b"x"))
            c.read_until_closed()
        c = self.track(raw.RawClient(self.host, self.port))
        self.assertFalse(c.connect(cid, clean=False).session_present)
        c.ping()


class MalformedV311Test(MalformedBase):
    def test_publish_qos3(self):
        self.assertClosedSilently(bytes([0x36]) + raw.publish("a", b"x", qos=1, version=raw.V311)[1:])

    def test_publish_topic_with_wildcard(self):
        self.assertClosedSilently(raw.publish("a/#", b"x", version=raw.V311))

    def test_subscribe_invalid_filter(self):
        self.assertClosedSilently(raw.subscribe(1, [("a/#/b", 0)], version=raw.V311))

    def test_second_connect(self):
        self.assertClosedSilently(raw.connect("again", version=raw.V311))

    def test_packet_too_large(self):
        self.assertClosedSilently(bytes([0x30]) + raw.varint(MAX_PACKET + 100) + b"\x00\x01a")

    def test_invalid_utf8_topic(self):
        self.assertClosedSilently(raw.publish(b"\x00\x02\xff\xfe", b"x", version=raw.V311))

    def test_wrong_fixed_header_flags(self):
        self.assertClosedSilently(bytes([0x80]) + raw.subscribe(1, [("a", 0)], version=raw.V311)[1:])


class ConnectPhaseTest(MalformedBase):
    def fresh(self):
        return self.track(raw.RawClient(self.host, self.port, raw.V5))

    def answer_to_first(self, data):
        c = self.fresh()
        c.send(data)
        return c.read_until_closed()

    def test_first_packet_not_connect_closed_without_answer(self):
        for name, data in (("PUBLISH", raw.publish("a", b"x", version=raw.V311)), ("PINGREQ", raw.pingreq()),
                           ("SUBSCRIBE", raw.subscribe(1, [("a", 0)], version=raw.V311)),
                           ("garbage", b"\xde\xad\xbe\xef")):
            with self.subTest(first=name):
                self.assertEqual(self.answer_to_first(data), [])

    def test_unsupported_protocol_level(self):
        for level in (6, 3, 0):
            with self.subTest(level=level):
                got = self.answer_to_first(raw.connect(self.unique("lvl"), version=level))
                self.assertEqual([p.raw for p in got], [b"\x20\x02\x00\x01"],
                                 "v3-style CONNACK 'unacceptable protocol version' then close")

    def test_v5_connect_reserved_flag(self):
        pkt = bytearray(raw.connect(self.unique("rf")))
        pkt[9] |= 0x01  # connect flags byte: reserved bit
        got = self.answer_to_first(bytes(pkt))
        self.assertEqual([(p.type, p.reason) for p in got], [(raw.CONNACK, 0x81)])
        self.assertFalse(got[0].session_present)

    def test_v311_connect_reserved_flag(self):
        pkt = bytearray(raw.connect(self.unique("rf"), version=raw.V311))
        pkt[9] |= 0x01
        self.assertEqual(self.answer_to_first(bytes(pkt)), [])

    def test_v5_connect_refusals(self):
        cases = (
            ("will QoS 3", raw.connect(self.unique("c"), will={"topic": "w", "qos": 3}), 0x81),
            ("will topic with #", raw.connect(self.unique("c"), will={"topic": "w/#"}), 0x90),
            ("duplicate property", raw.connect(self.unique("c"), properties=[(raw.P_SESSION_EXPIRY, 1),
                                                                             (raw.P_SESSION_EXPIRY, 2)]), 0x82),
            ("receive maximum 0", raw.connect(self.unique("c"), properties=[(raw.P_RECEIVE_MAXIMUM, 0)]), 0x82),
            ("authentication method", raw.connect(self.unique("c"), properties=[(0x15, "SCRAM-SHA-1")]), 0x8C),
            ("invalid UTF-8 client id", raw.connect(b"\xff"), 0x81),
        )
        for name, data, reason in cases:
            with self.subTest(case=name):
                got = self.answer_to_first(data)
                self.assertEqual([(p.type, p.reason) for p in got], [(raw.CONNACK, reason)])

    def test_v311_invalid_utf8_client_id(self):
        self.assertEqual(self.answer_to_first(raw.connect(b"\xff", version=raw.V311)), [])

    def test_oversized_connect(self):
        got = self.answer_to_first(bytes([0x10]) + raw.varint(MAX_PACKET + 1) + b"\x00\x04MQTT\x05")
        # closed; at most a refusing CONNACK may precede that, never an accepting one
        self.assertFalse([p for p in got if not (p.type == raw.CONNACK and p.reason != 0)], got)

    def test_no_connect_closed_after_connect_timeout(self):
        c = self.fresh()
        start = time.monotonic()
        self.assertTrue(c.is_closed_within(5.0), "an idle connection without CONNECT must be closed")
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, CONNECT_TIMEOUT_MS / 1000 * 0.8, "closed before connect_timeout_ms")
        self.assertLess(elapsed, CONNECT_TIMEOUT_MS / 1000 + 2.0)

    def test_partial_connect_closed_after_connect_timeout(self):
        c = self.fresh()
        start = time.monotonic()
        c.send(raw.connect(self.unique("half"))[:6])
        self.assertEqual(c.read_until_closed(5.0), [])
        self.assertGreaterEqual(time.monotonic() - start, CONNECT_TIMEOUT_MS / 1000 * 0.8)

    def test_connected_client_not_subject_to_connect_timeout(self):
        c = self.connected(keepalive=0)
        with self.assertRaises(TimeoutError, msg="a connected client was closed by the connect timeout"):
            c.recv(timeout=CONNECT_TIMEOUT_MS / 1000 * 2)
        c.ping()


class RobustnessTest(MalformedBase):
    def test_byte_by_byte_delivery(self):
        topic = self.unique("slow")
        sub = self.connected()
        sub.subscribe([(topic, 1)])
        c = self.track(raw.RawClient(self.host, self.port))
        data = raw.connect(self.unique("slow")) + raw.publish(topic, b"dribbled", qos=1, packet_id=9)
        for i in range(len(data)):
            c.send(data[i:i + 1])
        self.assertEqual(c.expect(raw.CONNACK).reason, 0)
        self.assertEqual(c.expect(raw.PUBACK).packet_id, 9)
        self.assertEqual(sub.expect(raw.PUBLISH).payload, b"dribbled")

    def test_many_packets_in_one_segment(self):
        topic = self.unique("burst")
        c = self.track(raw.RawClient(self.host, self.port))
        c.send(raw.connect(self.unique("burst")) + raw.subscribe(1, [(topic, 0)]) +
               b"".join(raw.publish(topic, b"%d" % i) for i in range(20)) + raw.pingreq())
        self.assertEqual(c.expect(raw.CONNACK).reason, 0)
        self.assertEqual(c.expect(raw.SUBACK).reasons, [0])
        # (the PINGRESP may overtake deliveries to this same client: no order is defined there)
        got = [c.recv() for _ in range(21)]
        self.assertEqual([p.payload for p in got if p.type == raw.PUBLISH], [b"%d" % i for i in range(20)])
        self.assertEqual([p.type for p in got].count(raw.PINGRESP), 1)

    def test_client_vanishing_mid_packet_leaves_nothing_behind(self):
        topic = self.unique("vanish")
        watcher = self.connected()
        watcher.subscribe([(topic, 1), (topic + "/will", 1), (topic + "/marker", 0)])
        cid = self.unique("vanish")
        c = raw.RawClient(self.host, self.port)
        c.connect(cid, will={"topic": topic + "/will", "payload": b"vanished"})
        full = raw.publish(topic, b"never complete" * 100, qos=1, packet_id=3)
        c.send(full[:len(full) // 2])
        c.close()
        # the will (abnormal disconnection) is published; the half message never is
        w = watcher.expect(raw.PUBLISH)
        self.assertEqual((w.topic, w.payload), (topic + "/will", b"vanished"))
        pub = self.connected()
        pub.publish(topic + "/marker", b"end")
        self.assertEqual(watcher.expect(raw.PUBLISH).topic, topic + "/marker", "the partial PUBLISH was routed")
        # its session (expiry 0) is gone and the id is free
        again = self.track(raw.RawClient(self.host, self.port))
        self.assertFalse(again.connect(cid, clean=False).session_present)

    def test_many_clients_vanishing_mid_packet(self):
        for i in range(40):
            c = raw.RawClient(self.host, self.port)
            if i % 2:
                c.connect(self.unique("churn"))
                c.send(raw.publish("churn/x", b"y" * 500)[:100])
            else:
                c.send(raw.connect(self.unique("churn"))[:7])
            c.close()
        c = self.connected()
        c.ping()


if __name__ == "__main__":
    unittest.main()
