"""MQTT 5.0 section 3.1.2.5 - 3.1.2.7 and 3.1.3.2 - 3.1.3.4: the Will Message (without a
Will Delay Interval; the delay is in test_will_delay.py).

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.1.2-7] If the Will Flag is set to 1 this indicates that a Will Message MUST be stored
    on the Server and associated with the Session.
[MQTT-3.1.2-8] The Will Message MUST be published after the Network Connection is
    subsequently closed and either the Will Delay Interval has elapsed or the Session ends,
    unless the Will Message has been deleted by the Server on receipt of a DISCONNECT packet
    with Reason Code 0x00 (Normal disconnection) or a new Network Connection for the ClientID
    is opened before the Will Delay Interval has elapsed.
[MQTT-3.1.2-10] The Will Message MUST be removed from the stored Session State in the Server
    once it has been published or the Server has received a DISCONNECT packet with a Reason
    Code of 0x00 (Normal disconnection) from the Client.
[MQTT-3.1.2-14] If the Will Flag is set to 1 and Will Retain is set to 0, the Server MUST
    publish the Will Message as a non-retained message.
[MQTT-3.1.2-15] If the Will Flag is set to 1 and Will Retain is set to 1, the Server MUST
    publish the Will Message as a retained message.
[MQTT-3.1.3-10] The Server MUST maintain the order of User Properties when publishing the Will Message.
"""

import unittest

from _support import (ConformanceCase, PUBLISH, P_SESSION_EXPIRY, P_USER_PROPERTY, P_CONTENT_TYPE,
                      P_RESPONSE_TOPIC, P_CORRELATION_DATA, P_PAYLOAD_FORMAT, raw)

RAP = 0x08


class WillTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300}}

    def test_MQTT_3_1_2_7_will_stored_with_the_session(self):
        wt = self.topic("stored")
        watcher = self.subscriber([(wt, 1)])
        c = self.conn(will={"topic": wt, "payload": b"stored will", "qos": 1})
        # The will is kept while the connection lives (nothing published yet) ...
        self.conn().publish(wt, b"marker", qos=1)
        self.assertNoPublish(watcher.until_payload(b"marker"))
        # ... and is there to be published when the connection ends abnormally.
        c.close()
        p = watcher.expect(PUBLISH)
        self.assertEqual((p.topic, p.payload, p.qos), (wt, b"stored will", 1))

    def test_MQTT_3_1_2_8_will_published_on_abnormal_close_only(self):
        wt = self.topic("pub")
        watcher = self.subscriber([(wt + "/#", 2)])
        cases = (("socket closed", "close", True), ("protocol error", "error", True),
                 ("DISCONNECT 0x04", "0x04", True), ("DISCONNECT 0x00", "0x00", False))
        for label, how, published in cases:
            with self.subTest(label):
                payload = ("will " + label).encode()
                c = self.conn(will={"topic": wt + "/" + how, "payload": payload, "qos": 2})
                if how == "close":
                    c.close()
                elif how == "error":
                    c.send(b"\xc1\x00")
                    self.assertDisconnected(c, 0x81)
                elif how == "0x04":
                    c.disconnect(0x04)
                else:
                    c.disconnect(0x00)
                got = []
                if published:
                    # The server may handle the closed connection after a marker published by
                    # another client (no order between connections): wait for the will itself,
                    # then check with the marker that nothing else (a second will) follows.
                    p = self.expectPacket(watcher, PUBLISH, msg="will not published")
                    watcher.ack(p)
                    got.append(p.payload)
                self.conn().publish(wt + "/" + how, b"marker " + payload, qos=2)
                got += [p.payload for p in watcher.publishes_until(b"marker " + payload)]
                self.assertEqual(got, [payload] if published else [])
        with self.subTest("session taken over"):
            cid = self.unique("take")
            self.conn(cid, will={"topic": wt + "/take", "payload": b"taken over", "qos": 1})
            self.conn(cid)
            self.assertEqual(watcher.expect(PUBLISH).payload, b"taken over")
        with self.subTest("keep alive expired"):
            self.conn(keepalive=1, will={"topic": wt + "/ka", "payload": b"keep alive", "qos": 1})
            self.assertEqual(watcher.expect(PUBLISH, timeout=4.0).payload, b"keep alive")

    def test_MQTT_3_1_2_10_will_removed_once_published(self):
        cid = self.unique("once")
        wt = self.topic("once")
        watcher = self.subscriber([(wt, 1)])
        c = self.conn(cid, will={"topic": wt, "payload": b"only once", "qos": 1},
                      properties=[(P_SESSION_EXPIRY, 60)])
        c.close()
        self.assertEqual(watcher.expect(PUBLISH).payload, b"only once")
        # The session lives on; its will is gone: a second abnormal close publishes nothing.
        again, ack = self.connected(cid, clean=False, properties=[(P_SESSION_EXPIRY, 60)])
        self.assertTrue(ack.session_present)
        again.close()
        cid2 = self.unique("normal")
        with self.subTest("removed on DISCONNECT 0x00"):
            d = self.conn(cid2, will={"topic": wt, "payload": b"discarded", "qos": 1},
                          properties=[(P_SESSION_EXPIRY, 60)])
            d.disconnect(0x00)
            again2, ack = self.connected(cid2, clean=False, properties=[(P_SESSION_EXPIRY, 60)])
            self.assertTrue(ack.session_present)
            again2.close()
        self.conn().publish(wt, b"marker", qos=1)
        self.assertNoPublish(watcher.until_payload(b"marker"), "a will published twice or after DISCONNECT 0x00")

    def test_MQTT_3_1_2_14_will_retain_0_is_not_retained(self):
        wt = self.topic("nr")
        watcher = self.subscriber([(wt, 1 | RAP)])
        c = self.conn(will={"topic": wt, "payload": b"not retained", "qos": 1, "retain": False})
        c.close()
        p = watcher.expect(PUBLISH)
        self.assertEqual((p.payload, p.retain), (b"not retained", False))
        late = self.conn()
        late.subscribe([(wt, 1)])
        self.conn().publish(wt, b"first", qos=1)
        self.assertEqual(late.expect(PUBLISH).payload, b"first", "the will was retained")

    def test_MQTT_3_1_2_15_will_retain_1_is_retained(self):
        wt = self.topic("r")
        watcher = self.subscriber([(wt, 1 | RAP)])
        c = self.conn(will={"topic": wt, "payload": b"retained will", "qos": 1, "retain": True})
        c.close()
        p = watcher.expect(PUBLISH)
        self.assertEqual((p.payload, p.retain), (b"retained will", True), "published with RETAIN 1")
        late = self.conn()
        late.subscribe([(wt, 1)])
        p = late.expect(PUBLISH)
        self.assertEqual((p.payload, p.retain), (b"retained will", True), "stored as the retained message")

    def test_MQTT_3_1_3_10_will_user_property_order(self):
        wt = self.topic("props")
        watcher = self.subscriber([(wt, 1)])
        user = [("z", "1"), ("a", "2"), ("z", "0"), ("", "empty name"), ("a", "1")]
        will_props = [(P_USER_PROPERTY, kv) for kv in user] + [
            (P_CONTENT_TYPE, "text/plain"), (P_RESPONSE_TOPIC, "resp/" + wt), (P_CORRELATION_DATA, b"\x00c"),
            (P_PAYLOAD_FORMAT, 1)]
        c = self.conn(will={"topic": wt, "payload": b"with properties", "qos": 1, "properties": will_props})
        c.close()
        p = watcher.expect(PUBLISH)
        self.assertEqual(p.props.get(P_USER_PROPERTY), user)
        self.assertEqual((p.props.get(P_CONTENT_TYPE), p.props.get(P_RESPONSE_TOPIC), p.props.get(P_CORRELATION_DATA),
                          p.props.get(P_PAYLOAD_FORMAT)), ("text/plain", "resp/" + wt, b"\x00c", 1))


if __name__ == "__main__":
    unittest.main()
