"""MQTT 3.1.1 and MQTT 5 clients on one broker: messages, properties, retained messages and
sessions cross the version boundary correctly."""

import unittest

from support import rawmqtt as raw
from support.edgemq_harness import DaemonTestCase
from support.paho_helper import PahoClient


class MixedVersionsTest(DaemonTestCase):
    def paho(self, version):
        c = self.track(PahoClient(self.host, self.port, version=version))
        c.connect()
        return c

    def rawc(self, version, client_id=None, **kw):
        c = self.track(raw.RawClient(self.host, self.port, version))
        c.connect(client_id or self.unique("mix"), **kw)
        return c

    def test_paho_cross_version_all_qos(self):
        for pv, sv in ((4, 5), (5, 4)):
            for q in (0, 1, 2):
                with self.subTest(publisher=pv, subscriber=sv, qos=q):
                    t = self.unique("mix")
                    sub = self.paho(sv)
                    sub.subscribe(t, 2)
                    self.paho(pv).publish(t, b"cross", qos=q)
                    m = sub.get()
                    self.assertEqual((m.topic, m.payload, m.qos), (t, b"cross", q))

    def test_one_publish_reaches_both_versions(self):
        t = self.unique("mix")
        s4, s5 = self.paho(4), self.paho(5)
        s4.subscribe(t + "/#", 1)
        s5.subscribe(t + "/+", 2)
        self.paho(5).publish(t + "/x", b"both", qos=2)
        a, b = s4.get(), s5.get()
        self.assertEqual((a.payload, a.qos), (b"both", 1))
        self.assertEqual((b.payload, b.qos), (b"both", 2))

    def test_v5_properties_forwarded_to_v5_and_stripped_for_v311(self):
        t = self.unique("mix")
        s5 = self.rawc(raw.V5)
        s4 = self.rawc(raw.V311)
        s5.subscribe([(t, 1)])
        s4.subscribe([(t, 1)])
        pub = self.rawc(raw.V5)
        pub.publish(t, b"with props", qos=1, properties=[
            (raw.P_CONTENT_TYPE, "text/plain"), (raw.P_USER_PROPERTY, ("a", "1")), (raw.P_USER_PROPERTY, ("b", "2")),
            (raw.P_PAYLOAD_FORMAT, 1)])
        p5 = s5.expect(raw.PUBLISH)
        self.assertEqual(p5.payload, b"with props")
        self.assertEqual(p5.props.get(raw.P_CONTENT_TYPE), "text/plain")
        self.assertEqual(p5.props.get(raw.P_USER_PROPERTY), [("a", "1"), ("b", "2")], "order must be kept")
        self.assertEqual(p5.props.get(raw.P_PAYLOAD_FORMAT), 1)
        p4 = s4.expect(raw.PUBLISH)
        # A 3.1.1 PUBLISH: topic, packet id, payload; no properties block in front of the payload.
        self.assertEqual((p4.topic, p4.payload), (t, b"with props"))
        self.assertEqual(p4.body, raw.utf8(t) + p4.body[2 + len(t):4 + len(t)] + b"with props")

    def test_topic_alias_resolved_for_v311_subscriber(self):
        t = self.unique("mix")
        s4 = self.rawc(raw.V311)
        s4.subscribe([(t, 0)])
        pub = self.rawc(raw.V5)
        pub.publish(t, b"first", properties=[(raw.P_TOPIC_ALIAS, 3)])
        pub.publish("", b"via alias", properties=[(raw.P_TOPIC_ALIAS, 3)])
        got = [s4.expect(raw.PUBLISH), s4.expect(raw.PUBLISH)]
        self.assertEqual([(p.topic, p.payload) for p in got], [(t, b"first"), (t, b"via alias")])

    def test_topic_alias_beyond_maximum_is_rejected(self):
        pub = self.rawc(raw.V5)
        pub.send(raw.publish(self.unique("mix"), b"x", properties=[(raw.P_TOPIC_ALIAS, 65000)]))
        got = pub.read_until_closed()
        self.assertEqual([(p.type, p.reason) for p in got], [(raw.DISCONNECT, 0x94)])

    def test_retained_from_v5_delivered_to_v311(self):
        t = self.unique("mix")
        self.rawc(raw.V5).publish(t, b"v5 retained", qos=1, retain=True,
                                  properties=[(raw.P_USER_PROPERTY, ("x", "y"))])
        s4 = self.rawc(raw.V311)
        s4.subscribe([(t, 1)])
        p = s4.expect(raw.PUBLISH)
        self.assertEqual((p.payload, p.retain, p.qos), (b"v5 retained", True, 1))

    def test_subscription_identifier_only_for_v5(self):
        t = self.unique("mix")
        s5 = self.rawc(raw.V5)
        s5.subscribe([(t + "/#", 0)], properties=[(raw.P_SUBSCRIPTION_IDENTIFIER, 42)])
        s5.subscribe([(t + "/+", 0)], properties=[(raw.P_SUBSCRIPTION_IDENTIFIER, 7)])
        self.paho(4).publish(t + "/a", b"ids", qos=0)
        p = s5.expect(raw.PUBLISH)
        self.assertEqual(sorted(p.props.get(raw.P_SUBSCRIPTION_IDENTIFIER, [])), [7, 42])
        self.paho(4).publish(t + "/a/b", b"one id", qos=0)
        p = s5.expect(raw.PUBLISH)
        self.assertEqual(p.props.get(raw.P_SUBSCRIPTION_IDENTIFIER), [42])

    def test_v311_session_resumed_by_v5_client(self):
        cid = self.unique("mix")
        t = self.unique("mix")
        old = self.rawc(raw.V311, cid, clean=False)
        old.subscribe([(t, 1)])
        new = self.track(raw.RawClient(self.host, self.port, raw.V5))
        ack = new.connect(cid, clean=False, properties=[(raw.P_SESSION_EXPIRY, 60)])
        self.assertTrue(ack.session_present)
        self.assertEqual(old.read_until_closed(), [], "the 3.1.1 connection gets no DISCONNECT packet")
        self.paho(4).publish(t, b"resumed", qos=1)
        p = new.expect(raw.PUBLISH)
        self.assertEqual((p.payload, p.qos), (b"resumed", 1))
        new.send(raw.ack(raw.PUBACK, p.packet_id))
        new.send(raw.disconnect(0, properties=[(raw.P_SESSION_EXPIRY, 0)]))

    def test_v5_connection_taken_over_by_v311_client(self):
        cid = self.unique("mix")
        old = self.rawc(raw.V5, cid)
        new = self.track(raw.RawClient(self.host, self.port, raw.V311))
        ack = new.connect(cid)
        self.assertEqual(ack.raw, b"\x20\x02\x00\x00")
        self.assertEqual([(p.type, p.reason) for p in old.read_until_closed()], [(raw.DISCONNECT, 0x8E)])
        new.ping()

    def test_v311_connack_has_no_properties(self):
        c = self.track(raw.RawClient(self.host, self.port, raw.V311))
        self.assertEqual(c.connect(self.unique("mix")).raw, b"\x20\x02\x00\x00")

    def test_v5_connack_advertises_limits(self):
        c = self.track(raw.RawClient(self.host, self.port, raw.V5))
        ack = c.connect(self.unique("mix"))
        self.assertEqual(ack.reason, 0)
        self.assertEqual(ack.props.get(raw.P_MAXIMUM_PACKET_SIZE), 1024 * 1024)
        self.assertEqual(ack.props.get(raw.P_TOPIC_ALIAS_MAXIMUM), 64)
        self.assertEqual(ack.props.get(raw.P_RECEIVE_MAXIMUM), 1024)


if __name__ == "__main__":
    unittest.main()
