"""Durable broker state across restarts on the same data directory: a graceful stop (SIGTERM,
exit 0) and a crash (SIGKILL), then a new daemon run (on a new port).

Persisted: sessions with a non-zero Session Expiry Interval (v5) or clean_session=0 (v3.1.1)
(client id, expiry deadline, subscriptions with options and identifiers, queued messages,
in-flight QoS 1/2 with packet ids including the PUBREC/PUBREL stage), retained messages with
their expiry deadlines and pending delayed wills. Deadlines are wall-clock: time spent while
the daemon is down counts.

kill -9 variants: a QoS 1/2 PUBLISH routed to a persistent session, or setting/clearing a
retained message, is durable once acknowledged (default policy "sync"). Where the state under
test is not itself acknowledged to anyone (a PUBREC received by the broker, a packet id given
to an outgoing PUBLISH, a disconnection), the test first calls fence(): a QoS 1 PUBLISH to a
persistent session that is acknowledged, i.e. synced, after the broker issued the earlier
writes. Its purpose is to make the kill point fair, not to synchronise the test.

Only wall-clock deadlines (expiry intervals, will delays) are waited for with a bounded sleep;
everything else waits on packets/events with timeouts.
"""

import itertools
import json
import os
import shutil
import signal
import tempfile
import time
import unittest

from support import rawmqtt as raw
from support.edgemq_harness import run_edgemq
from support.persist_clients import PersistClient, prop
from support.edgemq_harness import RestartableDaemon

SIGTERM, SIGKILL = signal.SIGTERM, signal.SIGKILL
LONG_EXPIRY = 3600


class RestartTestBase(unittest.TestCase):
    config = None

    def setUp(self):
        super().setUp()
        self.d = RestartableDaemon(config=self.config)
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self._seq = itertools.count(1)

    # ------------------------------------------------------------------ daemon
    def stop(self, sig):
        if sig == SIGKILL:
            self.d.kill()
        else:
            self.d.terminate()

    def start(self):
        self.d.start()

    def restart(self, sig):
        self.stop(sig)
        self.start()

    def wait_until(self, deadline):
        """Bounded wait for a wall-clock deadline: the passing of time is what is tested."""
        remaining = deadline - time.monotonic()
        self.assertLess(remaining, 30, "refusing to wait that long")
        if remaining > 0:
            time.sleep(remaining)

    # ------------------------------------------------------------------ clients
    def paho(self, client_id=None, version=5, clean=True, session_expiry=None, connect=True, **kw):
        c = PersistClient(self.d.host, self.d.port, client_id=client_id, version=version, clean=clean,
                          session_expiry=session_expiry, **kw)
        self.addCleanup(c.close)
        if connect:
            c.connect()
        return c

    def resume(self, client_id, version=5, session_expiry=LONG_EXPIRY):
        """Reconnect a persistent session (clean start 0 / clean session 0)."""
        return self.paho(client_id, version=version, clean=False,
                         session_expiry=session_expiry if version == 5 else None)

    def raw(self, version=raw.V5):
        r = raw.RawClient(self.d.host, self.d.port, version)
        self.addCleanup(r.close)
        return r

    def raw_connect(self, client_id, version, clean, expiry=LONG_EXPIRY):
        r = self.raw(version)
        props = [(raw.P_SESSION_EXPIRY, expiry)] if version == raw.V5 else None
        ca = r.connect(client_id, clean=clean, properties=props)
        return r, ca

    def publisher(self):
        return self.paho("pub-%d" % next(self._seq))

    def fence(self, sig=SIGKILL):
        """Before a kill -9: an acknowledged QoS 1 PUBLISH routed to a persistent session, so
        that every write the broker issued before it is durable too. No-op for SIGTERM."""
        if sig != SIGKILL:
            return
        n = next(self._seq)
        s = self.paho("fence-%d" % n, session_expiry=LONG_EXPIRY)
        s.subscribe("fence/%d" % n, 1)
        s.disconnect()
        p = self.publisher()
        p.publish("fence/%d" % n, b"fence", qos=1)
        p.close()

    def until_marker(self, client, marker_topic, qos=2):
        """Publish a marker (client must be subscribed to it) and return every message the
        client received before it. QoS 2 so that no QoS 2 delivery can be overtaken."""
        p = self.publisher()
        p.publish(marker_topic, b"marker", qos=qos)
        got = client.collect_until(marker_topic, timeout=10)
        return got[:-1]

    @staticmethod
    def raw_until(r, marker_payload, timeout=10.0):
        """Raw subscriber: every packet before the PUBLISH carrying marker_payload, completing
        every QoS flow on the way (PUBACK / PUBREC / PUBCOMP); after the marker it keeps
        reading until every PUBREL it is owed has come and been answered, so that no
        delivery is left half done. Returns (packets before the marker, marker)."""
        out = []
        owed_pubrel = set()
        marker = None
        deadline = time.monotonic() + timeout
        while marker is None or owed_pubrel:
            p = r.recv(max(0.05, deadline - time.monotonic()))
            if p.type == raw.PUBLISH:
                if p.qos == 1:
                    r.send(raw.ack(raw.PUBACK, p.packet_id, version=r.version))
                elif p.qos == 2:
                    r.send(raw.ack(raw.PUBREC, p.packet_id, version=r.version))
                    owed_pubrel.add(p.packet_id)
                if marker is None and p.payload == marker_payload:
                    marker = p
                    continue
            elif p.type == raw.PUBREL:
                owed_pubrel.discard(p.packet_id)
                r.send(raw.ack(raw.PUBCOMP, p.packet_id, version=r.version))
            if marker is None:
                out.append(p)
            elif not (p.type == raw.PUBREL):
                raise AssertionError("unexpected packet after the marker: %r" % p)
        return out, marker

    def assert_retained(self, msg, payload, qos, user_props=None):
        self.assertEqual(msg.payload, payload, msg.topic)
        self.assertEqual(msg.qos, qos, msg.topic)
        self.assertTrue(msg.retain, "%s: a retained message is delivered with RETAIN=1 on subscribe" % msg.topic)
        if user_props is not None:
            self.assertEqual(prop(msg, "UserProperty") or [], user_props, "%s: user properties (in order)" % msg.topic)


# ============================================================================== retained
class RetainedRestartTest(RestartTestBase):
    def _retained_intact(self, sig):
        u = "ret"
        pub = self.paho("ret-pub")
        expected = {}  # topic -> (payload, qos, user properties)
        if sig == SIGTERM:
            # QoS 0 has no acknowledgement: only the graceful variant may require it (the QoS 1
            # publishes below, on the same connection, are processed after it).
            pub.publish_props(u + "/q0", b"zero", 0, retain=True)
            expected[u + "/q0"] = (b"zero", 0, [])
        ups = [("k", "v1"), ("k", "v2"), ("z", "last")]
        pub.publish_props(u + "/q1", b"one", 1, retain=True, user_properties=ups, content_type="text/plain",
                          payload_format=1)
        expected[u + "/q1"] = (b"one", 1, ups)
        pub.publish_props(u + "/q2", b"two\x00\xffbin", 2, retain=True, user_properties=[("a", "b")])
        expected[u + "/q2"] = (b"two\x00\xffbin", 2, [("a", "b")])
        pub.publish_props(u + "/replaced", b"old", 1, retain=True)
        pub.publish_props(u + "/replaced", b"new", 2, retain=True)
        expected[u + "/replaced"] = (b"new", 2, [])
        pub.publish_props(u + "/cleared", b"to be cleared", 1, retain=True)
        pub.publish_props(u + "/cleared", b"", 1, retain=True)  # clears it
        v311 = self.paho("ret-pub-311", version=4)
        v311.publish(u + "/v311", b"from 3.1.1", qos=1, retain=True)
        expected[u + "/v311"] = (b"from 3.1.1", 1, None)

        for run in (1, 2):  # and stays so across a second restart
            self.restart(sig)
            sub = self.paho("ret-sub-%d" % run)
            self.assertEqual(sub.subscribe_opts(u + "/#", 2), [2])
            got = self.until_marker(sub, u + "/zz-marker")
            topics = sorted(m.topic for m in got)
            self.assertEqual(topics, sorted(expected), "run %d: exactly the retained set, each once; %s must stay "
                                                        "cleared" % (run, u + "/cleared"))
            for m in got:
                payload, qos, ups = expected[m.topic]
                self.assert_retained(m, payload, qos, ups)
            q1 = next(m for m in got if m.topic == u + "/q1")
            self.assertEqual(prop(q1, "ContentType"), "text/plain")
            self.assertEqual(prop(q1, "PayloadFormatIndicator"), 1)
            sub.close()

    def test_retained_intact_after_sigterm_restart(self):
        self._retained_intact(SIGTERM)

    def test_retained_intact_after_kill9(self):
        self._retained_intact(SIGKILL)

    def _retained_expiry(self, sig):
        u = "rexp"
        pub = self.paho("rexp-pub")
        pub.publish_props(u + "/short", b"short-lived", 1, retain=True, message_expiry=2)
        deadline = time.monotonic() + 2  # the broker's deadline is no later than this
        pub.publish_props(u + "/long", b"long-lived", 1, retain=True, message_expiry=LONG_EXPIRY)
        t_long = time.monotonic()  # the broker had the message before this
        pub.publish_props(u + "/none", b"no expiry", 1, retain=True)
        self.stop(sig)
        self.wait_until(deadline + 0.5)  # the deadline passes while the daemon is down
        self.start()
        waited = time.monotonic() - t_long  # less than the broker has held it when delivering
        sub = self.paho("rexp-sub")
        sub.subscribe_opts(u + "/#", 1)
        got = {m.topic: m for m in self.until_marker(sub, u + "/zz-marker")}
        self.assertEqual(sorted(got), [u + "/long", u + "/none"],
                         "a retained message whose expiry passed while the daemon was down is gone")
        self.assert_retained(got[u + "/long"], b"long-lived", 1)
        self.assert_retained(got[u + "/none"], b"no expiry", 1)
        remaining = prop(got[u + "/long"], "MessageExpiryInterval")
        self.assertIsNotNone(remaining, "the remaining Message Expiry Interval is forwarded")
        self.assertLessEqual(remaining, LONG_EXPIRY - int(waited),
                             "downtime counts: the interval sent is the remaining lifetime (waited %.1fs)" % waited)
        self.assertGreater(remaining, LONG_EXPIRY - 120)
        self.assertIsNone(prop(got[u + "/none"], "MessageExpiryInterval"))

    def test_retained_expired_while_down_is_gone_sigterm(self):
        self._retained_expiry(SIGTERM)

    def test_retained_expired_while_down_is_gone_kill9(self):
        self._retained_expiry(SIGKILL)


# ============================================================================== sessions
class SessionRestartTest(RestartTestBase):
    def _subscriptions_kept(self, sig):
        u = "sess"
        s5 = self.paho("sess-v5", session_expiry=LONG_EXPIRY)
        self.assertFalse(s5.session_present)
        self.assertEqual(s5.subscribe_opts(u + "/sid/+", 1, sub_id=42), [1])
        self.assertEqual(s5.subscribe_opts(u + "/nl", 1, no_local=True), [1])
        self.assertEqual(s5.subscribe_opts(u + "/rap", 1, sub_id=43, retain_as_published=True), [1])
        s5.disconnect()
        s3 = self.paho("sess-v311", version=4, clean=False)
        self.assertEqual(s3.subscribe_opts(u + "/v311/q2/#", 2), [2])
        self.assertEqual(s3.subscribe_opts(u + "/v311/q1/#", 1), [1])
        s3.disconnect()
        # acknowledged => durable: these also fence the subscriptions for the kill -9 variant
        pub = self.publisher()
        pub.publish(u + "/sid/queued", b"queued for v5", qos=1)
        pub.publish(u + "/v311/q2/queued", b"queued for v311", qos=2)
        pub.close()

        self.restart(sig)

        s5 = self.resume("sess-v5")
        self.assertTrue(s5.session_present, "session present = 1 after the restart")
        m = s5.get()
        self.assertEqual((m.topic, m.payload, m.qos), (u + "/sid/queued", b"queued for v5", 1))
        self.assertEqual(prop(m, "SubscriptionIdentifier"), [42])
        s3 = self.resume("sess-v311", version=4)
        self.assertTrue(s3.session_present, "session present = 1 after the restart (v3.1.1)")
        m = s3.get()
        self.assertEqual((m.topic, m.payload, m.qos), (u + "/v311/q2/queued", b"queued for v311", 2))

        # the subscriptions work without subscribing again, with their options
        pub = self.publisher()
        pub.publish(u + "/sid/live", b"live", qos=2)       # granted QoS 1 caps it
        s5.publish(u + "/nl", b"own message", qos=1)       # No Local: not delivered back
        pub.publish(u + "/nl", b"from another client", qos=1)
        pub.publish(u + "/rap", b"kept retain flag", qos=1, retain=True)  # Retain As Published
        got = s5.collect_until(u + "/rap")
        self.assertEqual([(m.topic, m.payload) for m in got],
                         [(u + "/sid/live", b"live"), (u + "/nl", b"from another client"),
                          (u + "/rap", b"kept retain flag")])
        live, nl, rap = got
        self.assertEqual(live.qos, 1, "the subscription's maximum QoS survives")
        self.assertEqual(prop(live, "SubscriptionIdentifier"), [42])
        self.assertIsNone(prop(nl, "SubscriptionIdentifier"))
        self.assertTrue(rap.retain, "Retain As Published survives")
        self.assertEqual(prop(rap, "SubscriptionIdentifier"), [43])
        pub.publish(u + "/v311/q2/live", b"q2", qos=2)
        pub.publish(u + "/v311/q1/live", b"q1", qos=2)
        got = sorted((s3.get(), s3.get()), key=lambda m: m.topic)
        self.assertEqual([(m.topic, m.qos) for m in got], [(u + "/v311/q1/live", 1), (u + "/v311/q2/live", 2)])

    def test_session_keeps_subscriptions_after_sigterm_restart(self):
        self._subscriptions_kept(SIGTERM)

    def test_session_keeps_subscriptions_after_kill9(self):
        self._subscriptions_kept(SIGKILL)

    def _queued_delivered(self, sig):
        u = "queued"
        s5 = self.paho("q-v5", session_expiry=LONG_EXPIRY)
        s5.subscribe_opts(u + "/#", 2, sub_id=7)
        s5.disconnect()
        s3 = self.paho("q-v311", version=4, clean=False)
        s3.subscribe_opts(u + "/#", 2)
        s3.disconnect()
        pub = self.publisher()
        q1 = [b"one-%02d" % i for i in range(20)]
        q2 = [b"two-%02d" % i for i in range(10)]
        for p in q1:
            pub.publish(u + "/one", p, qos=1)
        for p in q2:
            pub.publish(u + "/two", p, qos=2)
        pub.close()

        self.restart(sig)

        for cid, version in (("q-v5", 5), ("q-v311", 4)):
            with self.subTest(client=cid):
                s = self.resume(cid, version=version)
                self.assertTrue(s.session_present, "session present = 1 after the restart")
                got = self.until_marker(s, u + "/marker")
                got1 = [m for m in got if m.topic == u + "/one"]
                got2 = [m for m in got if m.topic == u + "/two"]
                if sig == SIGTERM:
                    self.assertEqual([m.payload for m in got1], q1, "queued QoS 1: all, in order, once")
                else:
                    firsts = list(dict.fromkeys(m.payload for m in got1))
                    self.assertEqual(firsts, q1, "queued QoS 1: all, in order (duplicates tolerated)")
                self.assertEqual([m.payload for m in got2], q2, "queued QoS 2: all, in order, exactly once")
                self.assertTrue(all(m.qos == 1 for m in got1) and all(m.qos == 2 for m in got2))
                if version == 5:
                    self.assertEqual({str(prop(m, "SubscriptionIdentifier")) for m in got}, {"[7]"})

    def test_queued_messages_delivered_after_sigterm_restart(self):
        self._queued_delivered(SIGTERM)

    def test_queued_messages_delivered_after_kill9(self):
        self._queued_delivered(SIGKILL)

    def test_messages_queued_for_a_restored_session_survive_the_next_restart(self):
        # The session comes back from the store at the first restart and stays offline; what is
        # queued for it then must be journaled too (the store is given to the broker after it
        # restored the sessions), so it is still there after the second restart.
        s = self.paho("restored", clean=False, session_expiry=LONG_EXPIRY)
        s.subscribe_opts("restored/#", 1)
        s.disconnect()
        self.restart(SIGTERM)
        pub = self.publisher()
        for i in range(5):
            pub.publish("restored/t", b"q%d" % i, qos=1)
        pub.close()
        self.restart(SIGTERM)
        s = self.resume("restored")
        self.assertTrue(s.session_present)
        got = self.until_marker(s, "restored/marker")
        self.assertEqual([m.payload for m in got if m.topic == "restored/t"], [b"q%d" % i for i in range(5)])

    def _session_expired_while_down(self, sig):
        u = "sexp"
        short = self.paho("sexp-short", session_expiry=2)
        short.subscribe_opts(u + "/#", 1)
        short.disconnect()
        deadline = time.monotonic() + 2  # expiry counts from the disconnection
        long_ = self.paho("sexp-long", session_expiry=LONG_EXPIRY)
        long_.subscribe_opts(u + "/#", 1)
        long_.disconnect()
        pub = self.publisher()
        pub.publish(u + "/msg", b"queued", qos=1)  # routed to both sessions; acknowledged => durable
        pub.close()
        self.stop(sig)
        self.wait_until(deadline + 1.0)  # the session's expiry passes while the daemon is down
        self.start()

        s = self.resume("sexp-short", session_expiry=60)
        self.assertFalse(s.session_present, "a session whose expiry passed while the daemon was down is gone")
        s.subscribe_opts("mk/short", 2)
        self.assertEqual(self.until_marker(s, "mk/short"), [], "nothing of the expired session is delivered")
        s.disconnect()
        s = self.resume("sexp-long")
        self.assertTrue(s.session_present, "the long-lived session is still there")
        m = s.get()
        self.assertEqual((m.topic, m.payload), (u + "/msg", b"queued"))

    def test_session_expired_while_down_is_gone_sigterm(self):
        self._session_expired_while_down(SIGTERM)

    def test_session_expired_while_down_is_gone_kill9(self):
        self._session_expired_while_down(SIGKILL)

    def _queued_message_expired_while_down(self, sig):
        u = "mexp"
        s = self.paho("mexp-sub", session_expiry=LONG_EXPIRY)
        s.subscribe_opts(u + "/#", 1)
        s.disconnect()
        pub = self.publisher()
        pub.publish_props(u + "/short", b"short-lived", 1, message_expiry=2)
        deadline = time.monotonic() + 2
        pub.publish_props(u + "/long", b"long-lived", 1, message_expiry=LONG_EXPIRY)
        t_long = time.monotonic()
        pub.publish_props(u + "/none", b"no expiry", 1)
        pub.close()
        self.stop(sig)
        self.wait_until(deadline + 0.5)
        self.start()
        waited = time.monotonic() - t_long
        s = self.resume("mexp-sub")
        self.assertTrue(s.session_present, "session present = 1 after the restart")
        got = self.until_marker(s, u + "/marker")
        self.assertEqual([(m.topic, m.payload) for m in got],
                         [(u + "/long", b"long-lived"), (u + "/none", b"no expiry")],
                         "a queued message whose expiry passed while the daemon was down is not delivered")
        remaining = prop(got[0], "MessageExpiryInterval")
        self.assertIsNotNone(remaining)
        self.assertLessEqual(remaining, LONG_EXPIRY - int(waited), "downtime counts (waited %.1fs)" % waited)
        self.assertGreater(remaining, LONG_EXPIRY - 120)

    def test_queued_message_expired_while_down_is_gone_sigterm(self):
        self._queued_message_expired_while_down(SIGTERM)

    def test_queued_message_expired_while_down_is_gone_kill9(self):
        self._queued_message_expired_while_down(SIGKILL)

    def _clean_sessions_leave_nothing(self, sig):
        u = "clean"
        c5 = self.paho("clean-v5")  # clean start, session expiry 0, still connected at the stop
        c5.subscribe_opts(u + "/#", 1)
        c5b = self.paho("clean-v5-gone", session_expiry=0)
        c5b.subscribe_opts(u + "/#", 1)
        c5b.disconnect()
        c3 = self.paho("clean-v311", version=4, clean=True)  # still connected at the stop
        c3.subscribe_opts(u + "/#", 1)
        pub = self.publisher()
        pub.publish(u + "/live", b"live", qos=1)
        self.assertEqual(c5.get().payload, b"live")
        self.assertEqual(c3.get().payload, b"live")
        self.fence(sig)

        self.restart(sig)

        pub = self.publisher()
        pub.publish(u + "/after", b"after the restart", qos=1)
        for cid, version in (("clean-v5", 5), ("clean-v5-gone", 5), ("clean-v311", 4)):
            with self.subTest(client=cid):
                s = self.resume(cid, version=version, session_expiry=60)
                self.assertFalse(s.session_present, "a clean session leaves nothing behind")
                s.subscribe_opts("mk/" + cid, 2)
                self.assertEqual(self.until_marker(s, "mk/" + cid), [], "no subscription or message survived")

    def test_clean_start_session_leaves_nothing_sigterm(self):
        self._clean_sessions_leave_nothing(SIGTERM)

    def test_clean_start_session_leaves_nothing_kill9(self):
        self._clean_sessions_leave_nothing(SIGKILL)

    def _acknowledged_not_redelivered(self, sig):
        u = "done"
        subs = {}
        for cid, version, clean in (("done-v5", raw.V5, True), ("done-v311", raw.V311, False)):
            r, ca = self.raw_connect(cid, version, clean)
            r.subscribe([(u + "/q1", 1), (u + "/q2", 2)])
            subs[cid] = (r, version)
        pub = self.publisher()
        payloads = set()
        for i in range(5):
            pub.publish(u + "/q1", b"q1-%d" % i, qos=1)
            pub.publish(u + "/q2", b"q2-%d" % i, qos=2)
            payloads |= {b"q1-%d" % i, b"q2-%d" % i}
        pub.publish(u + "/q1", b"end", qos=1)
        for cid, (r, version) in subs.items():
            got, _ = self.raw_until(r, b"end")  # completes every flow: PUBACK, PUBREC/PUBREL/PUBCOMP
            self.assertEqual({p.payload for p in got if p.type == raw.PUBLISH}, payloads, cid)
            # DISCONNECT, then wait for the server to close: it has then processed every
            # acknowledgement sent before (a stop could otherwise overtake the last PUBCOMP).
            r.send(raw.disconnect(version=version))
            self.assertEqual(r.read_until_closed(5.0), [], cid)
        self.fence(sig)

        self.restart(sig)

        pub = self.publisher()
        for cid, (_, version) in subs.items():
            with self.subTest(client=cid):
                r, ca = self.raw_connect(cid, version, clean=False)
                self.assertTrue(ca.session_present, "%s: session present = 1 after the restart" % cid)
                pub.publish(u + "/q1", b"marker", qos=1)
                got, _ = self.raw_until(r, b"marker")
                if sig == SIGTERM:
                    self.assertEqual(got, [], "completed deliveries are not repeated after a graceful restart")
                else:
                    # after kill -9 an acknowledgement may not have been durable yet: a QoS 1
                    # resend with DUP=1 and a PUBREL for a completed QoS 2 are tolerated; a QoS 2
                    # PUBLISH again is a duplicate delivery
                    for p in got:
                        if p.type == raw.PUBLISH:
                            self.assertEqual(p.qos, 1, "QoS 2 message delivered again after PUBCOMP: %r" % p)
                            self.assertTrue(p.dup, "a QoS 1 resend carries DUP=1: %r" % p)
                        else:
                            self.assertEqual(p.type, raw.PUBREL, "unexpected %r" % p)

    def test_acknowledged_deliveries_not_redelivered_sigterm(self):
        self._acknowledged_not_redelivered(SIGTERM)

    def test_acknowledged_deliveries_not_redelivered_kill9(self):
        self._acknowledged_not_redelivered(SIGKILL)


# ============================================================================== in flight
class InflightRestartTest(RestartTestBase):
    def _qos2_pubrel_stage(self, sig):
        state = {}
        pub = self.publisher()
        for cid, version, clean in (("rel-v5", raw.V5, True), ("rel-v311", raw.V311, False)):
            topic = "inflight2/" + cid
            r, _ = self.raw_connect(cid, version, clean)
            sprops = [(raw.P_SUBSCRIPTION_IDENTIFIER, 9)] if version == raw.V5 else None
            r.subscribe([(topic, 2)], properties=sprops)
            pub.publish(topic, b"exactly once", qos=2)
            p = r.expect(raw.PUBLISH)
            self.assertEqual((p.qos, p.payload), (2, b"exactly once"))
            r.send(raw.ack(raw.PUBREC, p.packet_id, version=version))
            rel = r.expect(raw.PUBREL)
            self.assertEqual(rel.packet_id, p.packet_id)
            state[cid] = (version, topic, p.packet_id)
            # no PUBCOMP: the daemon goes down with this delivery at the PUBREL stage
        self.fence(sig)

        self.restart(sig)

        pub = self.publisher()
        for cid, (version, topic, pid) in state.items():
            with self.subTest(client=cid):
                r, ca = self.raw_connect(cid, version, clean=False)
                self.assertTrue(ca.session_present, "%s: session present = 1 after the restart" % cid)
                p = r.recv(5.0)
                self.assertEqual(p.type, raw.PUBREL, "the broker resumes with PUBREL, not the PUBLISH: %r" % p)
                self.assertEqual(p.flags, 0x02)
                self.assertEqual(p.packet_id, pid, "same packet identifier")
                r.send(raw.ack(raw.PUBCOMP, pid, version=version))
                pub.publish(topic, b"after", qos=2)
                got, marker = self.raw_until(r, b"after")
                self.assertEqual(got, [], "nothing else (in particular not the PUBLISH again)")
                self.assertEqual(marker.qos, 2)

    def test_inflight_qos2_pubrel_stage_resumed_after_sigterm_restart(self):
        self._qos2_pubrel_stage(SIGTERM)

    def test_inflight_qos2_pubrel_stage_resumed_after_kill9(self):
        self._qos2_pubrel_stage(SIGKILL)

    def _qos1_unacked(self, sig):
        state = {}
        pub = self.publisher()
        for cid, version, clean in (("unacked-v5", raw.V5, True), ("unacked-v311", raw.V311, False)):
            topic = "inflight1/" + cid
            r, _ = self.raw_connect(cid, version, clean)
            sprops = [(raw.P_SUBSCRIPTION_IDENTIFIER, 5)] if version == raw.V5 else None
            r.subscribe([(topic, 1)], properties=sprops)
            pub.publish(topic, b"not acknowledged", qos=1)
            p = r.expect(raw.PUBLISH)
            self.assertEqual((p.qos, p.dup, p.payload), (1, False, b"not acknowledged"))
            state[cid] = (version, topic, p.packet_id)
            # no PUBACK
        self.fence(sig)

        self.restart(sig)

        pub = self.publisher()
        for cid, (version, topic, pid) in state.items():
            with self.subTest(client=cid):
                r, ca = self.raw_connect(cid, version, clean=False)
                self.assertTrue(ca.session_present, "%s: session present = 1 after the restart" % cid)
                p = r.recv(5.0)
                self.assertEqual(p.type, raw.PUBLISH, "the unacknowledged PUBLISH is sent again: %r" % p)
                self.assertEqual((p.topic, p.payload, p.qos), (topic, b"not acknowledged", 1))
                self.assertTrue(p.dup, "resent with DUP=1")
                self.assertEqual(p.packet_id, pid, "with its original packet identifier")
                if version == raw.V5:
                    self.assertEqual(p.props.get(raw.P_SUBSCRIPTION_IDENTIFIER), [5])
                r.send(raw.ack(raw.PUBACK, pid, version=version))
                pub.publish(topic, b"after", qos=1)
                got, marker = self.raw_until(r, b"after")
                self.assertEqual(got, [], "acknowledged now: not sent again")
                self.assertFalse(marker.dup)

    def test_inflight_qos1_resent_with_dup_after_sigterm_restart(self):
        self._qos1_unacked(SIGTERM)

    def test_inflight_qos1_resent_with_dup_after_kill9(self):
        self._qos1_unacked(SIGKILL)


# ============================================================================== delayed wills
WILL_DELAY = 3


class WillRestartTest(RestartTestBase):
    def will_client(self, cid, topic, delay):
        r = self.raw(raw.V5)
        r.connect(cid, clean=True, properties=[(raw.P_SESSION_EXPIRY, 60)],
                  will={"topic": topic, "payload": b"delayed will", "qos": 1,
                        "properties": [(raw.P_WILL_DELAY, delay), (raw.P_USER_PROPERTY, ("w", "1"))]})
        return r

    def _delayed_will(self, sig):
        u = "dwill"
        w = self.paho("will-watcher", session_expiry=LONG_EXPIRY)
        w.subscribe_opts(u + "/#", 1)
        w.disconnect()
        wc = self.will_client("will-client", u + "/t", WILL_DELAY)
        if sig == SIGKILL:
            # make the disconnection observable (the server closes after DISCONNECT 0x04), then fence;
            # the delay counts from no earlier than the DISCONNECT was sent (the server's close,
            # and then the client's sight of it, may come much later on a slow host)
            t_gone = time.monotonic()
            wc.send(raw.disconnect(0x04))
            wc.read_until_closed(5.0)
            self.fence(sig)
        else:
            t_gone = time.monotonic()
            wc.close()  # abnormal: the will is pending (its delay runs) when the daemon stops
        self.restart(sig)

        w = self.resume("will-watcher")
        self.assertTrue(w.session_present, "the watcher's session is present after the restart")
        m = w.get(timeout=WILL_DELAY + 15)
        t_got = time.monotonic()
        self.assertEqual((m.topic, m.payload, m.qos), (u + "/t", b"delayed will", 1))
        self.assertEqual(prop(m, "UserProperty"), [("w", "1")])
        self.assertGreaterEqual(t_got, t_gone + WILL_DELAY - 0.25,
                                "published %.2fs after the disconnection, before its Will Delay Interval"
                                % (t_got - t_gone))
        self.assertEqual(self.until_marker(w, u + "/marker"), [], "the will is published once")

    def test_delayed_will_published_after_sigterm_restart(self):
        self._delayed_will(SIGTERM)

    def test_delayed_will_published_after_kill9(self):
        self._delayed_will(SIGKILL)

    def test_delayed_will_cancelled_by_reconnect_after_restart(self):
        u = "cwill"
        delay = 5
        w = self.paho("cwill-watcher", session_expiry=LONG_EXPIRY)
        w.subscribe_opts(u + "/#", 1)
        w.disconnect()
        wc = self.will_client("cwill-client", u + "/t", delay)
        t_gone = time.monotonic()
        wc.close()
        self.restart(SIGTERM)
        if time.monotonic() > t_gone + delay - 1:
            self.skipTest("restart took too long to reconnect within the will delay")
        r, ca = self.raw_connect("cwill-client", raw.V5, clean=False, expiry=60)
        self.assertTrue(ca.session_present, "the will client's session (expiry 60) survived the restart")
        w = self.resume("cwill-watcher")
        self.assertTrue(w.session_present, "the watcher's session is present after the restart")
        self.wait_until(t_gone + delay + 1.0)  # past the will's original deadline
        self.assertEqual(self.until_marker(w, u + "/marker"), [], "a reconnect cancels the pending will")


# ============================================================================== configuration
class PersistenceConfigTest(unittest.TestCase):
    """The "persistence" section: {"sync": "sync" | "batch" | "none", "batch_ms": N}."""

    def refused(self, config):
        root = tempfile.mkdtemp(prefix="edgemq-persist-cfg-")
        self.addCleanup(shutil.rmtree, root, True)
        path = os.path.join(root, "edgemq.json")
        with open(path, "w") as f:
            json.dump(config, f)
        return run_edgemq(["--config", path, "--data-dir", os.path.join(root, "data"), "--listen", "127.0.0.1:0"])

    def test_unknown_sync_policy_refused(self):
        r = self.refused({"persistence": {"sync": "sometimes"}})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("/persistence/sync", r.stderr)

    def test_batch_ms_of_wrong_type_refused(self):
        r = self.refused({"persistence": {"sync": "batch", "batch_ms": "soon"}})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("/persistence/batch_ms", r.stderr)


class _PolicyRoundTrip(RestartTestBase):
    sig = SIGKILL

    def test_queued_and_retained_survive(self):
        u = "policy"
        s = self.paho("policy-sub", session_expiry=LONG_EXPIRY)
        s.subscribe_opts(u + "/q/#", 2)
        s.disconnect()
        pub = self.publisher()
        for i in range(10):
            pub.publish(u + "/q/one", b"one-%d" % i, qos=1)
            pub.publish(u + "/q/two", b"two-%d" % i, qos=2)
        pub.publish(u + "/r", b"retained", qos=1, retain=True)
        pub.close()
        self.restart(self.sig)
        s = self.resume("policy-sub")
        self.assertTrue(s.session_present, "session present = 1 after the restart")
        got = self.until_marker(s, u + "/q/marker")
        self.assertEqual(list(dict.fromkeys(m.payload for m in got if m.topic == u + "/q/one")),
                         [b"one-%d" % i for i in range(10)])
        self.assertEqual([m.payload for m in got if m.topic == u + "/q/two"], [b"two-%d" % i for i in range(10)])
        r = self.paho("policy-retained")
        r.subscribe_opts(u + "/r", 1)
        self.assert_retained(r.get(), b"retained", 1)


class BatchPolicyKill9Test(_PolicyRoundTrip):
    """"batch": acknowledgements wait for the group commit, so kill -9 loses nothing acknowledged."""

    config = {"persistence": {"sync": "batch", "batch_ms": 20}}
    sig = SIGKILL


class ExplicitSyncPolicyKill9Test(_PolicyRoundTrip):
    config = {"persistence": {"sync": "sync"}}
    sig = SIGKILL


class NonePolicySigtermTest(_PolicyRoundTrip):
    """"none" (no fsync) still keeps everything across a graceful restart."""

    config = {"persistence": {"sync": "none"}}
    sig = SIGTERM


del _PolicyRoundTrip  # only its subclasses are test cases

if __name__ == "__main__":
    unittest.main()
