"""Deliveries take two paths (ADR 0006): a worker that routed a message to a quiet connection of
another worker writes it itself, a busy connection is written by its own worker. With several
workers, bursts (busy connections) and paced messages (quiet ones) mixed, every subscriber must
still get every message of each publisher exactly once and in order (MQTT 4.6)."""

import threading
import time
import unittest

from support.edgemq_harness import DaemonTestCase
from support.paho_helper import PahoClient

PUBLISHERS = 4
SUBSCRIBERS = 6
ROUNDS = 5
BURST = 100
PACED = 10


class CrossWorkerOrderTest(DaemonTestCase):
    workers = 4
    config = {"queue": {"max_messages": 100000}}

    def client(self, **kw):
        c = self.track(PahoClient(self.host, self.port, **kw))
        c.connect()
        return c

    def run_publisher(self, pub, topic, errors):
        try:
            seq = 0
            for _ in range(ROUNDS):
                infos = []
                for _ in range(BURST):  # back to back: the subscribers' connections are busy
                    infos.append(pub.client.publish(topic, b"%d" % seq, qos=1))
                    seq += 1
                for info in infos:
                    info.wait_for_publish(10)
                for _ in range(PACED):  # paced: the connections go quiet between messages
                    pub.publish(topic, b"%d" % seq, qos=1)
                    seq += 1
                    time.sleep(0.002)
            pub.publish(topic, b"end", qos=1)
        except Exception as e:  # reported by the test thread
            errors.append(e)

    def test_every_message_once_and_in_order_across_workers(self):
        root = self.unique("xw")
        subs = [self.client() for _ in range(SUBSCRIBERS)]
        for s in subs:
            self.assertEqual(s.subscribe(root + "/#", 1), [1])
        pubs = [self.client() for _ in range(PUBLISHERS)]
        errors = []
        threads = [threading.Thread(target=self.run_publisher, args=(p, "%s/p%d" % (root, i), errors))
                   for i, p in enumerate(pubs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        per_publisher = ROUNDS * (BURST + PACED)
        for n, s in enumerate(subs):
            seen = {"%s/p%d" % (root, i): [] for i in range(PUBLISHERS)}
            ended = set()
            while len(ended) < PUBLISHERS:
                m = s.get(timeout=20)
                self.assertIn(m.topic, seen)
                if m.payload == b"end":
                    ended.add(m.topic)
                else:
                    self.assertNotIn(m.topic, ended, "subscriber %d: a message after its publisher's end" % n)
                    seen[m.topic].append(int(m.payload))
            for topic, got in seen.items():
                self.assertEqual(got, list(range(per_publisher)),
                                 "subscriber %d, %s: lost, duplicated or reordered messages" % (n, topic))


if __name__ == "__main__":
    unittest.main()
