"""MQTT 5.0 section 4.6: Message ordering.

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-4.6.0-5] When a Server processes a message that has been published to an Ordered
    Topic, it MUST send PUBLISH packets to consumers (for the same Topic and QoS) in the order
    that they were received from any given Client.
[MQTT-4.6.0-6] By default, a Server MUST treat every Topic as an Ordered Topic when it is
    forwarding messages on Non-shared Subscriptions.
"""

import unittest

from _support import ConformanceCase, PUBLISH, raw

N = 60


class OrderingTest(ConformanceCase):

    def test_MQTT_4_6_0_5_same_topic_and_qos_in_publish_order(self):
        for qos in (0, 1, 2):
            with self.subTest(qos=qos):
                t = self.topic("ord%d" % qos)
                sub = self.subscriber([(t, 2)])
                pub = self.conn()
                # Pipelined: all PUBLISH packets in one write, acknowledgements afterwards.
                pub.send(b"".join(raw.publish(t, b"%d" % i, qos, i + 1 if qos else None) for i in range(N)))
                got = []
                while len(got) < N:
                    p = sub.expect(PUBLISH)
                    sub.ack(p)
                    got.append(int(p.payload))
                self.assertEqual(got, list(range(N)))
                completed = 0
                while qos and completed < N:  # finish the publisher's flows
                    p = pub.recv()
                    if p.type == raw.PUBREC:
                        pub.send(raw.ack(raw.PUBREL, p.packet_id))
                    else:
                        self.assertIn(p.type, (raw.PUBACK, raw.PUBCOMP))
                        completed += 1

    def test_MQTT_4_6_0_6_every_topic_is_ordered(self):
        t = self.topic("every")
        topics = ["%s/%d" % (t, k) for k in range(4)]
        wildcard = self.subscriber([(t + "/#", 1)])
        exact = self.conn()
        exact.subscribe([(x, 1) for x in topics])
        pubs = [self.conn(), self.conn()]
        sent = []
        for i in range(N):
            topic = topics[i % len(topics)]
            pub = pubs[i % 2]
            pub.send(raw.publish(topic, b"%d" % i, 1, i + 1))
            sent.append((topic, i, pub))
        for pub in pubs:
            for _ in range(N // 2):
                pub.expect(raw.PUBACK)
        for sub in (wildcard, exact):
            got = []
            while len(got) < N:
                p = sub.expect(PUBLISH)
                sub.ack(p)
                got.append((p.topic, int(p.payload)))
            for topic in topics:
                for which in range(2):
                    expected = [i for (tp, i, pub) in sent if tp == topic and pub is pubs[which]]
                    received = [i for (tp, i) in got if tp == topic and i in expected]
                    self.assertEqual(received, expected, "order on %s from publisher %d" % (topic, which))


if __name__ == "__main__":
    unittest.main()
