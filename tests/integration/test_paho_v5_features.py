"""MQTT 5 features as a real client library (paho-mqtt 1.6.1, MQTTv5) uses them against the
real daemon: request/response properties, user properties, message expiry, subscription
identifiers, subscription options, shared subscriptions, will delay, response information."""

import threading
import unittest

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from support.edgemq_harness import DaemonTestCase
from support.paho_helper import PahoClient, TIMEOUT


def props(kind=PacketTypes.PUBLISH, **kw):
    p = Properties(kind)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


class PahoV5FeaturesTest(DaemonTestCase):
    def client(self, **kw):
        c = self.track(PahoClient(self.host, self.port, version=5, **kw))
        c.connect()
        return c

    def publish(self, c, topic, payload, qos=1, retain=False, properties=None):
        c.publish(topic, payload, qos, retain, properties=properties)

    def test_request_response_properties_and_user_properties_pass_through(self):
        t = self.unique("req")
        responder = self.client()
        responder.subscribe(t, 1)
        requester = self.client()
        requester.subscribe(t + "/reply", 1)
        p = props(ResponseTopic=t + "/reply", CorrelationData=b"\x00\x01corr", ContentType="application/json",
                  PayloadFormatIndicator=1)
        p.UserProperty = [("b", "2"), ("a", "1"), ("b", "3")]
        self.publish(requester, t, b'{"q": 1}', properties=p)
        req = responder.get()
        self.assertEqual(req.properties.ResponseTopic, t + "/reply")
        self.assertEqual(req.properties.CorrelationData, b"\x00\x01corr")
        self.assertEqual(req.properties.ContentType, "application/json")
        self.assertEqual(req.properties.UserProperty, [("b", "2"), ("a", "1"), ("b", "3")], "order kept")
        self.publish(responder, req.properties.ResponseTopic, b"answer",
                     properties=props(CorrelationData=req.properties.CorrelationData))
        rep = requester.get()
        self.assertEqual((rep.payload, rep.properties.CorrelationData), (b"answer", b"\x00\x01corr"))

    def test_message_expiry_is_forwarded_and_decremented(self):
        t = self.unique("exp")
        pub = self.client()
        self.publish(pub, t, b"kept", retain=True, properties=props(MessageExpiryInterval=120))
        sub = self.client()
        sub.subscribe(t, 1)
        m = sub.get()
        self.assertTrue(m.retain)
        self.assertTrue(0 < m.properties.MessageExpiryInterval <= 120, m.properties.MessageExpiryInterval)

    def test_subscription_identifiers_on_overlapping_subscriptions(self):
        t = self.unique("sid")
        sub = self.client()
        for filt, sid in ((t + "/+", 11), (t + "/#", 22)):
            done = threading.Event()
            sub.client.on_subscribe = lambda *a, **k: done.set()
            sub.client.subscribe(filt, options=mqtt.SubscribeOptions(qos=1),
                                 properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=sid))
            self.assertTrue(done.wait(TIMEOUT))
        pub = self.client()
        self.publish(pub, t + "/x", b"once")
        m = sub.get()
        self.assertEqual(sorted(m.properties.SubscriptionIdentifier), [11, 22])
        self.assertEqual(sub.drain(), [], "delivered once for both subscriptions")

    def test_no_local_and_retain_handling(self):
        t = self.unique("opts")
        c = self.client()
        self.publish(c, t + "/r", b"retained", retain=True)
        done = threading.Event()
        c.client.on_subscribe = lambda *a, **k: done.set()
        c.client.subscribe(t + "/#", options=mqtt.SubscribeOptions(qos=1, noLocal=True, retainHandling=2))
        self.assertTrue(done.wait(TIMEOUT))
        other = self.client()
        self.publish(c, t + "/mine", b"not for me")
        self.publish(other, t + "/theirs", b"for me")
        m = c.get()
        self.assertEqual((m.topic, m.payload), (t + "/theirs", b"for me"))

    def test_shared_subscription_delivers_each_message_to_one_member(self):
        t = self.unique("share")
        a, b = self.client(), self.client()
        for c in (a, b):
            self.assertEqual(c.subscribe("$share/workers/" + t, 1), [1])
        pub = self.client()
        for i in range(6):
            self.publish(pub, t, b"job%d" % i)
        got = [a.get().payload for _ in range(3)] + [b.get().payload for _ in range(3)]
        self.assertEqual(sorted(got), sorted(b"job%d" % i for i in range(6)))

    def test_will_delay_cancelled_by_reconnect(self):
        t = self.unique("wd")
        watcher = self.client()
        watcher.subscribe(t + "/#", 1)

        def with_will(name):
            c = PahoClient(self.host, self.port, client_id=self.unique(name), version=5, clean=False,
                           session_expiry=300)
            c.client.will_set(t + "/" + name, b"delayed", 1,
                              properties=props(PacketTypes.WILLMESSAGE, WillDelayInterval=1))
            self.track(c)
            c.connect()
            return c

        comes_back = with_will("back")
        comes_back.drop()
        again = self.client(client_id=comes_back.client_id, clean=False, session_expiry=300)
        self.assertTrue(again.session_present)
        control = with_will("control")  # same delay, dropped later: its will marks the deadline
        control.drop()
        got = watcher.collect_until(t + "/control", timeout=TIMEOUT)
        self.assertEqual([m.topic for m in got], [t + "/control"], "the reconnected client's will is cancelled")

    def test_response_information_on_request(self):
        c = self.track(PahoClient(self.host, self.port, version=5))
        p = props(PacketTypes.CONNECT, RequestResponseInformation=1)
        got = {}
        ev = threading.Event()

        def on_connect(client, userdata, flags, rc, properties=None):
            got["props"] = properties
            ev.set()

        c.client.on_connect = on_connect
        c.client.connect(self.host, self.port, 30, properties=p)
        c.client.loop_start()
        self.assertTrue(ev.wait(TIMEOUT))
        self.assertEqual(got["props"].ResponseInformation, "response/" + c.client_id)


if __name__ == "__main__":
    unittest.main()
