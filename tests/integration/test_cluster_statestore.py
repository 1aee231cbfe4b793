"""The state store across the nodes of a cluster (docs/cluster.md, "The state store in a
cluster"): three edgemq nodes over three etcd members. What one node writes every node reads; a
lock or a fencing token taken through one node holds on every node; KEYNOTIFY through any node sees
the changes made through every node exactly once, PX expiry included; and an etcd leader killed
mid-traffic costs errors during the election (with the store's error text), never a wrong answer
or a lost or repeated notification.

Absence of a further notification is checked with a barrier through the watcher's own node: a
write there is answered only once that node's etcd watch has passed its revision, so every
notification of an earlier change has been sent by then."""

import threading
import time
import unittest

from support.cluster_engines import ClusterEngines, EdgemqCluster, missing_engines
from support.edgemq_harness import HOST
from support.statestore_client import (ERR_FT_LOWER, ERR_FT_REQUIRED, NIL, NOT_APPLIED, NOTIFY_DELETE, OK,
                                       StateStoreClient, err, hlc_key, integer, notify_set_payload, parse_hlc)

STORAGE_ERROR = err("the state store cannot write to its storage; try again later")


class ClusterStateStoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = missing_engines()
        if why:
            raise unittest.SkipTest(why)
        cls.engines = ClusterEngines().start()
        try:
            cls.engines.wait_healthy(30)
            cls.cluster = EdgemqCluster(cls.engines).start()
        except BaseException:
            cls.engines.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.cluster.stop()
        finally:
            cls.engines.stop()

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
        for i, node in enumerate(self.cluster.nodes):
            self.assertTrue(node.alive(), "node%d died:\n%s" % (i + 1, node.stderr.text()))

    def client(self, node, **kw):
        kw.setdefault("subscribe_notifications", False)  # notifications reach the watcher directly
        c = StateStoreClient(HOST, self.cluster[node].port, **kw)
        self.clients.append(c)
        c.connect()
        return c

    def key(self, stem):
        type(self).counter = getattr(type(self), "counter", 0) + 1
        return ("%s-%s-%d" % (stem, self._testMethodName, type(self).counter)).encode()

    def notifications_after_barrier(self, watcher):
        watcher.set(self.key("barrier"), b"x")
        return watcher.drain_notifications()

    # ------------------------------------------------------------------ reads and writes
    def test_set_on_one_node_get_on_every_node(self):
        a, b, c = self.client(0), self.client(1), self.client(2)
        k = self.key("shared")
        s = a.set(k, b"from-node1")
        self.assertEqual(s.payload, OK)
        self.assertEqual(parse_hlc(s.ts)[2], "node1")
        for other in (b, c):
            g = other.get(k)
            self.assertEqual(g.payload, b"$10\r\nfrom-node1\r\n")
            self.assertEqual(g.ts, s.ts, "every node answers the version the writing node handed out")
        # a later write through another node gets a newer version (HLCs move forward together)
        s2 = c.set(k, b"from-node3")
        self.assertGreater(hlc_key(s2.ts), hlc_key(s.ts))
        self.assertEqual(a.get(k).payload, b"$10\r\nfrom-node3\r\n")
        self.assertEqual(b.delete(k).payload, integer(1))
        self.assertEqual(a.get(k).payload, NIL)
        self.assertEqual(c.vdel(k, b"x").payload, integer(0))

    def test_lock_taken_through_one_node_is_refused_through_the_others(self):
        a, b, c = self.client(0), self.client(1), self.client(2)
        lock = self.key("lock")
        self.assertEqual(a.set(lock, b"holder-a", nx=True, px=800).payload, OK)
        self.assertEqual(b.set(lock, b"holder-b", nx=True, px=800).payload, NOT_APPLIED)
        self.assertEqual(c.set(lock, b"holder-c", nx=True, px=800).payload, NOT_APPLIED)
        self.assertEqual(b.vdel(lock, b"holder-b").payload, integer(-1), "only the holder's value releases it")
        # PX is exact to the millisecond on every node (etcd's lease alone would keep it >= 2 s)
        deadline = time.monotonic() + 5
        while True:
            r = b.set(lock, b"holder-b", nx=True, px=5000)
            if r.payload == OK:
                break
            self.assertEqual(r.payload, NOT_APPLIED)
            self.assertLess(time.monotonic(), deadline, "the expired lock was never free")
            time.sleep(0.05)  # polling the lock as a client would: nothing to await
        self.assertEqual(a.get(lock).payload, b"$8\r\nholder-b\r\n")
        self.assertEqual(a.set(lock, b"holder-a", nx=True).payload, NOT_APPLIED)

    def test_stale_fencing_token_is_refused_on_every_node(self):
        a, b, c = self.client(0), self.client(1), self.client(2)
        lock, res = self.key("lock"), self.key("resource")
        old = a.set(lock, b"a", nex=True, px=10000).ts
        self.assertEqual(a.vdel(lock, b"a").payload, integer(1))
        new = b.set(lock, b"b", nex=True, px=10000).ts
        self.assertGreater(hlc_key(new), hlc_key(old))
        self.assertEqual(b.set(res, b"by-new", ft=new).payload, OK)
        for node in (a, b, c):
            self.assertEqual(node.set(res, b"by-old", ft=old).payload, err(ERR_FT_LOWER))
            self.assertEqual(node.set(res, b"no-token").payload, err(ERR_FT_REQUIRED))
            self.assertEqual(node.delete(res, ft=old).payload, err(ERR_FT_LOWER))
            self.assertEqual(node.get(res).payload, b"$6\r\nby-new\r\n")
        self.assertEqual(c.set(res, b"again", ft=new).payload, OK)
        self.assertEqual(a.delete(res, ft=new).payload, integer(1))

    # ------------------------------------------------------------------ KEYNOTIFY
    def test_keynotify_on_one_node_sees_every_node_exactly_once(self):
        a, b, w = self.client(0), self.client(1), self.client(2)
        k = self.key("watched")
        self.assertEqual(w.keynotify(k).payload, OK)
        v1 = a.set(k, b"v1").ts
        v2 = b.set(k, b"v2").ts
        self.assertEqual(b.vdel(k, b"nope").payload, integer(-1))  # no change, no notification
        self.assertEqual(a.delete(k).payload, integer(1))
        got = [w.next_notification() for _ in range(3)]
        self.assertEqual([n.payload for n in got], [notify_set_payload(b"v1"), notify_set_payload(b"v2"), NOTIFY_DELETE])
        self.assertEqual([got[0].ts, got[1].ts], [v1, v2], "a notification carries the change's version")
        self.assertEqual(self.notifications_after_barrier(w), [])

    def test_px_expiry_is_notified_once_and_on_time(self):
        a, w = self.client(0), self.client(2)
        k = self.key("expiring")
        self.assertEqual(w.keynotify(k).payload, OK)
        t0 = time.monotonic()
        self.assertEqual(a.set(k, b"short", px=400).payload, OK)
        self.assertEqual(w.next_notification().payload, notify_set_payload(b"short"))
        self.assertEqual(w.next_notification(timeout=5).payload, NOTIFY_DELETE)
        self.assertLess(time.monotonic() - t0, 1.9, "deleted at its PX deadline, not at the lease's (>= 2 s)")
        self.assertEqual(w.get(k).payload, NIL)
        self.assertEqual(self.notifications_after_barrier(w), [])

    # ------------------------------------------------------------------ failures (last: they disturb etcd)
    def test_z_etcd_leader_killed_no_wrong_answer_no_lost_notification(self):
        writer, reader, w = self.client(0), self.client(1), self.client(2)
        k = self.key("through-election")
        self.assertEqual(w.keynotify(k).payload, OK)
        acked, errors, wrong = [], [], []
        stop = threading.Event()

        def traffic():
            i = 0
            while not stop.is_set():
                i += 1
                value = b"%06d" % i
                r = writer.set(k, value, timeout=15)
                if r.payload == OK:
                    acked.append(value)
                    g = reader.get(k, timeout=15)
                    if g.payload == STORAGE_ERROR:
                        errors.append(g.payload)
                    elif g.payload != b"$6\r\n" + value + b"\r\n":
                        wrong.append((value, g.payload))
                elif r.payload == STORAGE_ERROR:
                    errors.append(r.payload)  # outcome unknown: it may or may not have been applied
                else:
                    wrong.append((value, r.payload))

        t = threading.Thread(target=traffic)
        t.start()
        try:
            deadline = time.monotonic() + 10
            while len(acked) < 10 and time.monotonic() < deadline:
                time.sleep(0.02)  # until traffic flows
            killed = self.engines.kill_etcd_leader()
            before = len(acked)
            deadline = time.monotonic() + 20
            while len(acked) < before + 20 and time.monotonic() < deadline:
                time.sleep(0.05)  # until writes are acknowledged again after the election
        finally:
            stop.set()
            t.join(30)
        self.assertGreaterEqual(len(acked), before + 20, "writes were not answered again after the re-election")
        self.assertEqual(wrong, [], "wrong answers during the election")
        # Every acknowledged SET notified exactly once, in order (an errored SET may have landed too).
        values = []
        deadline = time.monotonic() + 10
        while acked[-1] not in values and time.monotonic() < deadline:
            n = w.next_notification(timeout=10)
            values.append(n.payload.split(b"\r\n")[-2])
        values += [n.payload.split(b"\r\n")[-2] for n in self.notifications_after_barrier(w)]
        self.assertEqual(values, sorted(set(values)), "a notification was repeated or out of order")
        missing = [v for v in acked if v not in values]
        self.assertEqual(missing, [], "notifications lost across the leader change")
        self.engines.restart_etcd(killed)
        self.engines.wait_healthy(30)

    def test_z2_without_quorum_requests_fail_with_the_error_then_recover(self):
        a, b = self.client(0), self.client(1)
        k = self.key("quorum")
        self.assertEqual(a.set(k, b"before").payload, OK)
        down = [i for i in range(3) if i != self.engines.etcd_leader_index()][:1] + [self.engines.etcd_leader_index()]
        for i in down:
            self.engines.etcd[i].kill()
        try:
            # No quorum: writes and linearizable reads cannot be served; each says so.
            self.assertEqual(a.set(k, b"during", timeout=20).payload, STORAGE_ERROR)
            self.assertEqual(b.get(k, timeout=20).payload, STORAGE_ERROR)
            self.assertEqual(b.keynotify(k, timeout=20).payload, STORAGE_ERROR)
        finally:
            for i in down:
                self.engines.restart_etcd(i)
            self.engines.wait_healthy(30)
        deadline = time.monotonic() + 20
        while True:
            r = b.get(k, timeout=20)
            if r.payload != STORAGE_ERROR:
                break
            self.assertLess(time.monotonic(), deadline, "the store did not answer again once etcd had a quorum")
            time.sleep(0.1)  # polling as a client would
        self.assertEqual(r.payload, b"$6\r\nbefore\r\n", "the refused write did not happen")
        self.assertEqual(a.set(k, b"after").payload, OK)
        self.assertEqual(b.get(k).payload, b"$5\r\nafter\r\n")


if __name__ == "__main__":
    unittest.main()
