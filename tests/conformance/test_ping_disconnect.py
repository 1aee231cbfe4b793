"""MQTT 5.0 sections 3.12 (PINGREQ) and 3.14 (DISCONNECT).

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.12.4-1] The Server MUST send a PINGRESP packet in response to a PINGREQ packet.
[MQTT-3.14.0-1] A Server MUST NOT send a DISCONNECT until after it has sent a CONNACK with
    Reason Code of less than 0x80.
[MQTT-3.14.1-1] The Client or Server MUST validate that reserved bits are set to 0. If they are
    not zero it sends a DISCONNECT packet with a Reason code of 0x81 (Malformed Packet).
[MQTT-3.14.2-1] The Client or Server sending the DISCONNECT packet MUST use one of the
    DISCONNECT Reason Code values.
[MQTT-3.14.2-2] The Session Expiry Interval MUST NOT be sent on a DISCONNECT by the Server.
[MQTT-3.14.4-1] After sending a DISCONNECT packet the sender MUST NOT send any more MQTT Control
    Packets on that Network Connection.
[MQTT-3.14.4-2] After sending a DISCONNECT packet the sender MUST close the Network Connection.
[MQTT-3.14.4-3] On receipt of DISCONNECT with a Reason Code of 0x00 (Success) the Server MUST
    discard any Will Message associated with the current Connection without publishing it.
"""

import time
import unittest

from _support import (ConformanceCase, CONNACK, PUBLISH, PINGRESP, DISCONNECT, SERVER_DISCONNECT_CODES,
                      P_SESSION_EXPIRY, P_TOPIC_ALIAS, raw, connect_packet)


class PingDisconnectTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300, "max_packet_size": 2048}}

    def test_MQTT_3_12_4_1_pingresp_for_pingreq(self):
        for version in (raw.V5, raw.V311):
            with self.subTest(version=version):
                c = self.conn(version=version)
                c.send(raw.pingreq() * 5)
                got = [c.recv() for _ in range(5)]
                self.assertEqual([p.raw for p in got], [b"\xd0\x00"] * 5)

    def test_MQTT_3_14_0_1_no_disconnect_before_a_successful_connack(self):
        cases = {
            "PUBLISH before CONNECT": raw.publish("a/b", b"x", 1, 1),
            "malformed CONNECT": connect_packet(self.unique("d"), flags=0x03),
            "refused CONNECT (authentication method)": raw.connect(self.unique("d"),
                                                                     properties=[(0x15, "unknown")]),
            "CONNECT with a protocol error": raw.connect(self.unique("d"), properties=[(raw.P_RECEIVE_MAXIMUM, 0)]),
            "CONNECT followed by garbage": connect_packet(self.unique("d"), flags=0x03) + b"\xe1\x00",
        }
        for label, data in cases.items():
            with self.subTest(label):
                c = self.client()
                c.send(data)
                got = self.assertClosed(c)
                self.assertNotIn(DISCONNECT, [p.type for p in got], "DISCONNECT without a successful CONNACK: %r" % got)
        with self.subTest("no CONNECT at all (connect timeout)"):
            c = self.client()
            self.assertEqual(self.assertClosed(c), [])

    def test_MQTT_3_14_1_1_disconnect_reserved_bits(self):
        for flags in (0x01, 0x02, 0x08, 0x0F):
            with self.subTest(flags="%#x" % flags):
                c = self.conn()
                c.send(bytes([0xE0 | flags, 0x00]))
                self.assertDisconnected(c, 0x81)

    def test_MQTT_3_14_2_1_server_uses_disconnect_reason_codes(self):
        seen = set()
        provocations = {
            "second CONNECT": lambda c: c.send(raw.connect("x")),
            "malformed": lambda c: c.send(b"\xc1\x00"),
            "topic alias 0": lambda c: c.send(raw.publish("a", b"", 0, properties=[(P_TOPIC_ALIAS, 0)])),
            "wildcard in topic name": lambda c: c.send(raw.publish("a/#", b"")),
            "invalid topic filter": lambda c: c.send(raw.subscribe(1, [("a/#/b", 0)])),
            "packet too large": lambda c: c.send(raw.publish("a", b"x" * 3000)),
            "invalid reason code from the client": lambda c: c.send(raw.disconnect(0x03)),
        }
        for label, provoke in provocations.items():
            with self.subTest(label):
                c = self.conn()
                provoke(c)
                got = self.assertClosed(c)
                self.assertTrue(got and got[-1].type == DISCONNECT, got)
                self.assertIn(got[-1].reason, SERVER_DISCONNECT_CODES, "not a DISCONNECT Reason Code: %r" % got[-1])
                seen.add(got[-1].reason)
        with self.subTest("session taken over"):
            cid = self.unique("take")
            old = self.conn(cid)
            self.conn(cid)
            got = self.assertDisconnected(old, 0x8E)
            seen.add(got[-1].reason)
        self.assertGreaterEqual(len(seen), 6, seen)

    def test_MQTT_3_14_2_2_server_disconnect_has_no_session_expiry(self):
        cases = []
        c = self.conn(properties=[(P_SESSION_EXPIRY, 30)])
        c.send(b"\xc1\x00")
        cases.append(("malformed", c))
        cid = self.unique("take")
        old = self.conn(cid, properties=[(P_SESSION_EXPIRY, 30)])
        self.conn(cid, clean=False, properties=[(P_SESSION_EXPIRY, 30)])
        cases.append(("taken over", old))
        ka = self.conn(keepalive=1, properties=[(P_SESSION_EXPIRY, 30)])
        cases.append(("keep alive", ka))
        for label, client in cases:
            with self.subTest(label):
                got = self.assertClosed(client)
                self.assertEqual(got[-1].type, DISCONNECT)
                self.assertNotIn(P_SESSION_EXPIRY, got[-1].props, "Session Expiry Interval in %r" % got[-1])

    def test_MQTT_3_14_4_1_nothing_sent_after_disconnect(self):
        t = self.topic("after")
        c = self.conn()
        c.subscribe([(t, 0)])
        # A protocol error with PUBLISH and PINGREQ pipelined behind it: nothing follows the DISCONNECT.
        c.send(raw.publish(t, b"before") + raw.connect("second") + raw.publish(t, b"after") + raw.pingreq())
        got = self.assertClosed(c)
        kinds = [p.type for p in got]
        self.assertEqual(kinds[-1], DISCONNECT)
        self.assertEqual(kinds.count(DISCONNECT), 1)
        self.assertNotIn(PINGRESP, kinds)
        self.assertNotIn(b"after", [p.payload for p in got if p.type == PUBLISH])

    def test_MQTT_3_14_4_2_connection_closed_after_disconnect(self):
        for label, provoke in (("client DISCONNECT", None), ("server DISCONNECT", b"\xc1\x00")):
            with self.subTest(label):
                c = self.conn()
                t0 = time.monotonic()
                if provoke is None:
                    got = c.disconnect(0)  # the server closes its side: no packet
                    self.assertEqual(got, [])
                else:
                    c.send(provoke)
                    got = self.assertClosed(c)
                    self.assertEqual(got[-1].type, DISCONNECT)
                # Promptly: at once, not at some later timeout (the bound leaves room for a loaded machine).
                self.assertLess(time.monotonic() - t0, 2.0, "the connection was not closed promptly")

    def test_MQTT_3_14_4_3_disconnect_0x00_discards_the_will(self):
        wt = self.topic("will")
        watcher = self.subscriber([(wt, 1)])
        for label, reason in (("DISCONNECT 0x00", 0x00), ("DISCONNECT without reason code", None)):
            with self.subTest(label):
                c = self.conn(will={"topic": wt, "payload": b"will " + label.encode(), "qos": 1})
                self.assertEqual(c.disconnect(reason), [])
        self.conn().publish(wt, b"marker", qos=1)
        self.assertNoPublish(watcher.until_payload(b"marker"), "will published after a normal DISCONNECT")
        with self.subTest("DISCONNECT 0x04 publishes it"):
            c = self.conn(will={"topic": wt, "payload": b"will 0x04", "qos": 1})
            c.disconnect(0x04)
            self.assertEqual(watcher.expect(PUBLISH).payload, b"will 0x04")


if __name__ == "__main__":
    unittest.main()
