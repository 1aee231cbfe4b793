"""State store wire protocol against the real daemon: every reply form and error string with
exact bytes, the reply envelope (__stat, correlation data, content type, __ts) and request
validation (QoS, response topic, correlation data, forbidden response topics).
Spec: statestore-protocol.md sections 1.1-1.4 and the must-do list (section 6)."""

import os
import unittest

from support import rawmqtt
from support.edgemq_harness import DaemonTestCase
from support.statestore_client import (
    CONTENT_TYPE, ERR_ARITY, ERR_FT_SKEW, ERR_KEY_ZERO, ERR_MALFORMED_TS, ERR_MISSING_TS, ERR_QUOTA, ERR_SYNTAX,
    ERR_TS_SKEW, ERR_UNKNOWN, NIL, NOT_APPLIED, NOTIFY_PREFIX, OK, REQUEST_TOPIC, StateStoreTestMixin, err, format_hlc,
    hlc_key, now_ms, parse_hlc, resp_array)

TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000


class StateStoreRepliesTest(StateStoreTestMixin, DaemonTestCase):
    config = {"statestore": {"enabled": True, "sync": "sync", "node_id": "edgemq"}}

    def test_set_get_exact_bytes_and_versions(self):
        c = self.ss_client()
        k = self.key()
        s = self.assertReply(c.set(k, b"testvalue"), OK, ts="newer")
        g = self.assertReply(c.get(k), b"$9\r\ntestvalue\r\n", ts=True)
        self.assertEqual(g.ts, s.ts, "GET returns the version the SET returned")
        self.assertEqual(parse_hlc(s.ts)[2], "edgemq", "versions carry the configured node id")
        # a second SET makes a newer version
        s2 = self.assertReply(c.set(k, b"other"), OK, ts="newer")
        self.assertGreater(hlc_key(s2.ts), hlc_key(s.ts))
        self.assertReply(c.get(k), b"$5\r\nother\r\n")

    def test_reference_request_bytes(self):
        # The exact request strings of the Rust SDK's resp3.rs tests.
        c = self.ss_client()
        k = self.unique("testkey").encode()
        self.assertReply(c.invoke(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$9\r\ntestvalue\r\n" % (len(k), k)), OK, ts="newer")
        self.assertReply(c.invoke(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k)), b"$9\r\ntestvalue\r\n", ts=True)
        self.assertReply(c.invoke(b"*3\r\n$4\r\nVDEL\r\n$%d\r\n%s\r\n$9\r\ntestvalue\r\n" % (len(k), k)), b":1\r\n",
                         ts=True)
        self.assertReply(c.invoke(b"*2\r\n$3\r\nDEL\r\n$%d\r\n%s\r\n" % (len(k), k)), b":0\r\n")

    def test_get_miss_has_no_version(self):
        c = self.ss_client()
        self.assertReply(c.get(self.key()), b"$-1\r\n", ts=False)

    def test_empty_value(self):
        c = self.ss_client()
        k = self.key()
        self.assertReply(c.set(k, b""), OK, ts=True)
        self.assertReply(c.get(k), b"$0\r\n\r\n", ts=True)

    def test_set_nx(self):
        c = self.ss_client()
        k = self.key()
        first = self.assertReply(c.set(k, b"one", nx=True), OK, ts="newer")
        r = self.assertReply(c.set(k, b"two", nx=True), NOT_APPLIED, ts="newer")  # .NET needs __ts here
        self.assertReply(c.set(k, b"one", nx=True), NOT_APPLIED, ts=True)  # NX: even the same value
        g = self.assertReply(c.get(k), b"$3\r\none\r\n")
        self.assertEqual(g.ts, first.ts, "a refused SET NX does not change the version")
        self.assertNotEqual(r.ts, None)

    def test_set_nex(self):
        c = self.ss_client()
        k = self.key()
        self.assertReply(c.set(k, b"holder", nex=True), OK, ts="newer")  # absent: set
        again = self.assertReply(c.set(k, b"holder", nex=True), OK, ts="newer")  # equal value: set again
        self.assertReply(c.set(k, b"intruder", nex=True), NOT_APPLIED, ts=True)  # different: refused
        g = self.assertReply(c.get(k), b"$6\r\nholder\r\n")
        self.assertEqual(g.ts, again.ts)

    def test_del(self):
        c = self.ss_client()
        k = self.key()
        s = c.set(k, b"v")
        d = self.assertReply(c.delete(k), b":1\r\n", ts="newer")
        self.assertGreater(hlc_key(d.ts), hlc_key(s.ts))
        self.assertReply(c.delete(k), b":0\r\n")
        self.assertReply(c.get(k), NIL, ts=False)

    def test_vdel(self):
        c = self.ss_client()
        k = self.key()
        c.set(k, b"mine")
        self.assertReply(c.vdel(k, b"yours"), b":-1\r\n")
        self.assertReply(c.get(k), b"$4\r\nmine\r\n")
        self.assertReply(c.vdel(k, b"mine"), b":1\r\n", ts="newer")
        self.assertReply(c.vdel(k, b"mine"), b":0\r\n")
        self.assertReply(c.get(k), NIL, ts=False)

    def test_keynotify_replies(self):
        c = self.ss_client()
        k = self.key()
        self.assertReply(c.keynotify(self.key("not-watched"), stop=True), b":0\r\n")
        self.assertReply(c.keynotify(k), OK)  # succeeds for a key that does not exist
        self.assertReply(c.keynotify(k, stop=True), OK)
        self.assertReply(c.keynotify(k, stop=True), b":0\r\n")

    def test_empty_key(self):
        c = self.ss_client()
        # the exact client-test request of the reference
        self.assertReply(c.invoke(b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n"), err(ERR_KEY_ZERO))
        self.assertReply(c.get(b""), err(ERR_KEY_ZERO))
        self.assertReply(c.delete(b""), err(ERR_KEY_ZERO))
        self.assertReply(c.vdel(b"", b"x"), err(ERR_KEY_ZERO))
        self.assertReply(c.keynotify(b""), err(ERR_KEY_ZERO))

    def test_set_without_timestamp(self):
        c = self.ss_client()
        k = self.key()
        self.assertReply(c.set(k, b"v", ts=None), err(ERR_MISSING_TS))
        self.assertReply(c.get(k), NIL)

    def test_malformed_timestamps(self):
        c = self.ss_client()
        k = self.key()
        for bad in ("garbage", "", "1696374425000:0", "1696374425000:0:a:b", "x:0:node", "1:y:node",
                    "-1:0:node", "1696374425000::node"):
            with self.subTest(ts=bad):
                self.assertReply(c.set(k, b"v", ts=bad), err(ERR_MALFORMED_TS))
        for bad in ("garbage", "1:2", "1:2:3:4"):
            with self.subTest(ft=bad):
                self.assertReply(c.set(k, b"v", ft=bad), err(ERR_MALFORMED_TS))
        self.assertReply(c.get(k), NIL)

    def test_unpadded_timestamp_is_accepted(self):
        # The docs' own form (no zero padding); the reply version is newer than it.
        c = self.ss_client()
        r = self.assertReply(c.set(self.key(), b"v", ts="%d:0:Client1" % (now_ms() - 1000)), OK, ts="newer")
        self.assertGreater(hlc_key(r.ts), hlc_key(r.request_ts))

    def test_version_above_a_request_timestamp_from_the_near_future(self):
        # 30 s ahead is within the allowed 60 s: accepted, and the version is above it.
        c = self.ss_client()
        ts = format_hlc(now_ms() + 30000, 7, "future-node")
        r = self.assertReply(c.set(self.key(), b"v", ts=ts), OK, ts="newer")
        self.assertGreater(hlc_key(r.ts), (hlc_key(ts)))

    def test_timestamp_skew(self):
        c = self.ss_client()
        k = self.key()
        r = c.set(k, b"v", ts=format_hlc(now_ms() + 120000, 0, "skewed"))
        self.assertReply(r, err(ERR_TS_SKEW))
        self.assertReply(c.get(k), NIL)

    def test_fencing_token_skew(self):
        c = self.ss_client()
        k = self.key()
        r = c.set(k, b"v", ft=format_hlc(now_ms() + TEN_YEARS_MS, 0, "skewed"))
        self.assertReply(r, err(ERR_FT_SKEW))
        self.assertReply(c.get(k), NIL)

    def test_unknown_command(self):
        c = self.ss_client()
        self.assertReply(c.invoke(resp_array(b"MGET", b"a", b"b")), err(ERR_UNKNOWN))
        self.assertReply(c.invoke(resp_array(b"HELLO")), err(ERR_UNKNOWN))

    def test_wrong_number_of_arguments(self):
        c = self.ss_client()
        k = self.key()
        for parts in ([b"SET", k], [b"SET"], [b"GET"], [b"GET", k, b"x"], [b"DEL"], [b"DEL", k, b"x"],
                      [b"VDEL", k], [b"VDEL", k, b"v", b"x"], [b"KEYNOTIFY"],
                      [b"KEYNOTIFY", k, b"STOP", b"x"]):
            with self.subTest(parts=parts):
                self.assertReply(c.invoke(resp_array(*parts)), err(ERR_ARITY))
        self.assertReply(c.get(k), NIL)

    def test_syntax_errors(self):
        c = self.ss_client()
        k = self.key()
        for parts in ([b"SET", k, b"v", b"XX"], [b"SET", k, b"v", b"PX", b"abc"], [b"SET", k, b"v", b"PX"],
                      [b"SET", k, b"v", b"PX", b"-5"], [b"SET", k, b"v", b"EX", b"10"],
                      [b"KEYNOTIFY", k, b"START"]):
            with self.subTest(parts=parts):
                self.assertReply(c.invoke(resp_array(*parts)), err(ERR_SYNTAX))
        for garbage in (b"garbage", b"", b"*1\r\n$3\r\nGET", b"*2\r\n$3\r\nGET\r\n", b"*1\r\n$9\r\nGET\r\n",
                        b"$3\r\nGET\r\n", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nTRAILING"):
            with self.subTest(payload=garbage):
                self.assertReply(c.invoke(garbage), err(ERR_SYNTAX))
        self.assertReply(c.get(k), NIL)

    def test_binary_safe_keys_and_values(self):
        c = self.ss_client()
        key = b"bin\r\n\x00key\xff" + os.urandom(4)
        value = b"\x00\r\n$3\r\n*\xff\xfe" + os.urandom(8)
        self.assertReply(c.set(key, value), OK, ts=True)
        self.assertReply(c.get(key), b"$%d\r\n%s\r\n" % (len(value), value), ts=True)
        self.assertReply(c.get(key[:-1]), NIL)  # a prefix is another key
        self.assertReply(c.vdel(key, value[:-1]), b":-1\r\n")
        self.assertReply(c.vdel(key, value), b":1\r\n")

    def test_large_key_and_value(self):
        # No max key/value size (.NET integration test: 6500-byte keys, 65000-byte values).
        c = self.ss_client()
        key = os.urandom(6500)
        value = os.urandom(65000)
        self.assertReply(c.set(key, value), OK, ts=True)
        self.assertReply(c.get(key), b"$65000\r\n" + value + b"\r\n")

    def test_envelope_correlation_echoed_on_every_reply_form(self):
        c = self.ss_client()
        k = self.key()
        for payload in (resp_array(b"SET", k, b"v"), resp_array(b"GET", k), resp_array(b"GET", b"absent\x01"),
                        resp_array(b"DEL", k), resp_array(b"NOPE"), b"garbage"):
            with self.subTest(payload=payload):
                corr = os.urandom(16)
                r = c.wait_reply(c.send(payload, correlation=corr)[0])
                self.assertEnvelope(r, sent_correlation=corr)
        # any correlation data is echoed unchanged, not only 16-byte UUIDs
        corr = b"\x00corr\xff"
        r = c.wait_reply(c.send(resp_array(b"GET", k), correlation=corr)[0])
        self.assertEnvelope(r, sent_correlation=corr)

    def test_reply_goes_to_the_response_topic_given(self):
        # The Go SDK's response topic form: the broker must honour whatever arrives.
        c = self.ss_client()
        go_topic = "clients/%s/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke/response" \
            % c.client_id.encode().hex().upper()
        c.subscribe(go_topic, 1)
        corr, _ = c.send(resp_array(b"GET", self.key()), response_topic=go_topic)
        m = c.other.get(timeout=5)
        self.assertEqual(m.topic, go_topic)
        self.assertEqual(m.correlation, corr)
        self.assertEqual(m.payload, NIL)
        self.assertEqual(m.props.get("__stat"), "200")

    def test_sdk_user_properties_are_tolerated(self):
        c = self.ss_client()
        k = self.key()
        extra = [("$partition", c.client_id), ("$high_priority", ""), ("aio-persistence", "true"),
                 ("unknown-prop", "x")]
        self.assertReply(c.set(k, b"v", extra_properties=extra), OK, ts="newer")
        self.assertReply(c.get(k, extra_properties=extra), b"$1\r\nv\r\n")


class StateStoreQuotaTest(StateStoreTestMixin, DaemonTestCase):
    config = {"statestore": {"enabled": True, "max_keys": 3, "max_bytes": 4096, "sync": "none"}}

    def test_key_quota(self):
        c = self.ss_client()
        keys = [self.key("q%d" % i) for i in range(4)]
        for k in keys[:3]:
            self.assertReply(c.set(k, b"v"), OK)
        r = self.assertReply(c.set(keys[3], b"v"), err(ERR_QUOTA))
        self.assertIsNotNone(r.ts, "every SET reply carries __ts (.NET refuses one without)")
        self.assertReply(c.get(keys[3]), NIL)
        self.assertReply(c.set(keys[0], b"overwrite"), OK)  # not a new key: allowed
        self.assertReply(c.delete(keys[1]), b":1\r\n")
        self.assertReply(c.set(keys[3], b"v"), OK)  # room again
        for k in (keys[0], keys[2], keys[3]):
            self.assertReply(c.delete(k), b":1\r\n")

    def test_byte_quota(self):
        c = self.ss_client()
        k = self.key()
        self.assertReply(c.set(k, b"x" * 5000), err(ERR_QUOTA))
        self.assertReply(c.get(k), NIL)
        self.assertReply(c.set(k, b"x" * 100), OK)
        self.assertReply(c.set(k, b"x" * 5000), err(ERR_QUOTA))  # growing an existing value counts too
        self.assertReply(c.get(k), b"$100\r\n" + b"x" * 100 + b"\r\n")
        self.assertReply(c.delete(k), b":1\r\n")


class StateStoreRequestValidationTest(StateStoreTestMixin, DaemonTestCase):
    config = {"statestore": {"enabled": True}}

    def assertNotExecuted(self, c, k, corr):
        """k is absent, and no reply for `corr` arrived before the reply to a later GET (the
        store answers in order, so a reply to the earlier request would have come first)."""
        self.assertReply(c.get(k), NIL, ts=False)
        if corr is not None:
            self.assertEqual(c.replies_for(corr), [], "an invalid request was answered")

    def test_qos0_request_is_not_executed(self):
        c = self.ss_client()
        k = self.key()
        corr, _ = c.send(resp_array(b"SET", k, b"v"), qos=0)
        self.assertNotExecuted(c, k, corr)

    def test_qos2_request_is_not_executed(self):
        c = self.ss_client()
        k = self.key()
        corr, _ = c.send(resp_array(b"SET", k, b"v"), qos=2)
        self.assertNotExecuted(c, k, corr)

    def test_request_without_response_topic_is_not_executed(self):
        c = self.ss_client()
        k = self.key()
        corr, _ = c.send(resp_array(b"SET", k, b"v"), response_topic=None)
        self.assertNotExecuted(c, k, corr)

    def test_request_without_correlation_data_is_not_executed(self):
        c = self.ss_client()
        k = self.key()
        c.send(resp_array(b"SET", k, b"v"), correlation=None)
        self.assertReply(c.get(k), NIL, ts=False)
        # nothing at all came back on the response topic without correlation data
        self.assertTrue(c.other.empty(), "unexpected messages: %r" % list(c.other.queue))

    def raw_request(self, response_topic, key):
        """A SET over a raw socket with `response_topic`; returns what the broker sent back
        before closing the connection."""
        raw = rawmqtt.RawClient(self.host, self.port)
        self.track(raw)
        raw.connect(self.unique("raw"))
        props = [(0x08, response_topic), (0x09, os.urandom(16)), (rawmqtt.P_CONTENT_TYPE, CONTENT_TYPE),
                 (rawmqtt.P_USER_PROPERTY, ("__ts", format_hlc(now_ms(), 0, "raw")))]
        raw.send(rawmqtt.publish(REQUEST_TOPIC, resp_array(b"SET", key, b"v"), qos=1, packet_id=1, properties=props))
        return raw.read_until_closed(5)

    def assertDisconnected0x90(self, got):
        discs = [p for p in got if p.type == rawmqtt.DISCONNECT]
        self.assertEqual(len(discs), 1, "expected one DISCONNECT before the close, got %r" % got)
        self.assertEqual(discs[0].reason, 0x90, "DISCONNECT reason must be 0x90 Topic Name invalid: %r" % discs[0])
        self.assertFalse([p for p in got if p.type == rawmqtt.PUBACK], "the request must not be acknowledged")

    def test_reserved_response_topic_disconnects(self):
        c = self.ss_client()
        for rt in (NOTIFY_PREFIX + "/4142/command/notify/4B", NOTIFY_PREFIX, NOTIFY_PREFIX + "x/y"):
            with self.subTest(response_topic=rt):
                k = self.key()
                self.assertDisconnected0x90(self.raw_request(rt, k))
                self.assertReply(c.get(k), NIL)  # and the request was not executed

    def test_request_topic_as_response_topic_disconnects(self):
        c = self.ss_client()
        k = self.key()
        self.assertDisconnected0x90(self.raw_request(REQUEST_TOPIC, k))
        self.assertReply(c.get(k), NIL)

    def test_paho_client_is_disconnected(self):
        # paho 1.6.1 only decodes a DISCONNECT reason code when the packet is longer than 2
        # bytes, so here we check the disconnection itself; the raw tests above check 0x90.
        c = self.ss_client()
        k = self.key()
        c.send(resp_array(b"SET", k, b"v"), response_topic=NOTIFY_PREFIX + "/x", wait_ack=False)
        self.assertTrue(c.disconnected.wait(5), "client not disconnected")
        self.assertNotEqual(c.disconnect_rcs[0], 0, "an abnormal disconnection")
        self.assertIn(c.disconnect_rcs[0], (0x90, 7), "0x90, or paho's 'connection lost' when it skips the reason")
        other = self.ss_client()
        self.assertReply(other.get(k), NIL)

    def test_mqtt311_request_is_not_executed(self):
        # MQTT 3.1.1 has no response topic or correlation data: nothing to answer, not executed.
        c = self.ss_client()
        k = self.key()
        raw = self.track(rawmqtt.RawClient(self.host, self.port, version=rawmqtt.V311))
        raw.connect(self.unique("v311"))
        raw.publish(REQUEST_TOPIC, resp_array(b"SET", k, b"v"), qos=1)
        raw.ping()  # the broker has handled the PUBLISH
        self.assertReply(c.get(k), NIL)

    def test_request_through_a_topic_alias(self):
        # A client may send the request topic once with a topic alias and then only the alias.
        raw = self.track(rawmqtt.RawClient(self.host, self.port))
        ack = raw.connect(self.unique("alias"))
        if not ack.props.get(rawmqtt.P_TOPIC_ALIAS_MAXIMUM):
            self.skipTest("the broker grants no topic aliases")
        rt = self.unique("alias-reply")
        raw.subscribe([(rt, 1)])
        k = self.key()
        answers = []
        for i, topic in enumerate((REQUEST_TOPIC, "")):
            corr = os.urandom(16)
            p = [(rawmqtt.P_TOPIC_ALIAS, 1), (0x08, rt), (0x09, corr),
                 (rawmqtt.P_USER_PROPERTY, ("__ts", format_hlc(now_ms(), i, "raw")))]
            raw.send(rawmqtt.publish(topic, resp_array(b"SET", k, b"v%d" % i), qos=1, packet_id=10 + i, properties=p))
            while True:
                pkt = raw.recv()
                if pkt.type == rawmqtt.PUBLISH:
                    if pkt.qos:
                        raw.send(rawmqtt.ack(rawmqtt.PUBACK, pkt.packet_id))
                    self.assertEqual(pkt.props.get(0x09), corr)
                    answers.append(pkt.payload)
                    break
        self.assertEqual(answers, [OK, OK])
        c = self.ss_client()
        self.assertReply(c.get(k), b"$2\r\nv1\r\n")

    def test_similar_but_allowed_response_topics_are_answered(self):
        c = self.ss_client()
        for rt in ("clients/statestore/v2/%s/x" % "FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8",
                   REQUEST_TOPIC + "/response", "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invok"):
            with self.subTest(response_topic=rt):
                c.subscribe(rt, 1)
                corr, _ = c.send(resp_array(b"GET", self.key()), response_topic=rt)
                m = c.other.get(timeout=5)
                self.assertEqual((m.topic, m.correlation, m.payload), (rt, corr, NIL))


if __name__ == "__main__":
    unittest.main()
