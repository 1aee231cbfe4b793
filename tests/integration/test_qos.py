"""QoS 0/1/2 in both directions, for MQTT 5 and 3.1.1, with paho and with raw packets."""

import unittest

from support import rawmqtt as raw
from support.edgemq_harness import DaemonTestCase
from support.paho_helper import PahoClient


class PahoQosTest(DaemonTestCase):
    def client(self, **kw):
        c = self.track(PahoClient(self.host, self.port, **kw))
        c.connect()
        return c

    def roundtrip(self, version, pub_qos, sub_qos):
        topic = self.unique("qos/v%d/p%d/s%d" % (version, pub_qos, sub_qos))
        sub = self.client(version=version)
        pub = self.client(version=version)
        self.assertEqual(sub.subscribe(topic, sub_qos), [sub_qos])
        payload = ("payload %d->%d" % (pub_qos, sub_qos)).encode()
        pub.publish(topic, payload, qos=pub_qos)
        m = sub.get()
        self.assertEqual(m.topic, topic)
        self.assertEqual(m.payload, payload)
        self.assertEqual(m.qos, min(pub_qos, sub_qos), "delivered QoS must be min(publish QoS, granted QoS)")
        self.assertFalse(m.retain)
        return sub, pub, topic

    def test_every_qos_pair_v5(self):
        for pq in (0, 1, 2):
            for sq in (0, 1, 2):
                with self.subTest(pub_qos=pq, sub_qos=sq):
                    self.roundtrip(5, pq, sq)

    def test_every_qos_pair_v311(self):
        for pq in (0, 1, 2):
            for sq in (0, 1, 2):
                with self.subTest(pub_qos=pq, sub_qos=sq):
                    self.roundtrip(4, pq, sq)

    def test_qos2_delivered_exactly_once_among_many(self):
        topic = self.unique("qos/many")
        sub = self.client()
        pub = self.client()
        sub.subscribe(topic, 2)
        n = 50
        for i in range(n):
            pub.publish(topic, b"m%d" % i, qos=2)
        got = [sub.get() for _ in range(n)]
        self.assertEqual([m.payload for m in got], [b"m%d" % i for i in range(n)], "in order, each once")
        self.assertTrue(all(m.qos == 2 for m in got))
        # nothing duplicated behind them
        pub.publish(topic, b"marker", qos=2)
        self.assertEqual(sub.get().payload, b"marker")
        self.assertEqual(sub.drain(), [])

    def test_qos1_burst_over_many_topics_is_complete(self):
        prefix = self.unique("qos/burst")
        sub = self.client()
        pub = self.client(version=4)
        sub.subscribe(prefix + "/#", 1)
        for i in range(100):
            pub.publish("%s/%d" % (prefix, i % 7), b"%d" % i, qos=1)
        payloads = sorted(int(sub.get().payload) for _ in range(100))
        self.assertEqual(payloads, list(range(100)))


class RawQosTest(DaemonTestCase):
    def raw(self, version=raw.V5, client_id=None):
        c = self.track(raw.RawClient(self.host, self.port, version))
        c.connect(client_id if client_id is not None else self.unique("raw"))
        return c

    def test_qos1_publish_gets_puback_with_same_packet_id(self):
        topic = self.unique("rq/1")
        sub = self.raw()
        sub.subscribe([(topic, 1)])
        pub = self.raw()
        pub.send(raw.publish(topic, b"x", qos=1, packet_id=0x1234))
        ack = pub.expect(raw.PUBACK)
        self.assertEqual(ack.packet_id, 0x1234)
        self.assertEqual(ack.reason, 0x00)
        m = sub.expect(raw.PUBLISH)
        self.assertEqual((m.topic, m.qos, m.payload), (topic, 1, b"x"))
        self.assertNotEqual(m.packet_id, 0)
        sub.send(raw.ack(raw.PUBACK, m.packet_id))

    def test_v5_puback_no_matching_subscribers(self):
        c = self.raw()
        ack = c.publish(self.unique("rq/nobody"), b"x", qos=1)
        self.assertEqual(ack.reason, 0x10, "PUBACK must say No matching subscribers: %r" % ack)

    def test_v5_pubrec_no_matching_subscribers(self):
        c = self.raw()
        comp = c.publish(self.unique("rq/nobody2"), b"x", qos=2)
        self.assertEqual(comp.pubrec.reason, 0x10, "PUBREC must say No matching subscribers: %r" % comp.pubrec)
        self.assertEqual(comp.reason, 0x00)

    def test_v5_puback_success_with_subscriber(self):
        topic = self.unique("rq/somebody")
        sub = self.raw()
        sub.subscribe([(topic, 0)])
        ack = self.raw().publish(topic, b"x", qos=1)
        self.assertEqual(ack.reason, 0x00)
        self.assertEqual(sub.expect(raw.PUBLISH).payload, b"x")

    def test_v311_puback_is_two_bytes(self):
        c = self.raw(raw.V311)
        ack = c.publish(self.unique("rq/v311"), b"x", qos=1)
        self.assertEqual(ack.raw[1], 2, "a 3.1.1 PUBACK has remaining length 2: %r" % ack)

    def test_inbound_qos2_resent_before_pubrel_is_routed_once(self):
        topic = self.unique("rq/2dup")
        sub = self.raw()
        sub.subscribe([(topic, 2)])
        pub = self.raw()
        pub.send(raw.publish(topic, b"once", qos=2, packet_id=77))
        self.assertEqual(pub.expect(raw.PUBREC).packet_id, 77)
        pub.send(raw.publish(topic, b"once", qos=2, packet_id=77, dup=True))
        rec2 = pub.expect(raw.PUBREC)
        self.assertEqual((rec2.packet_id, rec2.reason), (77, 0x00))
        pub.send(raw.ack(raw.PUBREL, 77))
        comp = pub.expect(raw.PUBCOMP)
        self.assertEqual((comp.packet_id, comp.reason), (77, 0x00))
        # the same packet id may now carry a new message
        pub.send(raw.publish(topic, b"again", qos=2, packet_id=77))
        pub.expect(raw.PUBREC)
        pub.send(raw.ack(raw.PUBREL, 77))
        pub.expect(raw.PUBCOMP)

        got, open_ids = [], set()
        while len(got) < 2 or open_ids:
            p = sub.recv()
            if p.type == raw.PUBLISH:
                got.append(p.payload)
                open_ids.add(p.packet_id)
                sub.send(raw.ack(raw.PUBREC, p.packet_id))
            elif p.type == raw.PUBREL:
                self.assertIn(p.packet_id, open_ids)
                open_ids.discard(p.packet_id)
                sub.send(raw.ack(raw.PUBCOMP, p.packet_id))
            else:
                self.fail("unexpected %r" % p)
        # a marker proves nothing else was queued behind them
        self.raw().publish(topic, b"marker", qos=0)
        m = sub.expect(raw.PUBLISH)
        got.append(m.payload)
        self.assertEqual(got, [b"once", b"again", b"marker"], "the re-sent QoS 2 message must not be delivered twice")

    def test_pubrel_for_unknown_packet_id(self):
        c = self.raw()
        c.send(raw.ack(raw.PUBREL, 4242))
        comp = c.expect(raw.PUBCOMP)
        self.assertEqual((comp.packet_id, comp.reason), (4242, 0x92))

    def test_outbound_qos2_flow(self):
        topic = self.unique("rq/out2")
        sub = self.raw()
        sub.subscribe([(topic, 2)])
        self.raw(raw.V311).publish(topic, b"q2", qos=2)
        p = sub.expect(raw.PUBLISH)
        self.assertEqual((p.qos, p.payload, p.dup), (2, b"q2", False))
        sub.send(raw.ack(raw.PUBREC, p.packet_id))
        rel = sub.expect(raw.PUBREL)
        self.assertEqual(rel.flags, 0x02, "PUBREL fixed header flags must be 0010")
        self.assertEqual(rel.packet_id, p.packet_id)
        sub.send(raw.ack(raw.PUBCOMP, p.packet_id))
        # still healthy afterwards
        sub.ping()

    def test_outbound_qos1_unacked_messages_use_distinct_packet_ids(self):
        topic = self.unique("rq/ids")
        sub = self.raw()
        sub.subscribe([(topic, 1)])
        pub = self.raw()
        for i in range(5):
            pub.publish(topic, b"%d" % i, qos=1)
        pubs = [sub.expect(raw.PUBLISH) for _ in range(5)]
        self.assertEqual([p.payload for p in pubs], [b"0", b"1", b"2", b"3", b"4"])
        ids = [p.packet_id for p in pubs]
        self.assertEqual(len(set(ids)), 5, "in-flight packet ids must be unique: %s" % ids)
        self.assertNotIn(0, ids)
        for i in ids:
            sub.send(raw.ack(raw.PUBACK, i))
        sub.ping()

    def test_client_receive_maximum_limits_inflight(self):
        topic = self.unique("rq/recvmax")
        sub = self.track(raw.RawClient(self.host, self.port))
        sub.connect(self.unique("rm"), properties=[(raw.P_RECEIVE_MAXIMUM, 2)])
        sub.subscribe([(topic, 1)])
        pub = self.raw()
        for i in range(4):
            pub.publish(topic, b"%d" % i, qos=1)
        first = [sub.expect(raw.PUBLISH), sub.expect(raw.PUBLISH)]
        # With Receive Maximum 2 the broker must not send a third before an ack: prove it with
        # a PINGRESP, which the broker answers in order after anything already queued.
        sub.send(raw.pingreq())
        self.assertEqual(sub.recv().type, raw.PINGRESP, "a third QoS 1 PUBLISH exceeded Receive Maximum 2")
        sub.send(raw.ack(raw.PUBACK, first[0].packet_id))
        third = sub.expect(raw.PUBLISH)
        self.assertEqual(third.payload, b"2")
        sub.send(raw.ack(raw.PUBACK, first[1].packet_id))
        self.assertEqual(sub.expect(raw.PUBLISH).payload, b"3")


if __name__ == "__main__":
    unittest.main()
