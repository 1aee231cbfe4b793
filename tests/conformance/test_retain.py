"""MQTT 5.0 section 3.3.1.3 (RETAIN) and the retain subscription options.

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.3.1-5] If the RETAIN flag is set to 1 in a PUBLISH packet sent by a Client to a
    Server, the Server MUST replace any existing retained message for this topic and store
    the Application Message.
[MQTT-3.3.1-6] If the Payload contains zero bytes it is processed normally by the Server but
    any retained message with the same topic name MUST be removed and any future subscribers
    for the topic will not receive a retained message.
[MQTT-3.3.1-7] A retained message with a Payload containing zero bytes MUST NOT be stored as a
    retained message on the Server.
[MQTT-3.3.1-8] If the RETAIN flag is 0 in a PUBLISH packet sent by a Client to a Server, the
    Server MUST NOT store the message as a retained message and MUST NOT remove or replace any
    existing retained message.
[MQTT-3.3.1-9] If Retain Handling is set to 0 the Server MUST send the retained messages
    matching the Topic Filter of the subscription to the Client.
[MQTT-3.3.1-10] If Retain Handling is set to 1 then if the subscription did not already exist,
    the Server MUST send all retained message matching the Topic Filter of the subscription to
    the Client, and if the subscription did exist the Server MUST NOT send the retained messages.
[MQTT-3.3.1-11] If Retain Handling is set to 2, the Server MUST NOT send the retained messages.
[MQTT-3.3.1-12] If the value of Retain As Published subscription option is set to 0, the
    Server MUST set the RETAIN flag to 0 when forwarding an Application Message regardless of
    how the RETAIN flag was set in the received PUBLISH packet.
[MQTT-3.3.1-13] If the value of Retain As Published subscription option is set to 1, the
    Server MUST set the RETAIN flag equal to the RETAIN flag in the received PUBLISH packet.
[MQTT-3.8.4-4] If the Retain Handling option is 0, any existing retained messages matching the
    Topic Filter MUST be re-sent, but Application Messages MUST NOT be lost due to replacing
    the Subscription.
"""

import unittest

from _support import ConformanceCase, PUBLISH, SUBACK, raw

RH0, RH1, RH2 = 0x00, 0x10, 0x20
RAP = 0x08


class RetainTest(ConformanceCase):

    def retained_for(self, filt, options=1):
        """The retained messages a fresh subscription to `filt` receives (marker-delimited)."""
        c = self.conn()
        marker = self.topic("marker")
        c.subscribe([(marker, 0)])
        c.subscribe([(filt, options)])
        self.conn().publish(marker, b"marker", qos=1)
        got = c.publishes_until(b"marker")
        return [(p.topic, p.payload) for p in got], got

    def test_MQTT_3_3_1_5_retained_message_stored_and_replaced(self):
        t = self.topic("ret")
        pub = self.conn()
        pub.publish(t, b"first", qos=1, retain=True)
        self.assertEqual(self.retained_for(t)[0], [(t, b"first")])
        pub.publish(t, b"second", qos=0, retain=True)
        pub.publish(t + "/other", b"other", qos=1, retain=True)
        pairs, got = self.retained_for(t + "/#")
        self.assertCountEqual(pairs, [(t, b"second"), (t + "/other", b"other")])
        for p in got:
            self.assertTrue(p.retain)

    def test_MQTT_3_3_1_6_empty_payload_removes_retained_and_is_delivered(self):
        t = self.topic("clear")
        live = self.subscriber([(t, 1)])
        pub = self.conn()
        pub.publish(t, b"kept", qos=1, retain=True)
        self.assertEqual(live.expect(PUBLISH).payload, b"kept")
        pub.publish(t, b"", qos=1, retain=True)
        p = live.expect(PUBLISH)
        self.assertEqual((p.topic, p.payload), (t, b""), "the empty message is processed normally")
        live.ack(p)
        self.assertEqual(self.retained_for(t)[0], [], "the retained message was removed")

    def test_MQTT_3_3_1_7_empty_retained_message_not_stored(self):
        t = self.topic("empty")
        self.conn().publish(t, b"", qos=1, retain=True)  # nothing stored before either
        self.assertEqual(self.retained_for(t)[0], [])
        self.assertEqual(self.retained_for(t + "/#")[0], [])

    def test_MQTT_3_3_1_8_retain_0_neither_stores_nor_replaces(self):
        t = self.topic("r0")
        pub = self.conn()
        pub.publish(t + "/a", b"not retained", qos=1)
        self.assertEqual(self.retained_for(t + "/a")[0], [])
        pub.publish(t + "/b", b"retained", qos=1, retain=True)
        pub.publish(t + "/b", b"newer, not retained", qos=1)
        pub.publish(t + "/b", b"", qos=1)  # an empty payload without RETAIN removes nothing
        self.assertEqual(self.retained_for(t + "/b")[0], [(t + "/b", b"retained")])

    def test_MQTT_3_3_1_9_retain_handling_0_sends_retained(self):
        t = self.topic("rh0")
        pub = self.conn()
        pub.publish(t + "/1", b"one", qos=1, retain=True)
        pub.publish(t + "/2", b"two", qos=1, retain=True)
        c = self.conn()
        c.send(raw.subscribe(3, [(t + "/+", 1 | RH0)]))
        self.assertEqual(c.expect(SUBACK).reasons, [1])
        got = [c.expect(PUBLISH) for _ in range(2)]
        self.assertCountEqual([(p.topic, p.payload, p.retain) for p in got],
                              [(t + "/1", b"one", True), (t + "/2", b"two", True)])

    def test_MQTT_3_3_1_10_retain_handling_1_only_for_new_subscriptions(self):
        t = self.topic("rh1")
        self.conn().publish(t, b"retained", qos=1, retain=True)
        c = self.conn()
        c.subscribe([(t, 1 | RH1)])
        p = c.expect(PUBLISH)
        self.assertEqual((p.payload, p.retain), (b"retained", True), "new subscription: retained sent")
        c.ack(p)
        c.subscribe([(t, 0 | RH1)])  # the subscription exists: replaced, no retained message
        marker = self.topic("m")
        c.subscribe([(marker, 0)])
        self.conn().publish(marker, b"marker", qos=1)
        self.assertNoPublish(c.until_payload(b"marker"), "retained message re-sent for an existing subscription")

    def test_MQTT_3_3_1_11_retain_handling_2_sends_nothing(self):
        t = self.topic("rh2")
        self.conn().publish(t, b"retained", qos=1, retain=True)
        pairs, _ = self.retained_for(t, 1 | RH2)
        self.assertEqual(pairs, [])

    def test_MQTT_3_3_1_12_retain_as_published_0_clears_retain(self):
        t = self.topic("rap0")
        sub = self.subscriber([(t, 1)])
        self.conn().publish(t, b"published retained", qos=1, retain=True)
        p = sub.expect(PUBLISH)
        self.assertEqual((p.payload, p.retain), (b"published retained", False))

    def test_MQTT_3_3_1_13_retain_as_published_1_keeps_the_flag(self):
        t = self.topic("rap1")
        sub = self.subscriber([(t, 1 | RAP)])
        pub = self.conn()
        pub.publish(t, b"retained", qos=1, retain=True)
        pub.publish(t, b"plain", qos=1)
        got = [sub.expect(PUBLISH) for _ in range(2)]
        self.assertEqual([(p.payload, p.retain) for p in got], [(b"retained", True), (b"plain", False)])

    def test_MQTT_3_8_4_4_replaced_subscription_resends_retained_and_loses_nothing(self):
        t = self.topic("replace")
        pub = self.conn()
        pub.publish(t + "/r", b"retained", qos=1, retain=True)
        c = self.conn()
        c.subscribe([(t + "/#", 1)])
        p = c.expect(PUBLISH)
        self.assertEqual((p.payload, p.retain), (b"retained", True))
        c.ack(p)
        pub.publish(t + "/live", b"before", qos=1)
        c.send(raw.subscribe(9, [(t + "/#", 1 | RH0)]))
        # Wait for the SUBACK before publishing more: until then the replacement may not have been
        # processed, and the marker could overtake the re-sent retained message.
        got = []
        while not got or got[-1].type != SUBACK:
            p = c.recv()
            if p.type == PUBLISH:
                c.ack(p)
            got.append(p)
        pub.publish(t + "/live", b"after", qos=1)
        pub.publish(t + "/live", b"marker", qos=1)
        got += c.until_payload(b"marker")
        pubs = [(p.payload, p.retain) for p in got if p.type == PUBLISH]
        self.assertIn((b"retained", True), pubs, "retained message re-sent on the replacing subscription")
        self.assertEqual([x for x in pubs if x[0] != b"retained"], [(b"before", False), (b"after", False)],
                         "messages were lost or duplicated by the replacement")
        self.assertEqual(pubs.count((b"retained", True)), 1)
        self.assertIn(SUBACK, [p.type for p in got])


if __name__ == "__main__":
    unittest.main()
