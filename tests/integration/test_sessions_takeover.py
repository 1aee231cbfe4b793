"""Client identifiers, session takeover, persistent sessions and offline queueing."""

import threading
import time
import unittest

from support import rawmqtt as raw
from support.edgemq_harness import DaemonTestCase
from support.paho_helper import PahoClient


class ClientIdTest(DaemonTestCase):
    def test_v5_empty_client_id_gets_assigned_identifier(self):
        c = self.track(raw.RawClient(self.host, self.port))
        ack = c.connect("")
        assigned = ack.props.get(raw.P_ASSIGNED_CLIENT_ID)
        self.assertTrue(assigned, "CONNACK must carry an Assigned Client Identifier: %r" % ack)
        self.assertFalse(ack.session_present)
        # The connection is usable with it.
        t = self.unique("assigned")
        c.subscribe([(t, 1)])
        c.publish(t, b"self", qos=1)
        self.assertEqual(c.expect(raw.PUBLISH).payload, b"self")

    def test_assigned_identifiers_are_unique(self):
        ids = set()
        for _ in range(5):
            c = self.track(raw.RawClient(self.host, self.port))
            ids.add(c.connect("").props.get(raw.P_ASSIGNED_CLIENT_ID))
        self.assertEqual(len(ids), 5, ids)

    def test_v5_paho_empty_client_id(self):
        c = self.track(PahoClient(self.host, self.port, client_id=""))
        ack = c.connect()
        self.assertTrue(ack["properties"].AssignedClientIdentifier)

    def test_v5_named_client_gets_no_assigned_identifier(self):
        c = self.track(raw.RawClient(self.host, self.port))
        ack = c.connect(self.unique("named"))
        self.assertNotIn(raw.P_ASSIGNED_CLIENT_ID, ack.props)

    def test_v311_empty_client_id_with_clean_session_accepted(self):
        c = self.track(raw.RawClient(self.host, self.port, raw.V311))
        ack = c.connect("", clean=True)
        self.assertEqual(ack.body, b"\x00\x00")
        c.ping()

    def test_v311_empty_client_id_without_clean_session_rejected(self):
        c = self.track(raw.RawClient(self.host, self.port, raw.V311))
        ack = c.connect("", clean=False, expect_reason=None)
        self.assertEqual(ack.raw, b"\x20\x02\x00\x02", "identifier rejected (0x02)")
        self.assertTrue(c.is_closed_within(5.0))


class TakeoverTest(DaemonTestCase):
    def test_v5_takeover_sends_0x8e_and_closes_old(self):
        cid = self.unique("take")
        old = self.track(raw.RawClient(self.host, self.port))
        old.connect(cid)
        new = self.track(raw.RawClient(self.host, self.port))
        ack = new.connect(cid)
        self.assertFalse(ack.session_present, "clean start: no session present")
        got = old.read_until_closed()
        self.assertEqual([(p.type, p.reason) for p in got], [(raw.DISCONNECT, 0x8E)],
                         "old connection: DISCONNECT Session taken over, then close")
        new.ping()

    def test_v311_takeover_closes_old(self):
        cid = self.unique("take")
        old = self.track(raw.RawClient(self.host, self.port, raw.V311))
        old.connect(cid)
        new = self.track(raw.RawClient(self.host, self.port, raw.V311))
        new.connect(cid)
        self.assertEqual(old.read_until_closed(), [], "a 3.1.1 client is just disconnected")
        new.ping()

    def test_takeover_with_clean_start_false_keeps_subscriptions(self):
        cid = self.unique("take")
        t = self.unique("take")
        old = self.track(raw.RawClient(self.host, self.port))
        old.connect(cid, properties=[(raw.P_SESSION_EXPIRY, 60)])
        old.subscribe([(t, 1)])
        new = self.track(raw.RawClient(self.host, self.port))
        ack = new.connect(cid, clean=False, properties=[(raw.P_SESSION_EXPIRY, 60)])
        self.assertTrue(ack.session_present)
        self.assertEqual([p.reason for p in old.read_until_closed()], [0x8E])
        pub = self.track(raw.RawClient(self.host, self.port))
        pub.connect(self.unique("pub"))
        self.assertEqual(pub.publish(t, b"to new", qos=1).reason, 0x00)
        p = new.expect(raw.PUBLISH)
        self.assertEqual(p.payload, b"to new")
        new.send(raw.ack(raw.PUBACK, p.packet_id))
        new.send(raw.disconnect(0, properties=[(raw.P_SESSION_EXPIRY, 0)]))

    def test_takeover_with_clean_start_discards_subscriptions(self):
        cid = self.unique("take")
        t = self.unique("take")
        old = self.track(raw.RawClient(self.host, self.port))
        old.connect(cid, properties=[(raw.P_SESSION_EXPIRY, 60)])
        old.subscribe([(t, 1)])
        new = self.track(raw.RawClient(self.host, self.port))
        self.assertFalse(new.connect(cid, clean=True).session_present)
        old.read_until_closed()
        pub = self.track(raw.RawClient(self.host, self.port))
        pub.connect(self.unique("pub"))
        self.assertEqual(pub.publish(t, b"nobody", qos=1).reason, 0x10, "the old subscription must be gone")

    def test_paho_takeover_old_client_is_disconnected(self):
        cid = self.unique("take")
        old = self.track(PahoClient(self.host, self.port, client_id=cid))
        old.connect()
        new = self.track(PahoClient(self.host, self.port, client_id=cid))
        new.connect()
        self.assertTrue(old.disconnected.wait(5.0), "old paho client not disconnected by takeover")
        t = self.unique("take")
        new.subscribe(t, 1)
        new.publish(t, b"alive", qos=1)
        self.assertEqual(new.get().payload, b"alive")

    def test_repeated_takeovers(self):
        cid = self.unique("take")
        clients = []
        for i in range(5):
            c = self.track(raw.RawClient(self.host, self.port))
            c.connect(cid)
            clients.append(c)
        for c in clients[:-1]:
            self.assertEqual([p.reason for p in c.read_until_closed()], [0x8E])
        clients[-1].ping()


class PersistentSessionTest(DaemonTestCase):
    def publisher(self):
        p = self.track(raw.RawClient(self.host, self.port))
        p.connect(self.unique("pub"))
        return p

    def test_v5_resume_delivers_offline_qos1(self):
        cid = self.unique("persist")
        t = self.unique("persist")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(cid, properties=[(raw.P_SESSION_EXPIRY, 300)])
        c.subscribe([(t, 1)])
        c.send(raw.disconnect(0))
        c.read_until_closed()

        pub = self.publisher()
        for i in range(3):
            self.assertEqual(pub.publish(t, b"offline %d" % i, qos=1).reason, 0x00,
                             "an offline persistent session is a matching subscriber")
        pub.publish(t, b"qos0 offline", qos=0)
        pub.ping()  # the QoS 0 publish has been routed (while the session was offline)

        c = self.track(raw.RawClient(self.host, self.port))
        ack = c.connect(cid, clean=False, properties=[(raw.P_SESSION_EXPIRY, 300)])
        self.assertTrue(ack.session_present)
        got = []
        for _ in range(3):
            p = c.expect(raw.PUBLISH)
            self.assertEqual(p.qos, 1)
            c.send(raw.ack(raw.PUBACK, p.packet_id))
            got.append(p.payload)
        self.assertEqual(got, [b"offline 0", b"offline 1", b"offline 2"])
        # The subscription itself survived too; QoS 0 was not queued while offline (default).
        pub.publish(t, b"online", qos=0)
        self.assertEqual(c.expect(raw.PUBLISH).payload, b"online")
        c.send(raw.disconnect(0, properties=[(raw.P_SESSION_EXPIRY, 0)]))

    def test_v5_zero_session_expiry_ends_session_at_disconnect(self):
        cid = self.unique("persist")
        t = self.unique("persist")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(cid)  # no Session Expiry Interval: 0
        c.subscribe([(t, 1)])
        c.send(raw.disconnect(0))
        c.read_until_closed()
        self.assertEqual(self.publisher().publish(t, b"x", qos=1).reason, 0x10)
        c = self.track(raw.RawClient(self.host, self.port))
        self.assertFalse(c.connect(cid, clean=False).session_present)

    def test_v5_clean_start_true_discards_stored_session(self):
        cid = self.unique("persist")
        t = self.unique("persist")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(cid, properties=[(raw.P_SESSION_EXPIRY, 300)])
        c.subscribe([(t, 1)])
        c.close()
        self.publisher().publish(t, b"stale", qos=1)
        c = self.track(raw.RawClient(self.host, self.port))
        self.assertFalse(c.connect(cid, clean=True).session_present)
        c.ping()  # PINGRESP first: no stale message was delivered
        self.assertEqual(self.publisher().publish(t, b"x", qos=1).reason, 0x10, "subscription must be gone")

    def test_v5_unacked_qos1_resent_with_dup_after_reconnect(self):
        cid = self.unique("persist")
        t = self.unique("persist")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(cid, properties=[(raw.P_SESSION_EXPIRY, 300)])
        c.subscribe([(t, 1)])
        self.publisher().publish(t, b"unacked", qos=1)
        first = c.expect(raw.PUBLISH)
        self.assertFalse(first.dup)
        c.close()  # without PUBACK
        c = self.track(raw.RawClient(self.host, self.port))
        self.assertTrue(c.connect(cid, clean=False, properties=[(raw.P_SESSION_EXPIRY, 300)]).session_present)
        again = c.expect(raw.PUBLISH)
        self.assertEqual((again.payload, again.packet_id, again.dup), (b"unacked", first.packet_id, True))
        c.send(raw.ack(raw.PUBACK, again.packet_id))
        c.send(raw.disconnect(0, properties=[(raw.P_SESSION_EXPIRY, 0)]))

    def test_v5_qos2_pubrel_resent_after_reconnect(self):
        cid = self.unique("persist")
        t = self.unique("persist")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(cid, properties=[(raw.P_SESSION_EXPIRY, 300)])
        c.subscribe([(t, 2)])
        self.publisher().publish(t, b"two", qos=2)
        p = c.expect(raw.PUBLISH)
        c.send(raw.ack(raw.PUBREC, p.packet_id))
        self.assertEqual(c.expect(raw.PUBREL).packet_id, p.packet_id)
        c.close()  # without PUBCOMP
        c = self.track(raw.RawClient(self.host, self.port))
        self.assertTrue(c.connect(cid, clean=False, properties=[(raw.P_SESSION_EXPIRY, 300)]).session_present)
        rel = c.expect(raw.PUBREL)
        self.assertEqual(rel.packet_id, p.packet_id, "the PUBREL (not the PUBLISH) is re-sent")
        c.send(raw.ack(raw.PUBCOMP, rel.packet_id))
        c.ping()

    def test_v311_persistent_session_with_paho(self):
        cid = self.unique("persist311")
        t = self.unique("persist311")
        c = PahoClient(self.host, self.port, client_id=cid, version=4, clean=False)
        c.connect()
        self.assertEqual(c.subscribe(t, 1), [1])
        c.disconnect()

        pub = self.track(PahoClient(self.host, self.port, version=4))
        pub.connect()
        pub.publish(t, b"while away", qos=1)
        pub.publish(t, b"while away 2", qos=2)

        c = self.track(PahoClient(self.host, self.port, client_id=cid, version=4, clean=False))
        c.connect()
        self.assertTrue(c.session_present)
        got = [c.get(), c.get()]
        self.assertEqual([(m.payload, m.qos) for m in got], [(b"while away", 1), (b"while away 2", 1)])
        # a clean session afterwards drops everything
        c.disconnect()
        c = self.track(PahoClient(self.host, self.port, client_id=cid, version=4, clean=True))
        c.connect()
        self.assertFalse(c.session_present)

    def test_v5_persistent_session_with_paho(self):
        cid = self.unique("persist5")
        t = self.unique("persist5")
        c = PahoClient(self.host, self.port, client_id=cid, clean=True, session_expiry=120)
        c.connect()
        c.subscribe(t, 2)
        c.disconnect()
        pub = self.track(PahoClient(self.host, self.port))
        pub.connect()
        pub.publish(t, b"offline q2", qos=2)
        c = self.track(PahoClient(self.host, self.port, client_id=cid, clean=False, session_expiry=0))
        c.connect()
        self.assertTrue(c.session_present)
        m = c.get()
        self.assertEqual((m.payload, m.qos), (b"offline q2", 2))

    def test_session_expires_after_interval(self):
        cid = self.unique("expire")
        t = self.unique("expire")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(cid, properties=[(raw.P_SESSION_EXPIRY, 1)])
        c.subscribe([(t, 0)])
        c.send(raw.disconnect(0))
        c.read_until_closed()
        gone_at = time.monotonic()
        pub = self.publisher()
        self.assertEqual(pub.publish(t, b"kept", qos=1).reason, 0x00, "session still alive right after disconnect")
        # Wait (bounded) until the broker has expired the session: its subscription disappears.
        pace = threading.Event()
        deadline = gone_at + 6.0
        while pub.publish(t, b"probe", qos=1).reason != 0x10:
            self.assertLess(time.monotonic(), deadline, "session with expiry 1s still present after 6s")
            pace.wait(0.1)
        self.assertGreaterEqual(time.monotonic() - gone_at, 0.9, "session expired before its interval")
        c = self.track(raw.RawClient(self.host, self.port))
        self.assertFalse(c.connect(cid, clean=False).session_present)

    def test_disconnect_cannot_give_expiry_to_zero_expiry_session(self):
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(self.unique("dx"))
        c.send(raw.disconnect(0, properties=[(raw.P_SESSION_EXPIRY, 30)]))
        got = c.read_until_closed()
        self.assertEqual([(p.type, p.reason) for p in got], [(raw.DISCONNECT, 0x82)])


if __name__ == "__main__":
    unittest.main()
