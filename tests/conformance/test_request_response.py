"""MQTT 5.0 sections 3.1.2.11.6 / 3.2.2.3.15 and 4.10: Request Response Information and
Response Information.

BEING IMPLEMENTED: the broker is gaining Response Information (returned in CONNACK when the
client sets Request Response Information to 1). ``test_response_information_when_requested``
fails until it lands (returning it is a MAY in the standard; edgemq's design is to return it).

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.1.2-28] A value of 0 [of Request Response Information] indicates that the Server MUST
    NOT return Response Information. (Checked here against a server that does return it
    when asked.)
"""

import unittest

from _support import (ConformanceCase, PUBLISH, P_REQUEST_RESPONSE_INFO, P_RESPONSE_INFO, P_RESPONSE_TOPIC,
                      P_CORRELATION_DATA, P_ASSIGNED_CLIENT_ID)


class RequestResponseTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300}}

    def test_response_information_when_requested(self):
        _, ack = self.connected(properties=[(P_REQUEST_RESPONSE_INFO, 1)])
        info = ack.props.get(P_RESPONSE_INFO)
        self.assertTrue(info, "no Response Information in CONNACK: %r" % ack.props)
        self.assertNotIn("+", info)
        self.assertNotIn("#", info)

    def test_response_information_distinct_per_client(self):
        infos = set()
        for _ in range(3):
            _, ack = self.connected(properties=[(P_REQUEST_RESPONSE_INFO, 1)])
            infos.add(ack.props.get(P_RESPONSE_INFO))
        self.assertNotIn(None, infos)
        self.assertEqual(len(infos), 3, infos)

    def test_MQTT_3_1_2_28_no_response_information_unless_requested(self):
        for label, props in (("absent", None), ("0", [(P_REQUEST_RESPONSE_INFO, 0)])):
            with self.subTest("Request Response Information " + label):
                _, ack = self.connected(properties=props)
                self.assertNotIn(P_RESPONSE_INFO, ack.props)
        with self.subTest("empty client id, assigned identifier but no Response Information"):
            _, ack = self.connected("", properties=[(P_REQUEST_RESPONSE_INFO, 0)])
            self.assertIn(P_ASSIGNED_CLIENT_ID, ack.props)
            self.assertNotIn(P_RESPONSE_INFO, ack.props)

    def test_request_response_round_trip_through_response_information(self):
        responder, ack = self.connected(properties=[(P_REQUEST_RESPONSE_INFO, 1)])
        requester, rack = self.connected(properties=[(P_REQUEST_RESPONSE_INFO, 1)])
        self.assertIn(P_RESPONSE_INFO, rack.props)
        reply_to = rack.props[P_RESPONSE_INFO] + "/reply"
        service = self.topic("service")
        responder.subscribe([(service, 1)])
        requester.subscribe([(reply_to, 1)])
        requester.publish(service, b"request", qos=1, properties=[(P_RESPONSE_TOPIC, reply_to),
                                                                  (P_CORRELATION_DATA, b"42")])
        req = responder.expect(PUBLISH)
        responder.ack(req)
        responder.publish(req.props[P_RESPONSE_TOPIC], b"response", qos=1,
                          properties=[(P_CORRELATION_DATA, req.props[P_CORRELATION_DATA])])
        resp = requester.expect(PUBLISH)
        self.assertEqual((resp.payload, resp.props.get(P_CORRELATION_DATA)), (b"response", b"42"))


if __name__ == "__main__":
    unittest.main()
