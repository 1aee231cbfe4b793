"""Topic filters: '+', '#', '$'-topics, overlapping subscriptions and unsubscribe."""

import unittest

from support import rawmqtt as raw
from support.edgemq_harness import DaemonTestCase
from support.paho_helper import PahoClient


class WildcardTest(DaemonTestCase):
    def client(self, version=5):
        c = self.track(PahoClient(self.host, self.port, version=version))
        c.connect()
        return c

    def check_matches(self, filters, publish, expected, version=5):
        """Subscribe to `filters`, publish to each topic in `publish` and then to a marker;
        the subscriber must receive exactly the topics in `expected`, in order."""
        marker = self.unique("marker")
        sub = self.client(version)
        for f in filters + [marker]:
            self.assertEqual(sub.subscribe(f, 1), [1], "SUBACK for %r" % f)
        pub = self.client()
        for t in publish:
            pub.publish(t, t.encode(), qos=1)
        pub.publish(marker, b"end", qos=1)
        got = [m.topic for m in sub.collect_until(marker)][:-1]
        self.assertEqual(got, expected, "filters %s" % filters)
        return sub

    def test_plus_matches_exactly_one_level(self):
        p = self.unique("w")
        self.check_matches([p + "/+/x"],
                           [p + "/a/x", p + "/a/b/x", p + "/x", p + "//x", p + "/a/x/y", p + "/b/x"],
                           [p + "/a/x", p + "//x", p + "/b/x"])

    def test_plus_at_end_and_start(self):
        p = self.unique("w")
        self.check_matches([p + "/+"], [p, p + "/a", p + "/", p + "/a/b"], [p + "/a", p + "/"])
        self.check_matches(["+/" + p], [p, "a/" + p, "a/b/" + p, "/" + p], ["a/" + p, "/" + p])

    def test_hash_matches_parent_and_all_descendants(self):
        p = self.unique("w")
        self.check_matches([p + "/#"],
                           [p, p + "/a", p + "/a/b/c", p + "/", p + "x", "other/" + p],
                           [p, p + "/a", p + "/a/b/c", p + "/"])

    def test_plus_and_hash_combined(self):
        p = self.unique("w")
        self.check_matches([p + "/+/+/#"],
                           [p + "/a", p + "/a/b", p + "/a/b/c/d", p + "/a"],
                           [p + "/a/b", p + "/a/b/c/d"])

    def test_exact_filter_is_case_sensitive(self):
        p = self.unique("w")
        self.check_matches([p + "/Case"], [p + "/case", p + "/CASE", p + "/Case"], [p + "/Case"])

    def test_v311_subscriber_wildcards(self):
        p = self.unique("w")
        self.check_matches([p + "/+/z", p + "/deep/#"],
                           [p + "/a/z", p + "/deep/1/2", p + "/a/y", p + "/deep"],
                           [p + "/a/z", p + "/deep/1/2", p + "/deep"], version=4)

    def test_dollar_topics_not_matched_by_leading_wildcards(self):
        p = self.unique("w")
        marker = self.unique("marker")
        hash_sub = self.client()
        plus_sub = self.client()
        sys_sub = self.client()
        self.assertEqual(hash_sub.subscribe("#", 1), [1])
        self.assertEqual(plus_sub.subscribe("+/" + p, 1), [1])
        self.assertEqual(plus_sub.subscribe(marker, 1), [1])
        # Clients may not publish to $SYS (test_security); another $-prefixed tree stands in for it.
        self.assertEqual(sys_sub.subscribe("$edge/#", 1), [1])
        self.assertEqual(sys_sub.subscribe("$" + p + "/+", 1), [1])
        self.assertEqual(sys_sub.subscribe(marker, 1), [1])
        pub = self.client()
        pub.publish("$edge/" + p, b"sys", qos=1)
        pub.publish("$" + p + "/x", b"dollar", qos=1)
        pub.publish(marker, b"end", qos=1)
        for name, sub in (("#", hash_sub), ("+/...", plus_sub)):
            got = [m.topic for m in sub.collect_until(marker)]
            self.assertFalse([t for t in got if t.startswith("$")], "%r matched a $-topic: %s" % (name, got))
        got = [m.topic for m in sys_sub.collect_until(marker)]
        self.assertEqual(got, ["$edge/" + p, "$" + p + "/x", marker], "explicit $ filters must match")
        hash_sub.close()

    def test_overlapping_subscriptions_delivered_once_at_highest_qos(self):
        p = self.unique("ov")
        marker = self.unique("marker")
        sub = self.client()
        # Markers go at QoS 2: paho hands a QoS 2 message to on_message only at PUBREL, so
        # a QoS 0/1 marker could overtake the QoS 2 messages published before it.
        self.assertEqual(sub.subscribe(marker, 2), [2])
        self.assertEqual(sub.subscribe(p + "/a/b", 0), [0])
        self.assertEqual(sub.subscribe(p + "/+/b", 2), [2])
        self.assertEqual(sub.subscribe(p + "/#", 1), [1])
        pub = self.client()
        pub.publish(p + "/a/b", b"q2", qos=2)
        pub.publish(p + "/a/b", b"q1", qos=1)
        pub.publish(p + "/a/c", b"only-hash", qos=2)
        pub.publish(marker, b"end", qos=2)
        got = sub.collect_until(marker)
        # order is only defined within one QoS level (see above): compare as a multiset
        self.assertEqual(sorted((m.topic, m.payload, m.qos) for m in got),
                         sorted([(p + "/a/b", b"q2", 2), (p + "/a/b", b"q1", 1), (p + "/a/c", b"only-hash", 1),
                                 (marker, b"end", 2)]))

    def test_overlapping_subscriptions_v311(self):
        p = self.unique("ov")
        marker = self.unique("marker")
        sub = self.client(version=4)
        sub.subscribe(p + "/#", 0)
        sub.subscribe(p + "/+", 1)
        sub.subscribe(p + "/x", 2)
        sub.subscribe(marker, 2)
        pub = self.client(version=4)
        pub.publish(p + "/x", b"one", qos=2)
        pub.publish(marker, b"end", qos=2)  # QoS 2 like the message: see the test above
        got = sub.collect_until(marker)
        self.assertEqual([(m.payload, m.qos) for m in got], [(b"one", 2), (b"end", 2)])

    def test_resubscribe_replaces_qos(self):
        t = self.unique("re")
        sub = self.client()
        self.assertEqual(sub.subscribe(t, 2), [2])
        self.assertEqual(sub.subscribe(t, 0), [0])
        pub = self.client()
        pub.publish(t, b"a", qos=2)
        m = sub.get()
        self.assertEqual((m.payload, m.qos), (b"a", 0))
        pub.publish(t, b"b", qos=1)
        self.assertEqual(sub.get().payload, b"b", "delivered once per publish, not once per SUBSCRIBE")

    def test_unsubscribe_stops_delivery(self):
        p = self.unique("un")
        sub = self.client()
        sub.subscribe(p + "/+", 1)
        sub.subscribe(p + "/marker", 1)
        pub = self.client()
        pub.publish(p + "/a", b"before", qos=1)
        self.assertEqual(sub.get().payload, b"before")
        sub.unsubscribe(p + "/+")
        pub.publish(p + "/a", b"after", qos=1)
        pub.publish(p + "/marker", b"end", qos=1)
        got = sub.collect_until(p + "/marker")
        self.assertEqual([m.payload for m in got], [b"end"])

    def test_unsuback_reason_codes_v5(self):
        p = self.unique("un")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(self.unique("unsub"))
        c.subscribe([(p + "/a", 0)])
        c.send(raw.unsubscribe(9, [p + "/a", p + "/never"]))
        ua = c.expect(raw.UNSUBACK)
        self.assertEqual(ua.packet_id, 9)
        self.assertEqual(ua.reasons, [0x00, 0x11], "success, then No subscription existed")

    def test_suback_for_multiple_filters_in_one_packet(self):
        p = self.unique("multi")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(self.unique("multi"))
        sa = c.subscribe([(p + "/0", 0), (p + "/1", 1), (p + "/2", 2), ("$share/g/" + p, 1)])
        self.assertEqual(sa.reasons, [0, 1, 2, 1])

    def test_shared_subscription_spreads_messages_over_members(self):
        t = self.unique("shared")
        members = []
        for i in range(2):
            m = self.track(raw.RawClient(self.host, self.port))
            ack = m.connect(self.unique("member%d" % i))
            self.assertNotEqual(ack.props.get(raw.P_SHARED_SUB_AVAILABLE), 0)
            self.assertEqual(m.subscribe([("$share/g/" + t, 0)]).reasons, [0])
            members.append(m)
        pub = self.track(raw.RawClient(self.host, self.port))
        pub.connect(self.unique("sharepub"))
        for i in range(10):
            pub.send(raw.publish(t, b"m%d" % i, qos=0))
        pub.ping()  # all ten were routed before the PINGRESP
        got = []
        for m in members:  # strict round robin over two connected members: five each
            got += [m.expect(raw.PUBLISH).payload for _ in range(5)]
        self.assertEqual(sorted(got), sorted(b"m%d" % i for i in range(10)), "each message once")


    def test_no_local_option(self):
        t = self.unique("nl")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(self.unique("nl"))
        c.subscribe([(t, 0x04 | 1), (t + "/marker", 0)])  # No Local, QoS 1
        c.publish(t, b"own", qos=1)
        other = self.client()
        other.publish(t, b"foreign", qos=1)
        other.publish(t + "/marker", b"end", qos=1)
        p1 = c.expect(raw.PUBLISH)
        self.assertEqual(p1.payload, b"foreign", "No Local: a client's own message must not come back")
        c.send(raw.ack(raw.PUBACK, p1.packet_id))
        self.assertEqual(c.expect(raw.PUBLISH).topic, t + "/marker")


class SharedSubscriptionsDisabledTest(DaemonTestCase):
    config = {"mqtt": {"shared_subscription_available": False}}

    def test_shared_subscription_not_supported(self):
        c = self.track(raw.RawClient(self.host, self.port))
        ack = c.connect(self.unique("share"))
        self.assertEqual(ack.props.get(raw.P_SHARED_SUB_AVAILABLE), 0, "CONNACK must announce no shared subscriptions")
        sa = c.subscribe([("$share/group/" + self.unique("s"), 1)])
        self.assertEqual(sa.reasons, [0x9E])
        c.ping()  # the connection survives


if __name__ == "__main__":
    unittest.main()
