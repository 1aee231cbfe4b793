"""MQTT 5.0 section 4.7: Topic Names and Topic Filters.

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-4.7.0-1] The wildcard characters can be used in Topic Filters, but MUST NOT be used
    within a Topic Name.
[MQTT-4.7.1-1] The multi-level wildcard character MUST be specified either on its own or
    following a topic level separator. In either case it MUST be the last character specified
    in the Topic Filter.
[MQTT-4.7.1-2] The single-level wildcard can be used at any level in the Topic Filter,
    including first and last levels. Where it is used, it MUST occupy an entire level of the filter.
[MQTT-4.7.2-1] The Server MUST NOT match Topic Filters starting with a wildcard character
    (# or +) with Topic Names beginning with a $ character.
[MQTT-4.7.3-1] All Topic Names and Topic Filters MUST be at least one character long.
[MQTT-4.7.3-2] Topic Names and Topic Filters MUST NOT include the null character (Unicode U+0000).
[MQTT-4.7.3-4] When it performs subscription matching the Server MUST NOT perform any
    normalization of Topic Names or Topic Filters, or any modification or substitution of
    unrecognized characters.
"""

import unittest

from _support import ConformanceCase, CONNACK, PUBLISH, SUBACK, raw, connect_packet, publish_packet, utf8_raw


class TopicTest(ConformanceCase):

    def deliveries(self, filters, names):
        """Which of `names` a subscription to `filters` receives (each published once, QoS 1)."""
        c = self.conn()
        marker = "marker/" + self.topic("m")
        c.subscribe([(f, 0) for f in filters] + [(marker, 0)])
        pub = self.conn()
        for n in names:
            pub.publish(n, n.encode(), qos=1)
        pub.publish(marker, b"marker", qos=1)
        return [p.topic for p in c.publishes_until(b"marker")]

    def test_MQTT_4_7_0_1_no_wildcards_in_topic_names(self):
        for name in ("w/+", "w/#"):
            with self.subTest("Will Topic " + name):
                c = self.client()
                c.send(connect_packet(flags=0x06, payload=raw.utf8(self.unique("w")) + b"\x00" + raw.utf8(name) +
                                      raw.binary(b"x")))
                self.assertRefused(c, {0x90, 0x81, 0x82})
            with self.subTest("PUBLISH " + name):
                c = self.conn()
                c.send(raw.publish(name, b"x", 1, 1))
                self.assertDisconnected(c, 0x90)
        with self.subTest("wildcards are fine in filters"):
            c = self.conn()
            self.assertEqual(c.subscribe([("w/+", 0), ("w/#", 1)]).reasons, [0, 1])

    def assert_filter_refused(self, bad):
        """A SUBSCRIBE with an invalid filter ends the connection, with a failure SUBACK or a
        DISCONNECT naming a filter/malformed/protocol error."""
        c = self.conn()
        c.send(raw.subscribe(1, [(bad, 0)]))
        got = self.assertClosed(c)
        self.assertTrue(got and got[-1].type in (raw.DISCONNECT, SUBACK), got)
        if got[-1].type == SUBACK:
            self.assertGreaterEqual(got[-1].reasons[0], 0x80)
        else:
            self.assertIn(got[-1].reason, (0x8F, 0x81, 0x82))

    def test_MQTT_4_7_1_1_multi_level_wildcard_rules(self):
        for bad in ("a/#/b", "a#", "#a", "a/b#", "##", "a/#/"):
            with self.subTest(invalid=bad):
                self.assert_filter_refused(bad)
        t = self.topic("mlw")
        with self.subTest("valid: on its own or after a separator, matching the parent level too"):
            got = self.deliveries([t + "/#"], [t, t + "/a", t + "/a/b/c", t + "x/a"])
            self.assertEqual(got, [t, t + "/a", t + "/a/b/c"])

    def test_MQTT_4_7_1_2_single_level_wildcard_rules(self):
        for bad in ("a+", "+a", "a/b+/c", "a/+b", "++"):
            with self.subTest(invalid=bad):
                self.assert_filter_refused(bad)
        t = self.topic("slw")
        with self.subTest("valid at the first, middle and last levels, matching exactly one level"):
            got = self.deliveries(["+/" + t + "/+/end", "+/" + t + "/+"],
                                  ["x/" + t + "/y/end", "x/" + t + "/y", "x/" + t + "/y/z/end", "x/" + t + "//end",
                                   "x/" + t])
            self.assertEqual(got, ["x/" + t + "/y/end", "x/" + t + "/y", "x/" + t + "//end"])

    def test_MQTT_4_7_2_1_wildcards_do_not_match_dollar_topics(self):
        t = self.topic("dollar")
        names = ["$" + t + "/a", "$" + t + "/b/c"]
        # The server SHOULD (not MUST) keep clients from exchanging $ topics: first make sure
        # this one lets them through to an explicit $ filter, or there is nothing to check.
        if self.deliveries(["$" + t + "/#"], names) != names:
            self.skipTest("the server does not deliver client-published $ topics")
        got = self.deliveries(["#", "+/a", "+/b/#", "+/+/c"], names)
        self.assertEqual([n for n in got if n.startswith("$")], [], "a leading wildcard matched a $ topic")
        with self.subTest("a wildcard after a $ level matches"):
            self.assertEqual(self.deliveries(["$" + t + "/+", "$" + t + "/b/+"], names), names)

    def test_MQTT_4_7_3_1_at_least_one_character(self):
        with self.subTest("empty Topic Filter"):
            c = self.conn()
            c.send(raw.subscribe(1, [("", 0)]))
            got = self.assertClosed(c)
            self.assertTrue(got and (got[-1].type == raw.DISCONNECT and got[-1].reason in (0x8F, 0x82) or
                                     got[-1].type == SUBACK and got[-1].reasons[0] >= 0x80), got)
        with self.subTest("empty Topic Name without a Topic Alias"):
            c = self.conn()
            c.send(raw.publish("", b"x", 1, 1))
            self.assertDisconnected(c, {0x82, 0x90})
        with self.subTest("empty UNSUBSCRIBE filter"):
            c = self.conn()
            c.send(raw.unsubscribe(1, [""]))
            self.assertDisconnected(c, {0x8F, 0x82})
        with self.subTest("empty Will Topic"):
            c = self.client()
            c.send(connect_packet(flags=0x06, payload=raw.utf8(self.unique("w")) + b"\x00" + raw.utf8("") +
                                  raw.binary(b"x")))
            got = self.assertRefused(c, {0x82, 0x90, 0x81})
            self.assertEqual(len(got), 1)

    def test_MQTT_4_7_3_2_no_null_character(self):
        with self.subTest("Topic Name"):
            c = self.conn()
            c.send(publish_packet(utf8_raw(b"t/\x00"), b"x"))
            self.assertDisconnected(c, 0x81)
        with self.subTest("Topic Filter"):
            c = self.conn()
            c.send(raw.fixed(raw.SUBSCRIBE, 2, b"\x00\x01\x00" + utf8_raw(b"t/\x00/#") + b"\x00"))
            self.assertDisconnected(c, 0x81)
        with self.subTest("Will Topic"):
            c = self.client()
            c.send(connect_packet(flags=0x06, payload=raw.utf8(self.unique("w")) + b"\x00" + utf8_raw(b"w\x00") +
                                  raw.binary(b"x")))
            self.assertRefused(c, {0x81})

    def test_MQTT_4_7_3_4_no_normalization(self):
        t = self.topic("norm")
        nfc = t + "/caf\u00e9"       # é as one code point
        nfd = t + "/cafe\u0301"      # e + combining acute accent
        variants = [nfc, nfd, t + "/CAFE", t + "/cafe", t + "/cafe/", t + "//cafe", t.upper() + "/cafe"]
        for exact in (nfc, nfd, t + "/cafe"):
            with self.subTest(filter=exact):
                self.assertEqual(self.deliveries([exact], variants), [exact])
        with self.subTest("unrecognized characters are passed through unchanged"):
            odd = t + "/\ufffd/\U0001F600/\u200b"
            got = self.deliveries([t + "/+/+/+"], [odd])
            self.assertEqual(got, [odd])


if __name__ == "__main__":
    unittest.main()
