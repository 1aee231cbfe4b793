"""MQTT 5.0 section 3.3.2.3.4: Topic Aliases sent by the Server.

BEING IMPLEMENTED: the broker is gaining outbound topic aliases (up to the client's Topic Alias
Maximum). ``test_server_assigns_topic_aliases`` fails until that lands; the statements below
forbid things a server that never sends aliases cannot do wrong, so they pass today too and
keep checking the new code once it exists.

A subscriber resolves aliases as a client must: a PUBLISH with a Topic Name and an alias sets
the mapping, a PUBLISH with an empty Topic Name uses it.

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.1.2-26] The Server MUST NOT send a Topic Alias in a PUBLISH packet to the Client
    greater than Topic Alias Maximum.
[MQTT-3.3.2-7] A receiver MUST NOT carry forward any Topic Alias mappings from one Network
    Connection to another. (Here: the Server, as sender, does not rely on a mapping of the
    previous connection.)
[MQTT-3.3.2-8] A sender MUST NOT send a PUBLISH packet containing a Topic Alias which has the value 0.
[MQTT-3.3.2-11] A Server MUST NOT send a PUBLISH packet with a Topic Alias greater than the
    Topic Alias Maximum value sent by the Client in the CONNECT packet.
"""

import unittest

from _support import ConformanceCase, PUBLISH, P_TOPIC_ALIAS, P_TOPIC_ALIAS_MAXIMUM, P_SESSION_EXPIRY


class OutboundTopicAliasTest(ConformanceCase):
    config = {"mqtt": {"connect_timeout_ms": 300}}

    def receive_resolved(self, c, count, maximum, mapping=None):
        """`count` PUBLISH packets from `c`, aliases checked and resolved. Returns
        (list of (topic, payload, alias or None, topic name sent), mapping)."""
        mapping = {} if mapping is None else mapping
        out = []
        for _ in range(count):
            p = c.expect(PUBLISH)
            c.ack(p)
            alias = p.props.get(P_TOPIC_ALIAS)
            if alias is not None:
                self.assertGreater(alias, 0, "Topic Alias 0 sent: %r" % p)
                self.assertLessEqual(alias, maximum, "Topic Alias %d above the client's maximum %d" % (alias, maximum))
                if p.topic:
                    mapping[alias] = p.topic
                else:
                    self.assertIn(alias, mapping, "empty Topic Name with an alias never set on this connection: %r" % p)
            else:
                self.assertTrue(p.topic, "empty Topic Name without a Topic Alias: %r" % p)
            topic = p.topic or mapping[alias]
            out.append((topic, p.payload, alias, p.topic))
        return out, mapping

    def traffic(self, maximum, topics=4, rounds=4, cid=None, props=()):
        base = self.topic("ta")
        c = self.conn(cid, properties=[(P_TOPIC_ALIAS_MAXIMUM, maximum)] + list(props))
        c.subscribe([(base + "/#", 1)])
        pub = self.conn()
        sent = []
        for r in range(rounds):
            for k in range(topics):
                t = "%s/%d/%s" % (base, k, "long-topic-name-worth-an-alias")
                payload = b"%d-%d" % (r, k)
                pub.publish(t, payload, qos=1)
                sent.append((t, payload))
        return c, sent

    def test_MQTT_3_1_2_26_no_alias_above_the_client_maximum(self):
        c, sent = self.traffic(2)
        got, _ = self.receive_resolved(c, len(sent), 2)
        self.assertEqual([(t, p) for (t, p, _, _) in got], sent, "aliases resolved to the published topics")

    def test_MQTT_3_3_2_11_no_alias_above_a_maximum_of_1(self):
        c, sent = self.traffic(1, topics=3)
        got, _ = self.receive_resolved(c, len(sent), 1)
        self.assertEqual([(t, p) for (t, p, _, _) in got], sent)

    def test_MQTT_3_3_2_8_server_never_sends_alias_0(self):
        c, sent = self.traffic(65535, topics=5, rounds=3)
        got, _ = self.receive_resolved(c, len(sent), 65535)
        self.assertNotIn(0, [a for (_, _, a, _) in got])

    def test_MQTT_3_3_2_7_no_mapping_carried_to_a_new_connection(self):
        cid = self.unique("carry")
        c, sent = self.traffic(3, topics=2, rounds=3, cid=cid, props=[(P_SESSION_EXPIRY, 60)])
        self.receive_resolved(c, len(sent), 3)
        c.disconnect(0)
        again, ack = self.connected(cid, clean=False, properties=[(P_TOPIC_ALIAS_MAXIMUM, 3), (P_SESSION_EXPIRY, 0)])
        self.assertTrue(ack.session_present)
        pub = self.conn()
        for t, payload in sent[:4]:
            pub.publish(t, payload + b"-again", qos=1)
        got, _ = self.receive_resolved(again, 4, 3, mapping={})  # a fresh mapping: nothing carried over
        self.assertEqual([t for (t, _, _, _) in got], [t for (t, _) in sent[:4]])

    def test_server_assigns_topic_aliases(self):
        c, sent = self.traffic(2, topics=2, rounds=4)
        got, _ = self.receive_resolved(c, len(sent), 2)
        reused = [x for x in got if x[2] is not None and x[3] == ""]
        self.assertTrue(reused, "the server never sent a PUBLISH with an empty Topic Name and a Topic Alias "
                                "although the client allows 2 aliases and topics repeat")


if __name__ == "__main__":
    unittest.main()
