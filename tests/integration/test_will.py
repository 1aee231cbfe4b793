"""Will messages: published on abnormal disconnection (socket closed, keep-alive expiry,
protocol error, v5 DISCONNECT 0x04), never on a normal DISCONNECT."""

import queue
import time
import unittest

from support import rawmqtt as raw
from support.edgemq_harness import DaemonTestCase
from support.paho_helper import PahoClient

# After a positive marker, how long we keep listening for a message that must not come.
QUIET = 0.3


class WillTest(DaemonTestCase):
    def watcher(self, topic):
        """A paho client subscribed to `topic` (QoS 1) and to its own marker topic."""
        w = self.track(PahoClient(self.host, self.port))
        w.connect()
        w.subscribe(topic, 1)
        w.marker = topic + "/marker"
        w.subscribe(w.marker, 1)
        return w

    def will_client(self, topic, payload=b"gone", version=raw.V5, keepalive=60, qos=1, retain=False):
        c = self.track(raw.RawClient(self.host, self.port, version))
        c.connect(self.unique("will"), keepalive=keepalive,
                  will={"topic": topic, "payload": payload, "qos": qos, "retain": retain})
        return c

    def assert_no_will(self, w, topic):
        """Publish a marker; the watcher must see it and nothing else, even a moment later."""
        pub = self.track(PahoClient(self.host, self.port))
        pub.connect()
        pub.publish(w.marker, b"marker", qos=1)
        got = w.collect_until(w.marker)
        try:
            got.append(w.messages.get(timeout=QUIET))
        except queue.Empty:
            pass
        self.assertEqual([m.topic for m in got], [w.marker], "no will may be published on %s" % topic)

    def test_will_on_socket_close_v5(self):
        t = self.unique("will")
        w = self.watcher(t)
        c = self.will_client(t, b"v5 died")
        c.close()
        m = w.get()
        self.assertEqual((m.topic, m.payload, m.qos), (t, b"v5 died", 1))

    def test_will_on_socket_close_v311(self):
        t = self.unique("will")
        w = self.watcher(t)
        c = self.will_client(t, b"v311 died", version=raw.V311, qos=2)
        c.close()
        m = w.get()
        self.assertEqual((m.topic, m.payload, m.qos), (t, b"v311 died", 1))  # granted QoS 1 caps it

    def test_will_from_paho_v311_client_dropped(self):
        t = self.unique("will")
        w = self.watcher(t)
        c = PahoClient(self.host, self.port, version=4, will={"topic": t, "payload": b"paho died", "qos": 1})
        c.connect()
        c.drop()
        self.assertEqual(w.get().payload, b"paho died")

    def test_no_will_on_normal_disconnect_v5(self):
        t = self.unique("will")
        w = self.watcher(t)
        c = self.will_client(t)
        c.send(raw.disconnect(0x00))
        self.assertEqual(c.read_until_closed(), [], "the server closes after DISCONNECT without answering")
        self.assert_no_will(w, t)

    def test_no_will_on_normal_disconnect_v5_without_reason_byte(self):
        t = self.unique("will")
        w = self.watcher(t)
        c = self.will_client(t)
        c.send(b"\xe0\x00")  # remaining length 0 means reason 0x00
        c.read_until_closed()
        self.assert_no_will(w, t)

    def test_no_will_on_disconnect_v311(self):
        t = self.unique("will")
        w = self.watcher(t)
        c = self.will_client(t, version=raw.V311)
        c.send(raw.disconnect(version=raw.V311))
        c.read_until_closed()
        self.assert_no_will(w, t)

    def test_will_on_disconnect_with_will_message_0x04(self):
        t = self.unique("will")
        w = self.watcher(t)
        c = self.will_client(t, b"asked for it")
        c.send(raw.disconnect(0x04))
        c.read_until_closed()
        self.assertEqual(w.get().payload, b"asked for it")

    def test_will_on_keep_alive_expiry(self):
        t = self.unique("will")
        w = self.watcher(t)
        start = time.monotonic()
        c = self.will_client(t, b"timed out", keepalive=1)
        # Send nothing: the broker must close the connection after 1.5 x keep alive.
        self.assertTrue(c.is_closed_within(5.0), "connection not closed after keep-alive expiry")
        elapsed = time.monotonic() - start
        m = w.get()
        self.assertEqual(m.payload, b"timed out")
        self.assertGreaterEqual(elapsed, 1.5, "closed before 1.5 x the keep alive (1 s)")
        self.assertLess(elapsed, 4.0)

    def test_pingreq_keeps_connection_alive(self):
        t = self.unique("will")
        w = self.watcher(t)
        c = self.will_client(t, b"should not", keepalive=1)
        deadline = time.monotonic() + 2.5
        # Ping twice a second for 2.5 s (well past 1.5 x keep alive); each PINGRESP wait is
        # the pacing, bounded by the socket timeout.
        while time.monotonic() < deadline:
            c.send(raw.pingreq())
            self.assertEqual(c.recv().type, raw.PINGRESP)
            try:
                c.recv(timeout=0.4)
                self.fail("unexpected packet while idle")
            except TimeoutError:
                pass
        c.send(raw.disconnect(0))
        c.read_until_closed()
        self.assert_no_will(w, t)

    def test_will_on_protocol_error_v5(self):
        t = self.unique("will")
        w = self.watcher(t)
        c = self.will_client(t, b"broke the rules")
        c.send(bytes([0x36]) + raw.publish(t, b"x", qos=1)[1:])  # QoS 3
        got = c.read_until_closed()
        self.assertEqual([(p.type, p.reason) for p in got], [(raw.DISCONNECT, 0x81)])
        self.assertEqual(w.get().payload, b"broke the rules")

    def test_retained_will(self):
        t = self.unique("will")
        c = self.will_client(t, b"retained will", retain=True)
        w = self.watcher(t + "/other")
        w.subscribe(t, 1)
        c.close()
        live = w.get()
        self.assertEqual(live.payload, b"retained will")
        late = self.track(PahoClient(self.host, self.port))
        late.connect()
        late.subscribe(t, 1)
        m = late.get()
        self.assertEqual((m.payload, m.retain), (b"retained will", True))

    def test_will_with_v5_properties_forwarded(self):
        t = self.unique("will")
        sub = self.track(raw.RawClient(self.host, self.port))
        sub.connect(self.unique("ws"))
        sub.subscribe([(t, 0)])
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(self.unique("wp"), will={"topic": t, "payload": b"{}", "properties": [
            (raw.P_CONTENT_TYPE, "application/json"), (raw.P_USER_PROPERTY, ("k", "v"))]})
        c.close()
        p = sub.expect(raw.PUBLISH)
        self.assertEqual(p.payload, b"{}")
        self.assertEqual(p.props.get(raw.P_CONTENT_TYPE), "application/json")
        self.assertEqual(p.props.get(raw.P_USER_PROPERTY), [("k", "v")])


if __name__ == "__main__":
    unittest.main()
