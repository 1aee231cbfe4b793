"""State store durability across daemon restarts on the same data directory (RocksDB in
<data dir>/statestore): values, versions, fencing tokens and expiry deadlines survive a
SIGTERM and a SIGKILL; keys whose deadline passed while the daemon was down are gone."""

import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

from support.statestore_client import (ERR_FT_LOWER, ERR_FT_REQUIRED, NIL, NOTIFY_DELETE, OK, StateStoreClient,
                                       err, format_hlc, hlc_key, integer, make_daemon, now_ms, parse_hlc)

CONFIG = {"statestore": {"enabled": True, "sync": "sync", "node_id": "edgemq"}}


def bulk_reply(v):
    return b"$%d\r\n%s\r\n" % (len(v), v)


class StateStoreRestartTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="edgemq-ss-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.data_dir = os.path.join(self.root, "data")
        self.daemon = None

    def start(self):
        d = make_daemon(self.data_dir, config=CONFIG).start()
        self.addCleanup(d.cleanup)
        self.daemon = d
        return d

    def client(self, d, **kw):
        c = StateStoreClient("127.0.0.1", d.port, **kw)
        self.addCleanup(c.close)
        c.connect()
        return c

    def stop(self, d, sig=signal.SIGTERM):
        rc = d.stop(sig=sig, expect_rc=0 if sig == signal.SIGTERM else None)
        if sig == signal.SIGKILL:
            self.assertEqual(rc, -signal.SIGKILL)

    def assertOk(self, r):
        self.assertEqual(r.payload, OK, r)
        self.assertIsNotNone(r.ts)
        return r.ts

    def test_sigterm_restart_keeps_values_versions_and_tokens(self):
        d = self.start()
        self.assertTrue(os.path.isdir(os.path.join(self.data_dir, "statestore")), "RocksDB under <data>/statestore")
        c = self.client(d)
        values = {b"plain": b"value-1", b"empty": b"", b"bin\x00\r\nkey\xff": b"\x00\r\n\xfe" * 50,
                  b"big": os.urandom(100000)}
        versions = {k: self.assertOk(c.set(k, v)) for k, v in values.items()}
        values[b"plain"] = b"value-2"  # overwritten: the newest value and version count
        versions[b"plain"] = self.assertOk(c.set(b"plain", b"value-2"))
        self.assertOk(c.set(b"deleted", b"x"))
        self.assertEqual(c.delete(b"deleted").payload, integer(1))
        lock = self.assertOk(c.set(b"lock", b"holder", nex=True, px=60000))
        versions[b"protected"] = self.assertOk(c.set(b"protected", b"fenced", ft=lock))
        values[b"protected"] = b"fenced"
        # a version from the (allowed) near future: versions after the restart must stay above it
        future = self.assertOk(c.set(b"future", b"f", ts=format_hlc(now_ms() + 40000, 3, "client")))
        self.assertGreater(hlc_key(future), (now_ms() + 30000, 0))
        c.close()
        self.stop(d)

        d = self.start()
        c = self.client(d)
        for k, v in values.items():
            with self.subTest(key=k[:20]):
                g = c.get(k)
                self.assertEqual(g.payload, bulk_reply(v))
                self.assertEqual(g.ts, versions[k], "the version survives the restart")
        self.assertEqual(c.get(b"deleted").payload, NIL)
        self.assertEqual(c.get(b"lock").payload, bulk_reply(b"holder"))
        self.assertEqual(c.get(b"future").ts, future)
        # the fencing token survived with the key
        self.assertEqual(c.set(b"protected", b"x").payload, err(ERR_FT_REQUIRED))
        self.assertEqual(c.set(b"protected", b"x", ft=format_hlc(1, 0, "old")).payload, err(ERR_FT_LOWER))
        self.assertOk(c.set(b"protected", b"y", ft=lock))
        # new versions are above every stored one, the future one included
        n = self.assertOk(c.set(b"plain", b"value-3"))
        self.assertGreater(hlc_key(n), hlc_key(future))
        self.assertEqual(parse_hlc(n)[2], "edgemq")
        c.close()
        self.stop(d)

    def test_sigkill_keeps_acknowledged_writes(self):
        d = self.start()
        c = self.client(d)
        acked = {}
        for i in range(30):
            k = b"k%02d" % i
            v = b"v%d-" % i + os.urandom(16)
            acked[k] = (v, self.assertOk(c.set(k, v)))
        for i in range(0, 30, 3):  # overwrite some
            k = b"k%02d" % i
            v = b"w%d" % i
            acked[k] = (v, self.assertOk(c.set(k, v)))
        self.assertEqual(c.delete(b"k01").payload, integer(1))
        del acked[b"k01"]
        self.assertEqual(c.vdel(b"k02", acked[b"k02"][0]).payload, integer(1))
        del acked[b"k02"]
        last = self.assertOk(c.set(b"last", b"written just before the kill"))
        acked[b"last"] = (b"written just before the kill", last)
        self.stop(d, signal.SIGKILL)

        d = self.start()
        c = self.client(d)
        for k, (v, ts) in acked.items():
            with self.subTest(key=k):
                g = c.get(k)
                self.assertEqual(g.payload, bulk_reply(v))
                self.assertEqual(g.ts, ts)
        self.assertEqual(c.get(b"k01").payload, NIL)
        self.assertEqual(c.get(b"k02").payload, NIL)
        n = self.assertOk(c.set(b"k00", b"after"))
        self.assertGreater(hlc_key(n), hlc_key(last))
        c.close()
        self.stop(d)

    def test_expiry_deadlines_across_restart(self):
        d = self.start()
        c = self.client(d)
        t0 = time.time()
        long_ts = self.assertOk(c.set(b"long", b"L", px=3500))
        self.assertOk(c.set(b"short", b"S", px=600))
        self.assertOk(c.set(b"forever", b"F"))
        c.close()
        self.stop(d)
        # Wall time is the subject here: wait until the short key's deadline has passed while
        # the daemon is down.
        remaining = t0 + 0.6 + 0.05 - time.time()
        if remaining > 0:
            threading.Event().wait(remaining)
        d = self.start()
        c = self.client(d)
        self.assertEqual(c.get(b"short").payload, NIL, "expired while the daemon was down")
        self.assertEqual(c.get(b"forever").payload, bulk_reply(b"F"))
        g = c.get(b"long")
        if time.time() < t0 + 3.5:
            self.assertEqual(g.payload, bulk_reply(b"L"), "not yet expired: survives the restart")
            self.assertEqual(g.ts, long_ts)
        # and its deadline was kept: it expires (with a DELETE notification) at t0 + 3.5 s
        self.assertEqual(c.keynotify(b"long").payload, OK)
        if c.get(b"long").payload != NIL:
            n = c.next_notification(timeout=max(0.0, t0 + 3.5 - time.time()) + 3.0)
            self.assertEqual(n.payload, NOTIFY_DELETE)
            self.assertIsNotNone(n.ts)
            self.assertGreaterEqual(time.time(), t0 + 3.5 - 0.02, "expired before its deadline")
        self.assertEqual(c.get(b"long").payload, NIL)
        c.close()
        self.stop(d)
        # the expired keys stay gone after another restart
        d = self.start()
        c = self.client(d)
        self.assertEqual(c.get(b"short").payload, NIL)
        self.assertEqual(c.get(b"long").payload, NIL)
        self.assertEqual(c.get(b"forever").payload, bulk_reply(b"F"))
        c.close()
        self.stop(d)


if __name__ == "__main__":
    unittest.main()
