"""KEYNOTIFY and key expiry (statestore-protocol.md 1.6, 2, 6.7): notification payloads,
topics and versions for SET, DEL, VDEL and PX expiry; direct delivery to the watcher (whatever
its subscriptions match, exactly once); watches end with the connection and with STOP.

Absence of a notification is checked with a barrier: a round trip of the watcher through the
store issued after the write was answered. The store handles requests in order and sends a
write's notifications before it handles any later request, so a notification that was going
to come is queued before the barrier's reply arrives."""

import time
import unittest

from support.edgemq_harness import DaemonTestCase
from support.statestore_client import (CONTENT_TYPE, NIL, NOTIFY_DELETE, OK, StateStoreClient, StateStoreTestMixin,
                                       hlc_key, integer, notification_topic, notify_set_payload)


class KeyNotifyTestBase(StateStoreTestMixin, DaemonTestCase):
    config = {"statestore": {"enabled": True}}

    def watcher(self, **kw):
        """A client that subscribed only to its response topic (not to any notification
        topic): notifications reaching it prove direct delivery."""
        kw.setdefault("subscribe_notifications", False)
        return self.ss_client(**kw)

    def assertNotification(self, n, client_id, key, payload, min_version=None, version=None):
        self.assertEqual(n.topic, notification_topic(client_id, key))
        self.assertEqual(n.payload, payload)
        self.assertIsNotNone(n.ts, "a notification without __ts is dropped by the SDKs")
        self.assertIn(n.content_type, (None, CONTENT_TYPE))
        if version is not None:
            self.assertEqual(n.ts, version)
        if min_version is not None:
            self.assertGreater(hlc_key(n.ts), hlc_key(min_version))
        return n

    def assertNoNotification(self, w):
        w.barrier()
        got = w.drain_notifications()
        self.assertEqual(got, [], "unexpected notifications: %r" % got)


class KeyNotifyTest(KeyNotifyTestBase):
    def test_set_del_vdel_notifications(self):
        w = self.watcher()
        a = self.ss_client()
        k = self.key()
        self.assertReply(w.keynotify(k), OK)
        s = self.assertReply(a.set(k, b"abc"), OK)
        n = self.assertNotification(w.next_notification(), w.client_id, k,
                                    b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\nabc\r\n", version=s.ts)
        self.assertEqual(n.qos, 1)
        d = self.assertReply(a.delete(k), integer(1))
        self.assertNotification(w.next_notification(), w.client_id, k, b"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n",
                                min_version=s.ts)
        self.assertIsNotNone(d.ts)
        s2 = self.assertReply(a.set(k, b"x" * 12), OK)
        self.assertNotification(w.next_notification(), w.client_id, k, notify_set_payload(b"x" * 12), version=s2.ts)
        self.assertReply(a.vdel(k, b"nope"), integer(-1))  # nothing deleted: no notification
        self.assertNoNotification(w)
        self.assertReply(a.vdel(k, b"x" * 12), integer(1))
        self.assertNotification(w.next_notification(), w.client_id, k, NOTIFY_DELETE, min_version=s2.ts)
        self.assertReply(a.delete(k), integer(0))  # absent: nothing deleted, no notification
        self.assertNoNotification(w)
        self.assertEqual(a.drain_notifications(), [], "the writer does not watch the key")

    def test_no_notification_for_refused_writes(self):
        w = self.watcher()
        a = self.ss_client()
        k = self.key()
        a.set(k, b"v")
        w.keynotify(k)
        self.assertReply(a.set(k, b"w", nx=True), b":-1\r\n")
        self.assertReply(a.set(k, b"w", nex=True), b":-1\r\n")
        self.assertReply(a.set(k, b"w", ts=None), b"-ERR missing timestamp\r\n")
        self.assertNoNotification(w)

    def test_only_the_watched_key_notifies(self):
        w = self.watcher()
        a = self.ss_client()
        k, other = self.key(), self.key("other")
        w.keynotify(k)
        a.set(other, b"v")
        a.delete(other)
        a.set(k + b"suffix", b"v")
        self.assertNoNotification(w)

    def test_watcher_gets_its_own_writes(self):
        w = self.watcher()
        k = self.key()
        w.keynotify(k)
        s = w.set(k, b"mine")
        self.assertNotification(w.next_notification(), w.client_id, k, notify_set_payload(b"mine"), version=s.ts)

    def test_topic_is_upper_hex_of_client_id_and_key(self):
        # The docs' example: client "client-id1", key "SOMEKEY".
        w = self.watcher(client_id="client-id1")
        a = self.ss_client()
        self.assertReply(w.invoke(b"*2\r\n$9\r\nKEYNOTIFY\r\n$7\r\nSOMEKEY\r\n"), OK)
        a.set(b"SOMEKEY", b"1")
        n = w.next_notification()
        self.assertEqual(n.topic, "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/636C69656E742D696431"
                                  "/command/notify/534F4D454B4559")
        self.assertEqual(len(n.topic.split("/")), 8)
        a.delete(b"SOMEKEY")
        self.assertEqual(w.next_notification().payload, NOTIFY_DELETE)

    def test_binary_key_topic(self):
        w = self.watcher()
        a = self.ss_client()
        k = b"\x00\r\n\xffk" + self.key()
        w.keynotify(k)
        a.set(k, b"\x00\r\n")
        n = w.next_notification()
        self.assertEqual(n.topic.split("/")[7], k.hex().upper())
        self.assertEqual(n.payload, b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\n\x00\r\n\r\n")

    def test_delivered_exactly_once_with_overlapping_subscriptions(self):
        w0 = StateStoreClient(self.host, self.port)  # just for its client id
        k = self.key()
        exact = notification_topic(w0.client_id, k)
        w = self.ss_client(client_id=w0.client_id, subscribe_notifications=True, extra_subscriptions=["#", exact])
        a = self.ss_client()
        w.keynotify(k)
        a.set(k, b"once")
        self.assertNoNotification_count(w, 1, notify_set_payload(b"once"))
        a.delete(k)
        self.assertNoNotification_count(w, 1, NOTIFY_DELETE)

    def assertNoNotification_count(self, w, count, payload):
        w.barrier()
        got = w.drain_notifications()
        self.assertEqual([n.payload for n in got], [payload] * count, "got %r" % got)

    def test_other_watchers_each_get_their_own(self):
        w1, w2 = self.watcher(), self.watcher()
        a = self.ss_client()
        k = self.key()
        w1.keynotify(k)
        w2.keynotify(k)
        s = a.set(k, b"v")
        self.assertNotification(w1.next_notification(), w1.client_id, k, notify_set_payload(b"v"), version=s.ts)
        self.assertNotification(w2.next_notification(), w2.client_id, k, notify_set_payload(b"v"), version=s.ts)
        self.assertNoNotification(w1)
        self.assertNoNotification(w2)

    def test_keynotify_twice_still_notifies_once(self):
        w = self.watcher()
        a = self.ss_client()
        k = self.key()
        self.assertReply(w.keynotify(k), OK)
        self.assertReply(w.keynotify(k), OK)
        a.set(k, b"v")
        self.assertNoNotification_count(w, 1, notify_set_payload(b"v"))

    def test_stop(self):
        w = self.watcher()
        a = self.ss_client()
        k = self.key()
        w.keynotify(k)
        a.set(k, b"1")
        self.assertEqual(w.next_notification().payload, notify_set_payload(b"1"))
        self.assertReply(w.keynotify(k, stop=True), OK)
        a.set(k, b"2")
        a.delete(k)
        self.assertNoNotification(w)
        self.assertReply(w.keynotify(k, stop=True), integer(0))

    def test_stop_by_another_client_does_not_end_my_watch(self):
        # Watches are per (key, client id).
        w = self.watcher()
        other = self.ss_client()
        a = self.ss_client()
        k = self.key()
        w.keynotify(k)
        self.assertReply(other.keynotify(k, stop=True), integer(0))
        a.set(k, b"v")
        self.assertEqual(w.next_notification().payload, notify_set_payload(b"v"))

    def watch_with_will(self):
        """A persistent watcher `w` of key `k` whose will goes to `will_topic`, which client `a`
        receives: seeing the will tells that the broker has finished with w's connection."""
        a = self.ss_client()
        will_topic = self.unique("will")
        a.subscribe(will_topic, 1)
        w = self.watcher(clean=False, session_expiry=300, will=(will_topic, b"gone"))
        k = self.key()
        w.keynotify(k)
        return a, will_topic, w, k

    def reconnect_drops_watch(self, abnormal):
        # The watcher has a will; seeing it published tells us the broker has closed the
        # connection (and told the store) before the "away" write is made.
        a, will_topic, w, k = self.watch_with_will()
        a.set(k, b"before")
        self.assertEqual(w.next_notification().payload, notify_set_payload(b"before"))
        if abnormal:
            w.drop()
        else:
            w.disconnect(with_will=True)
        self.assertEqual(a.other.get(timeout=5).topic, will_topic)
        # writes while the watcher is away are not queued for it
        self.assertReply(a.set(k, b"away"), OK)
        w = self.track(StateStoreClient(self.host, self.port, client_id=w.client_id, clean=False,
                                        session_expiry=300, subscribe_notifications=False))
        w.connect()
        self.assertTrue(w.session_present, "the persistent session was kept")
        self.assertNoNotification(w)
        a.set(k, b"after-reconnect")
        self.assertNoNotification(w)
        # until the client registers again
        self.assertReply(w.keynotify(k), OK)
        a.set(k, b"again")
        self.assertEqual(w.next_notification().payload, notify_set_payload(b"again"))

    def test_disconnect_drops_watches_even_with_persistent_session(self):
        self.reconnect_drops_watch(abnormal=False)

    def test_connection_loss_drops_watches_even_with_persistent_session(self):
        self.reconnect_drops_watch(abnormal=True)

    def test_takeover_drops_watches(self):
        # A second connection with the same client id takes the session over: the watch
        # registered over the first connection ends with it.
        # The first connection has a will (published at the takeover): seeing it tells us the
        # broker has finished with that connection (and told the store) before the write is
        # made; its DISCONNECT 0x8E alone is sent before that.
        a, will_topic, w, k = self.watch_with_will()
        w2 = self.ss_client(client_id=w.client_id, clean=False, session_expiry=300, subscribe_notifications=False)
        self.assertTrue(w.disconnected.wait(5), "the first connection was taken over")
        self.assertEqual(a.other.get(timeout=5).topic, will_topic)
        a.set(k, b"v")
        self.assertNoNotification(w2)
        # registering over the new connection works, once
        self.assertReply(w2.keynotify(k), OK)
        a.set(k, b"w")
        self.assertNoNotification_count(w2, 1, notify_set_payload(b"w"))


class ExpiryTest(KeyNotifyTestBase):
    def test_px_expiry(self):
        w = self.watcher()
        a = self.ss_client()
        k = self.key()
        w.keynotify(k)
        t0 = time.monotonic()
        s = self.assertReply(a.set(k, b"short", px=300), OK)
        self.assertNotification(w.next_notification(), w.client_id, k, notify_set_payload(b"short"), version=s.ts)
        g = a.get(k)
        if time.monotonic() - t0 < 0.3:  # answered before the deadline could have passed: a hit
            self.assertReply(g, b"$5\r\nshort\r\n", ts=True)
            self.assertEqual(g.ts, s.ts)
        n = self.assertNotification(w.next_notification(timeout=5), w.client_id, k, NOTIFY_DELETE, min_version=s.ts)
        self.assertGreaterEqual(n.received_at - t0, 0.29, "expired early")
        self.assertReply(a.get(k), NIL, ts=False)
        self.assertReply(a.delete(k), integer(0))

    def test_expiry_notifies_without_any_request(self):
        # Expiry is driven by the store itself, not by a later request touching the key.
        w = self.watcher()
        a = self.ss_client()
        k = self.key()
        w.keynotify(k)
        a.set(k, b"v", px=200)
        self.assertEqual(w.next_notification().payload, notify_set_payload(b"v"))
        self.assertEqual(w.next_notification(timeout=5).payload, NOTIFY_DELETE)

    def test_nex_renewal_extends_the_lease(self):
        # Renewing a lease (SET NEX PX with the same value) moves its deadline; a second key
        # expiring at 2 s serves as the clock. (The renewal must come within the first lease,
        # two round trips: 1 s leaves room for a loaded machine.)
        w = self.watcher()
        a = self.ss_client()
        lease, clock = self.key("lease"), self.key("clock")
        w.keynotify(lease)
        w.keynotify(clock)
        self.assertReply(a.set(lease, b"holder", nex=True, px=1000), OK)
        self.assertReply(a.set(clock, b"tick", px=2000), OK)
        self.assertReply(a.set(lease, b"holder", nex=True, px=10000), OK)  # renew
        seen = []
        while True:
            n = w.next_notification(timeout=5)
            seen.append((n.topic, n.payload))
            if n.topic == notification_topic(w.client_id, clock) and n.payload == NOTIFY_DELETE:
                break
        self.assertNotIn((notification_topic(w.client_id, lease), NOTIFY_DELETE), seen,
                         "the renewed lease expired at its old deadline")
        self.assertReply(a.get(lease), b"$6\r\nholder\r\n")
        self.assertReply(a.set(lease, b"intruder", nex=True, px=300), b":-1\r\n")
        self.assertReply(a.vdel(lease, b"holder"), integer(1))

    def test_expired_lock_can_be_taken_by_another_holder(self):
        w = self.watcher()
        a = self.ss_client()
        lock = self.key("lock")
        w.keynotify(lock)
        first = self.assertReply(a.set(lock, b"client1", nex=True, px=1000), OK)  # long enough to see it held
        self.assertReply(w.set(lock, b"client2", nex=True, px=5000), b":-1\r\n")
        while w.next_notification(timeout=5).payload != NOTIFY_DELETE:
            pass
        second = self.assertReply(w.set(lock, b"client2", nex=True, px=5000), OK)
        self.assertGreater(hlc_key(second.ts), hlc_key(first.ts), "a newer holder gets a newer token")
        self.assertReply(a.vdel(lock, b"client1"), integer(-1))
        self.assertReply(w.vdel(lock, b"client2"), integer(1))


if __name__ == "__main__":
    unittest.main()
