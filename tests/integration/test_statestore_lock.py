"""Leased lock over the state store (statestore-protocol.md section 2): two competing worker
processes (support/statestore_client.py lock-worker) increment a counter under the lock,
writing it with the lock's fencing token; a stale holder with an old token is refused."""

import json
import os
import queue
import subprocess
import sys
import threading
import unittest

from support.edgemq_harness import DaemonTestCase
from support.statestore_client import ERR_FT_LOWER, NIL, NOTIFY_DELETE, OK, StateStoreTestMixin, err, hlc_key, integer

HERE = os.path.dirname(os.path.abspath(__file__))
ITERATIONS = 25


class _Worker:
    def __init__(self, port, holder, lock, counter, iterations):
        self.holder = holder
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "support.statestore_client", "lock-worker", "--port", str(port), "--holder", holder,
             "--lock", lock, "--counter", counter, "--iterations", str(iterations), "--lease-ms", "2000",
             "--timeout", "30"],
            cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        self.lines = queue.Queue()
        self.stderr = []
        self.threads = [threading.Thread(target=self._read, args=(self.proc.stdout, self.lines.put), daemon=True),
                        threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr.append), daemon=True)]
        for t in self.threads:
            t.start()

    @staticmethod
    def _read(stream, sink):
        for line in iter(stream.readline, ""):
            sink(line.rstrip("\n"))
        sink(None)

    def line(self, timeout):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("worker %s: no output within %.0fs; stderr: %s"
                                 % (self.holder, timeout, "\n".join(x for x in self.stderr if x))) from None

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for t in self.threads:
            t.join(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


class LeasedLockTest(StateStoreTestMixin, DaemonTestCase):
    config = {"statestore": {"enabled": True, "sync": "sync"}}

    def test_two_competing_workers(self):
        lock, counter = self.unique("lock"), self.unique("counter")
        stale = self.ss_client()
        # The stale holder takes the lock first and writes the counter with its token.
        old_token = self.assertReply(stale.set(lock, stale.client_id, nex=True, px=2000), OK, ts="newer").ts
        self.assertReply(stale.set(counter, b"0", ft=old_token), OK)
        self.assertReply(stale.vdel(lock, stale.client_id), integer(1))

        workers = [_Worker(self.port, self.unique("holder-%s" % n), lock, counter, ITERATIONS) for n in "ab"]
        for w in workers:
            self.addCleanup(w.kill)
        for w in workers:
            self.assertEqual(w.line(15), "ready")
        for w in workers:
            w.go()
        results = []
        for w in workers:
            line = w.line(40)
            self.assertIsNotNone(line, "worker %s exited without a result; stderr: %s" % (w.holder, w.stderr))
            results.append(json.loads(line))
            if os.environ.get("SS_VERBOSE"):
                print("\n%(holder)s: waits=%(waits)d retries=%(retries)d" % results[-1], file=sys.stderr)
            self.assertEqual(w.proc.wait(10), 0, "worker %s failed: %s" % (w.holder, results[-1]["errors"]))
        for r in results:
            self.assertEqual(r["errors"], [], r["holder"])
            self.assertEqual(len(r["writes"]), ITERATIONS, r["holder"])
        self.assertGreater(sum(r["waits"] for r in results), 0,
                           "the workers never competed for the lock (one finished before the other started?)")

        # Mutual exclusion: no increment was lost.
        self.assertReply(stale.get(counter), b"$2\r\n%d\r\n" % (2 * ITERATIONS))
        writes = sorted((v, token, version, r["holder"]) for r in results for v, token, version in r["writes"])
        self.assertEqual([w[0] for w in writes], list(range(1, 2 * ITERATIONS + 1)), "each value written once")
        # Each write was made with a newer lock token than the previous one.
        tokens = [hlc_key(w[1]) for w in writes]
        self.assertEqual(tokens, sorted(tokens))
        self.assertEqual(len(set(tokens)), len(tokens))
        self.assertGreater(tokens[0], hlc_key(old_token))
        # The lock is free at the end.
        self.assertReply(stale.get(lock), NIL, ts=False)

        # Fencing: holders with old tokens are refused, whoever they are.
        self.assertReply(stale.set(counter, b"999", ft=old_token), err(ERR_FT_LOWER))
        self.assertReply(stale.set(counter, b"998", ft=writes[0][1]), err(ERR_FT_LOWER))
        self.assertReply(stale.delete(counter, ft=old_token), err(ERR_FT_LOWER))
        self.assertReply(stale.vdel(counter, b"%d" % (2 * ITERATIONS), ft=old_token), err(ERR_FT_LOWER))
        self.assertReply(stale.get(counter), b"$2\r\n%d\r\n" % (2 * ITERATIONS))
        self.assertReply(stale.set(counter, b"0", ft=writes[-1][1]), OK)  # the latest token is still good

    def test_expired_lease_fences_the_stalled_holder(self):
        # A holds the lease and stalls past its expiry; B (waiting on KEYNOTIFY) takes over and
        # writes; A's late write with its old token is refused.
        a, b = self.ss_client(), self.ss_client()
        lock, data = self.unique("lease"), self.unique("data")
        self.assertReply(b.keynotify(lock), OK)  # registered before trying
        # A lease long enough for the next two requests (B must still find it held), short
        # enough to expire while A stalls.
        token_a = self.assertReply(a.set(lock, a.client_id, nex=True, px=1500), OK).ts
        self.assertReply(a.set(data, b"from-a", ft=token_a), OK)
        self.assertReply(b.set(lock, b.client_id, nex=True, px=5000), b":-1\r\n", ts=True)
        while True:
            n = b.next_notification(timeout=5)
            if n.payload == NOTIFY_DELETE:
                break
        token_b = self.assertReply(b.set(lock, b.client_id, nex=True, px=5000), OK).ts
        self.assertGreater(hlc_key(token_b), hlc_key(token_a))
        # holder: GET of the lease key, held iff __ts is present
        h = self.assertReply(b.get(lock), b"$%d\r\n%s\r\n" % (len(b.client_id), b.client_id.encode()), ts=True)
        self.assertEqual(h.ts, token_b)
        self.assertReply(b.set(data, b"from-b", ft=token_b), OK)
        self.assertReply(a.set(data, b"late-a", ft=token_a), err(ERR_FT_LOWER))
        self.assertReply(a.vdel(lock, a.client_id), integer(-1), ts="any")  # not A's lease any more
        self.assertReply(a.get(data), b"$6\r\nfrom-b\r\n")
        self.assertReply(b.vdel(lock, b.client_id), integer(1))
        self.assertReply(b.vdel(lock, b.client_id), integer(0))


if __name__ == "__main__":
    unittest.main()
