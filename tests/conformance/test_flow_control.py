"""MQTT 5.0 sections 3.3.4 (Receive Maximum, Server side) and 4.9 (Flow Control).

The client announces a small Receive Maximum; the server must hold back further QoS 1/2
PUBLISH packets until acknowledgements arrive, while still answering everything else.
A PINGREQ/PINGRESP round trip on the subscriber's connection (``sync``) shows what the
server had sent by then; a second, unlimited subscriber proves that all the messages had
been routed before that.

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.3.4-9] The Server MUST NOT send more than Receive Maximum QoS 1 and QoS 2 PUBLISH
    packets for which it has not received PUBACK, PUBCOMP, or PUBREC with a Reason Code of 128
    or greater from the Client.
[MQTT-3.3.4-10] The Server MUST NOT delay the sending of any packets other than PUBLISH packets
    due to having sent Receive Maximum PUBLISH packets without receiving acknowledgements for them.
[MQTT-4.9.0-1] The Client or Server MUST set its initial send quota to a non-zero value not
    exceeding the Receive Maximum.
[MQTT-4.9.0-2] Each time the Client or Server sends a PUBLISH packet at QoS > 0, it decrements
    the send quota. If the send quota reaches zero, the Client or Server MUST NOT send any more
    PUBLISH packets with QoS > 0.
[MQTT-4.9.0-3] The Client and Server MUST continue to process and respond to all other MQTT
    Control Packets even if the quota is zero.
"""

import unittest

from _support import (ConformanceCase, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, P_RECEIVE_MAXIMUM,
                      raw)


class FlowControlTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300}}

    def limited(self, receive_maximum, topic, qos=2):
        """A subscriber with Receive Maximum `receive_maximum`, plus an unlimited witness."""
        sub = self.conn(properties=[(P_RECEIVE_MAXIMUM, receive_maximum)])
        sub.subscribe([(topic, qos)])
        witness = self.subscriber([(topic, 0)])
        return sub, witness

    def publish_all(self, witness, topic, payloads, qos=1):
        pub = self.conn()
        for payload in payloads:
            pub.publish(topic, payload, qos=qos)
        # Every message has been routed to both subscribers once the witness has the last one.
        self.assertEqual([p.payload for p in witness.until_payload(payloads[-1])], list(payloads[:-1]))
        return pub

    def test_MQTT_3_3_4_9_no_more_unacknowledged_than_receive_maximum(self):
        rm = 3
        t = self.topic("rm")
        sub, witness = self.limited(rm, t)
        payloads = [b"m%d" % i for i in range(8)] + [b"last"]
        self.publish_all(witness, t, payloads, qos=2)
        unacked = {}    # packet id -> PUBLISH not yet PUBCOMPed (or refused)
        received = []
        step = 0
        while len(received) < len(payloads):
            new = [p for p in sub.sync() if p.type == PUBLISH]
            self.assertTrue(new or unacked, "nothing in flight and nothing sent: delivery stalled")
            for p in new:
                unacked[p.packet_id] = p
                received.append(p.payload)
            self.assertLessEqual(len(unacked), rm, "unacknowledged QoS 2 PUBLISH packets: %s"
                                 % sorted(p.payload for p in unacked.values()))
            if not unacked:
                continue
            oldest = min(unacked.values(), key=lambda p: received.index(p.payload))
            step += 1
            if step % 3 == 0:
                # PUBREC with a Reason Code of 0x80 or more ends the flow
                sub.send(raw.ack(PUBREC, oldest.packet_id, reason=0x80))
                del unacked[oldest.packet_id]
                continue
            sub.send(raw.ack(PUBREC, oldest.packet_id))
            rel = sub.expect(PUBREL)
            # A PUBREC below 0x80 does not end the flow: still counted until the PUBCOMP.
            for p in sub.sync():
                self.assertEqual(p.type, PUBLISH, p)
                unacked[p.packet_id] = p
                received.append(p.payload)
            self.assertLessEqual(len(unacked), rm, "more than Receive Maximum in flight after a PUBREC")
            sub.send(raw.ack(PUBCOMP, rel.packet_id))
            del unacked[rel.packet_id]
        self.assertEqual(received, payloads, "in order, none lost")

    def test_MQTT_3_3_4_10_other_packets_not_delayed(self):
        t = self.topic("other")
        sub, witness = self.limited(1, t, qos=1)
        self.publish_all(witness, t, [b"a", b"b", b"c"])
        first = sub.expect(PUBLISH)
        # Quota exhausted: SUBSCRIBE, UNSUBSCRIBE, PINGREQ, and the client's own PUBLISH
        # (PUBACK / PUBREC / PUBCOMP) are all answered at once.
        sub.send(raw.subscribe(100, [(t + "/other", 0)]))
        self.assertEqual(sub.expect(SUBACK).packet_id, 100)
        sub.send(raw.unsubscribe(101, [t + "/other"]))
        self.assertEqual(sub.expect(UNSUBACK).packet_id, 101)
        sub.send(raw.publish(t + "/nobody", b"x", 1, 102))
        self.assertEqual(sub.expect(PUBACK).packet_id, 102)
        sub.send(raw.publish(t + "/nobody", b"x", 2, 103))
        self.assertEqual(sub.expect(PUBREC).packet_id, 103)
        sub.send(raw.ack(PUBREL, 103))
        self.assertEqual(sub.expect(PUBCOMP).packet_id, 103)
        self.assertEqual(sub.sync(), [], "no further QoS 1 PUBLISH while the quota is zero")
        sub.ack(first)
        self.assertEqual(sub.expect(PUBLISH).payload, b"b")

    def test_MQTT_4_9_0_1_initial_quota_non_zero_and_within_receive_maximum(self):
        for rm in (1, 2, 5):
            with self.subTest(receive_maximum=rm):
                t = self.topic("init")
                sub, witness = self.limited(rm, t, qos=1)
                payloads = [b"%d" % i for i in range(rm + 3)]
                self.publish_all(witness, t, payloads)
                got = [p for p in sub.sync() if p.type == PUBLISH]
                self.assertGreater(len(got), 0, "initial send quota is zero: nothing sent before any PUBACK")
                self.assertLessEqual(len(got), rm, "initial send quota above Receive Maximum %d" % rm)

    def test_MQTT_4_9_0_2_zero_quota_stops_qos_1_and_2(self):
        rm = 2
        t = self.topic("zero")
        sub, witness = self.limited(rm, t, qos=2)
        pub = self.publish_all(witness, t, [b"q1-a", b"q1-b", b"q1-c"], qos=1)
        self.publish_all(witness, t, [b"q2-d", b"q2-e"], qos=2)
        pub.publish(t, b"q0-f", qos=0)
        pub.sync()  # the QoS 0 message has been routed (no acknowledgement tells us otherwise)
        outstanding = []
        received = []
        while len(received) < 6:
            for p in sub.sync():
                self.assertEqual(p.type, PUBLISH)
                received.append(p.payload)
                if p.qos:
                    outstanding.append(p)
            self.assertLessEqual(len(outstanding), rm, "QoS > 0 PUBLISH sent with the send quota at zero: %s"
                                 % [p.payload for p in outstanding])
            if len(received) < 6:
                self.assertTrue(outstanding, "delivery stalled with quota left")
                sub.ack(outstanding.pop(0))  # PUBACK, or PUBREC/PUBREL/PUBCOMP
        self.assertEqual(received, [b"q1-a", b"q1-b", b"q1-c", b"q2-d", b"q2-e", b"q0-f"])

    def test_MQTT_4_9_0_3_other_packets_processed_at_zero_quota(self):
        t = self.topic("proc")
        sub, witness = self.limited(1, t, qos=1)
        self.publish_all(witness, t, [b"held-1", b"held-2"])
        sub.expect(PUBLISH)
        # With the quota at zero the server still processes what the client sends: a new
        # subscription takes effect and a QoS 0 message is routed.
        sub.subscribe([(t + "/zero", 0)])
        watcher = self.subscriber([(t + "/zero", 0)])
        sub.publish(t + "/zero", b"routed at zero quota", qos=0)
        self.assertEqual(watcher.expect(PUBLISH).payload, b"routed at zero quota")
        sub.send(raw.unsubscribe(7, [t + "/zero"]))
        self.assertEqual(sub.expect(UNSUBACK, skip=(PUBLISH,)).reasons, [0x00])


if __name__ == "__main__":
    unittest.main()
