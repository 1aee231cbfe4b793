"""Output that is always well-formed (issue 10): the broker never sends a packet whose length
fields wrapped, never lets client text forge log lines, and lets a client it disconnects read
the DISCONNECT before the connection goes away."""

import socket
import struct
import unittest

from support import rawmqtt as raw
from support.edgemq_harness import DaemonTestCase, EdgemqDaemon
from support.statestore_client import REQUEST_TOPIC, OK, StateStoreTestMixin, resp_array

LONG_ID = "i" * 40000  # its hex (80,000 bytes) cannot be an MQTT topic
ERR_NOTIFY_TOO_LONG = (b"-ERR the key and client id are too long for a notification topic "
                       b"(at most 65535 bytes, both in hex)\r\n")


def store_request(payload, response_topic, correlation=b"1"):
    return raw.publish(REQUEST_TOPIC, payload, qos=1, packet_id=1,
                       properties=[(0x08, response_topic), (0x09, correlation)])


class ClientIdLengthTest(DaemonTestCase):
    """mqtt.max_client_id_length, 256 bytes by default."""

    def test_default_limit_refuses_longer_ids_with_0x85_and_0x02(self):
        for version, reason in ((raw.V5, 0x85), (raw.V311, 0x02)):
            for cid in (LONG_ID, "c" * 257):
                with self.subTest(version=version, length=len(cid)):
                    c = self.track(raw.RawClient(self.host, self.port, version))
                    c.connect(cid, expect_reason=reason)
                    self.assertTrue(c.is_closed_within(5), "a refused client must be closed")

    def test_id_of_exactly_the_limit_is_accepted(self):
        for version in (raw.V5, raw.V311):
            with self.subTest(version=version):
                c = self.track(raw.RawClient(self.host, self.port, version))
                c.connect(("%d" % version) * 256, expect_reason=0)
                c.ping()


class LongClientIdStateStoreTest(StateStoreTestMixin, DaemonTestCase):
    """With the limit raised, a 40,000-byte client id watching a key would need an 80,000-byte
    notification topic: the watch is refused and nothing malformed ever reaches the client."""

    config = {"mqtt": {"max_client_id_length": 65535, "max_packet_size": 1048576},
              "statestore": {"enabled": True}}

    def test_watch_whose_topic_cannot_be_encoded_is_refused_and_no_wrapped_publish_is_sent(self):
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(LONG_ID)
        reply_topic = self.unique("replies")
        c.subscribe([(reply_topic, 1)])
        key = self.key()
        c.send(store_request(resp_array(b"KEYNOTIFY", key), reply_topic))
        got = []
        while True:
            p = c.recv()  # raises on anything that does not parse
            got.append(p)
            if p.type == raw.PUBLISH:
                break
        self.assertEqual(p.topic, reply_topic)
        self.assertEqual(p.payload, ERR_NOTIFY_TOO_LONG)
        c.send(raw.ack(raw.PUBACK, p.packet_id))
        # The key changes: a registered watch would now produce the notification.
        other = self.ss_client()
        self.assertReply(other.set(key, b"v"), OK)
        other.barrier()
        c.send(raw.pingreq())
        while True:
            p = c.recv()
            self.assertIn(p.type, (raw.PUBACK, raw.PINGRESP), "unexpected packet %r" % p)
            if p.type == raw.PINGRESP:
                break


    def test_response_information_that_would_not_fit_is_left_out(self):
        c = self.track(raw.RawClient(self.host, self.port))
        ack_ = c.connect("r" * 65535, properties=[(0x19, 1)])  # Request Response Information
        self.assertNotIn(0x1A, ack_.props, "prefix + 65,535-byte id cannot be a Response Information")
        c.ping()
        c2 = self.track(raw.RawClient(self.host, self.port))
        ack_ = c2.connect("short-" + self.unique("r"), properties=[(0x19, 1)])
        self.assertTrue(ack_.props.get(0x1A, "").startswith("response/"), ack_.props)


class LogInjectionTest(unittest.TestCase):
    """Client text in log lines is escaped: no forged lines, no terminal escape sequences."""

    FORGED = "x\n[critical] forged\x1b[31m"

    def test_client_id_cannot_forge_a_log_line(self):
        d = EdgemqDaemon(log_level="debug", config={"statestore": {"enabled": True}}).start()
        try:
            c = raw.RawClient("127.0.0.1", d.port)
            c.connect(self.FORGED)
            # Logged at debug when connected, by the state store for a request it ignores (QoS 0),
            # and at info when the broker closes the client for a protocol error.
            c.send(raw.publish(REQUEST_TOPIC, b"*1\r\n$3\r\nGET\r\n"))
            c.ping()
            c.send(raw.subscribe(1, [("a", 0x03)]))
            got = c.read_until_closed()
            self.assertEqual([(p.type, p.reason) for p in got], [(raw.DISCONNECT, 0x82)])
            c.close()
        finally:
            d.stop()
        out = d.stdout.text() + "\n" + d.stderr.text()
        self.assertIn("x\\n[critical] forged\\x1B[31m", out, "the client id must be logged, escaped")
        self.assertGreaterEqual(out.count("x\\n[critical] forged\\x1B[31m"), 3, out)
        for line in out.splitlines():
            self.assertFalse(line.startswith("[critical] forged"), "forged log line: %r" % line)
        self.assertNotIn("\x1b", out, "an ESC byte reached the log")


MAX_PACKET = 4096


class DisconnectIsReadableTest(DaemonTestCase):
    """A client the broker disconnects can read the DISCONNECT even while it is still sending:
    the broker half-closes and drains its input before closing (no reset)."""

    config = {"mqtt": {"max_packet_size": MAX_PACKET}}

    def test_publish_over_maximum_packet_size_sent_in_one_go_reads_disconnect_0x95(self):
        c = self.track(raw.RawClient(self.host, self.port, timeout=10))
        ack_ = c.connect(self.unique("big"))
        self.assertEqual(ack_.props.get(raw.P_MAXIMUM_PACKET_SIZE), MAX_PACKET)
        data = raw.publish("big", b"x" * (16 << 20)) + b"\xde\xad" * (512 << 10)  # and trailing garbage
        c.sock.sendall(data)  # must not fail with a broken pipe or a reset
        got = c.read_until_closed(timeout=10)
        self.assertEqual([(p.type, p.reason) for p in got], [(raw.DISCONNECT, 0x95)])

    def test_v311_client_sending_too_much_sees_a_clean_close(self):
        c = self.track(raw.RawClient(self.host, self.port, raw.V311, timeout=10))
        c.connect(self.unique("big311"))
        c.sock.sendall(raw.publish("big", b"x" * (16 << 20), version=raw.V311))
        self.assertEqual(c.read_until_closed(timeout=10), [])

    def test_subscribe_maximum_qos_3_is_a_protocol_error(self):
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(self.unique("qos3"))
        c.send(raw.subscribe(1, [("a/b", 0x03)]))
        got = c.read_until_closed()
        self.assertEqual([(p.type, p.reason) for p in got], [(raw.DISCONNECT, 0x82)])


if __name__ == "__main__":
    unittest.main()
