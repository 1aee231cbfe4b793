"""Retained messages: set, replace, clear with an empty payload, delivery on subscribe with
the retain flag set, and the v5 subscription options that govern them."""

import unittest

from support import rawmqtt as raw
from support.edgemq_harness import DaemonTestCase
from support.paho_helper import PahoClient


class RetainedTest(DaemonTestCase):
    def client(self, version=5):
        c = self.track(PahoClient(self.host, self.port, version=version))
        c.connect()
        return c

    def retained_for(self, flt, version=5, qos=1):
        """Subscribe a fresh client to `flt` and return what it receives before a marker."""
        marker = self.unique("marker")
        sub = self.client(version)
        sub.subscribe(flt, qos)
        sub.subscribe(marker, 2)
        # The marker is published after both SUBACKs: retained messages are sent with (after)
        # the SUBACK, so anything retained arrives before it. It travels at QoS 2 because
        # paho passes a QoS 2 message on only at PUBREL: a QoS 0/1 marker could overtake it.
        self.client().publish(marker, b"end", qos=2)
        return sub.collect_until(marker)[:-1]

    def test_retained_delivered_on_subscribe_with_retain_flag(self):
        t = self.unique("r")
        self.client().publish(t, b"kept", qos=1, retain=True)
        for version in (5, 4):
            with self.subTest(version=version):
                got = self.retained_for(t, version)
                self.assertEqual([(m.topic, m.payload, m.retain) for m in got], [(t, b"kept", True)])

    def test_retained_replaced_by_later_publish(self):
        t = self.unique("r")
        pub = self.client()
        pub.publish(t, b"first", qos=1, retain=True)
        pub.publish(t, b"second", qos=1, retain=True)
        got = self.retained_for(t)
        self.assertEqual([m.payload for m in got], [b"second"])

    def test_empty_payload_clears_retained(self):
        t = self.unique("r")
        pub = self.client(version=4)
        pub.publish(t, b"soon gone", qos=1, retain=True)
        self.assertEqual([m.payload for m in self.retained_for(t)], [b"soon gone"])
        pub.publish(t, b"", qos=1, retain=True)
        self.assertEqual(self.retained_for(t), [], "an empty retained payload must clear the topic")
        # and a new value can be set again afterwards
        pub.publish(t, b"back", qos=0, retain=True)
        # QoS 0 has no acknowledgement: a QoS 1 publish on the same connection, acknowledged
        # after it, proves the retained message was processed before the next client subscribes.
        pub.publish(self.unique("sync"), b"", qos=1)
        self.assertEqual([m.payload for m in self.retained_for(t)], [b"back"])

    def test_clearing_message_reaches_current_subscribers(self):
        t = self.unique("r")
        sub = self.client()
        sub.subscribe(t, 1)
        pub = self.client()
        pub.publish(t, b"v", qos=1, retain=True)
        pub.publish(t, b"", qos=1, retain=True)
        got = [sub.get(), sub.get()]
        self.assertEqual([m.payload for m in got], [b"v", b""])

    def test_non_retained_publish_does_not_replace_retained(self):
        t = self.unique("r")
        pub = self.client()
        pub.publish(t, b"retained", qos=1, retain=True)
        pub.publish(t, b"transient", qos=1, retain=False)
        self.assertEqual([m.payload for m in self.retained_for(t)], [b"retained"])

    def test_wildcard_subscription_gets_every_matching_retained(self):
        p = self.unique("r")
        pub = self.client()
        topics = [p + "/a", p + "/b/c", p + "/d"]
        for t in topics:
            pub.publish(t, t.encode(), qos=1, retain=True)
        pub.publish(p + "-sibling", b"no", qos=1, retain=True)
        got = self.retained_for(p + "/#")
        self.assertEqual(sorted((m.topic, m.payload, m.retain) for m in got),
                         sorted((t, t.encode(), True) for t in topics))
        got = self.retained_for(p + "/+")
        self.assertEqual(sorted(m.topic for m in got), [p + "/a", p + "/d"])

    def test_retained_qos_is_min_of_stored_and_granted(self):
        t = self.unique("r")
        self.client().publish(t, b"q2", qos=2, retain=True)
        for sub_qos in (0, 1, 2):
            with self.subTest(sub_qos=sub_qos):
                got = self.retained_for(t, qos=sub_qos)
                self.assertEqual([(m.payload, m.qos) for m in got], [(b"q2", sub_qos)])
        t1 = self.unique("r")
        self.client().publish(t1, b"q1", qos=1, retain=True)
        self.assertEqual([m.qos for m in self.retained_for(t1, qos=2)], [1])

    def test_live_delivery_clears_retain_flag_without_retain_as_published(self):
        t = self.unique("r")
        marker = self.unique("marker")
        sub5 = self.client(5)
        sub4 = self.client(4)
        for s in (sub5, sub4):
            s.subscribe(t, 1)
            s.subscribe(marker, 0)
        pub = self.client()
        pub.publish(t, b"live", qos=1, retain=True)
        pub.publish(marker, b"end")
        for name, s in (("v5", sub5), ("v3.1.1", sub4)):
            got = s.collect_until(marker)[:-1]
            self.assertEqual([(m.payload, m.retain) for m in got], [(b"live", False)], name)

    def test_retain_as_published_keeps_flag(self):
        t = self.unique("r")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(self.unique("rap"))
        c.subscribe([(t, 0x08 | 0)])  # Retain As Published, QoS 0
        self.client().publish(t, b"rap", qos=0, retain=True)
        p = c.expect(raw.PUBLISH)
        self.assertEqual((p.payload, p.retain), (b"rap", True))

    def test_retain_handling_options(self):
        t = self.unique("r")
        pub = self.client()
        pub.publish(t, b"stored", qos=0, retain=True)
        # Processed before anything below (acknowledged after it on the same connection):
        # otherwise it could reach the first subscription as a live, non-retained message.
        pub.publish(self.unique("sync"), b"", qos=1)
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(self.unique("rh"))
        marker = self.unique("marker")
        c.subscribe([(marker, 0)])

        def retained_after(options):
            c.subscribe([(t, options)])
            self.client().publish(marker, b"end")
            got = []
            while True:
                p = c.expect(raw.PUBLISH)
                if p.topic == marker:
                    return got
                got.append(p.payload)

        self.assertEqual(retained_after(0x20), [], "Retain Handling 2: never send retained")
        self.assertEqual(retained_after(0x10), [], "Retain Handling 1: the subscription already exists")
        self.assertEqual(retained_after(0x00), [b"stored"], "Retain Handling 0: always send")
        c2 = self.track(raw.RawClient(self.host, self.port))
        c2.connect(self.unique("rh2"))
        c2.subscribe([(t, 0x10)])
        p = c2.expect(raw.PUBLISH)
        self.assertEqual((p.payload, p.retain), (b"stored", True), "Retain Handling 1 on a new subscription sends")

    def test_retained_from_raw_v311_publisher(self):
        t = self.unique("r")
        c = self.track(raw.RawClient(self.host, self.port, raw.V311))
        c.connect(self.unique("raw311"))
        c.publish(t, b"raw-retained", qos=2, retain=True)
        sub = self.track(raw.RawClient(self.host, self.port, raw.V311))
        sub.connect(self.unique("raw311s"))
        sa = sub.subscribe([(t, 2)])
        self.assertEqual(sa.reasons, [2])
        p = sub.expect(raw.PUBLISH)
        self.assertEqual((p.payload, p.retain, p.qos), (b"raw-retained", True, 2))


if __name__ == "__main__":
    unittest.main()
