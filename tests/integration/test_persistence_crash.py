"""Crash test for durable broker state: kill -9 at a random moment while publishers stream
QoS 1 and QoS 2 messages to offline persistent sessions, restart on the same data directory
and check that every message the broker acknowledged reaches every persistent subscriber.

Guarantee under test (default "sync" policy, and "batch"): a QoS 1/2 PUBLISH routed to a
persistent session is acknowledged (PUBACK / PUBREC) only once it is durable, so after a
kill -9 at any moment and a restart every acknowledged message is delivered to every matching
persistent subscriber: QoS 1 possibly more than once, QoS 2 exactly once.

Each iteration runs on a fresh data directory with its own seed (printed; rerun one with
EDGEMQ_CRASH_SEED=<seed>). The seed picks the kill point: a separate process
(support/persistence_killer.py) sleeps a random delay in [0, window] then sends SIGKILL to the
daemon. The window is at most 1.5 s (EDGEMQ_CRASH_MAX_DELAY), and by default it is fitted to the
workload: a first, uninterrupted run of the same workload measures how long the broker takes
to acknowledge everything (D), and the window is min(1.5 s, max(0.05 s, 1.1 * D)), so that most kill points
fall while acknowledgements are still being sent rather than after the last one. Setting
EDGEMQ_CRASH_MAX_DELAY skips that calibration and uses [0, EDGEMQ_CRASH_MAX_DELAY]; so one
iteration is replayed (same kill delay) with EDGEMQ_CRASH_SEED=<seed>
EDGEMQ_CRASH_MAX_DELAY=<window>, both printed.
Other knobs: EDGEMQ_CRASH_N (messages per QoS level, 300), EDGEMQ_CRASH_ITERATIONS (8 with
the default policy, half as many with "batch").
"""

import collections
import os
import random
import signal
import sys
import time
import unittest

from support.persist_clients import Killer, PersistClient, TrackingPublisher, prop
from support.edgemq_harness import RestartableDaemon

N = int(os.environ.get("EDGEMQ_CRASH_N", "300"))  # messages per QoS level (split over the publishers)
ITERATIONS = int(os.environ.get("EDGEMQ_CRASH_ITERATIONS", "8"))
MAX_DELAY = float(os.environ.get("EDGEMQ_CRASH_MAX_DELAY", "1.5"))
CALIBRATE = "EDGEMQ_CRASH_MAX_DELAY" not in os.environ
FIXED_SEED = os.environ.get("EDGEMQ_CRASH_SEED")
COLLECT_TIMEOUT = 15.0
SESSION_EXPIRY = 3600
SUB_ID_Q1, SUB_ID_Q2 = 11, 22
PUBLISHERS = (("v5", 5), ("v311", 4))


def _seeds(count):
    if FIXED_SEED is not None:
        return [int(FIXED_SEED)]
    sysrand = random.SystemRandom()
    return [sysrand.randrange(1, 2 ** 31) for _ in range(count)]


def _log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class PersistenceCrashTest(unittest.TestCase):
    config = None  # default policy: sync
    iterations = ITERATIONS

    def test_acknowledged_messages_survive_kill9_at_random_points(self):
        window = self.kill_window()
        seeds = _seeds(self.iterations)
        _log("%s: kill window [0, %.4fs], seeds %s (replay one with EDGEMQ_CRASH_SEED=<seed> "
             "EDGEMQ_CRASH_MAX_DELAY=%.4f)" % (type(self).__name__, window, seeds, window))
        for seed in seeds:
            with self.subTest(seed=seed):
                self.run_iteration(seed, window)

    # ------------------------------------------------------------------ workload
    def start_workload(self, d, tag, track):
        """Persistent subscribers (subscribed, then cleanly disconnected) and connected
        publishers. Returns the publishers."""
        for s in self.make_subscribers(d, tag, track).values():
            s.disconnect()
        return [track(TrackingPublisher(d.host, d.port, "pub-%s-%s" % (name, tag), version=v)).connect()
                for name, v in PUBLISHERS]

    @staticmethod
    def publish_all(pubs, tag):
        """Publish the whole workload without waiting (paho queues behind its in-flight
        window); stops early once every publisher lost its connection. Returns the time taken."""
        t0 = time.monotonic()
        for i in range(N // len(pubs)):
            if all(p.disconnected.is_set() for p in pubs):
                break
            for (name, _v), p in zip(PUBLISHERS, pubs):
                p.publish("crash/%s/q1/%s" % (tag, name), b"q1:%s:%06d" % (name.encode(), i), 1)
                p.publish("crash/%s/q2/%s" % (tag, name), b"q2:%s:%06d" % (name.encode(), i), 2)
        return time.monotonic() - t0

    def kill_window(self):
        """[0, window] for the kill delay: see the module docstring."""
        if not CALIBRATE:
            return MAX_DELAY
        d = RestartableDaemon(config=self.config)
        closers = []

        def track(c):
            closers.append(c)
            return c

        try:
            d.start()
            pubs = self.start_workload(d, "calibration", track)
            t0 = time.monotonic()
            self.publish_all(pubs, "calibration")
            for p in pubs:
                self.assertTrue(p.wait_completed(len(p.sent), 60), "calibration: %s: not everything acknowledged "
                                                                    "within 60s" % p.client_id)
            took = time.monotonic() - t0
            d.terminate()
        finally:
            for c in reversed(closers):
                try:
                    c.close()
                except Exception:
                    pass
            d.cleanup()
        window = min(MAX_DELAY, max(0.05, 1.1 * took))
        _log("\n%s: calibration: %d messages acknowledged in %.3fs" % (type(self).__name__, 2 * N, took))
        return window

    # ------------------------------------------------------------------ one iteration
    def run_iteration(self, seed, window):
        rng = random.Random(seed)
        delay = rng.uniform(0.0, window)
        tag = "s%d" % seed
        d = RestartableDaemon(config=self.config)
        self.addCleanup(d.cleanup)
        closers = []

        def track(c):
            closers.append(c)
            return c

        try:
            d.start()
            # 1. persistent subscribers, then publishers connected before the killer is armed
            pubs = self.start_workload(d, tag, track)
            # 2. arm the killer, then publish as fast as possible until done or killed
            killer = Killer(d.pid, delay)
            t_queued = self.publish_all(pubs, tag)
            killer_said = killer.wait(timeout=window + 10)
            rc = d.wait_dead()
            self.assertEqual(rc, -signal.SIGKILL, "the daemon must have been killed by the killer (%s)\n%s"
                             % (killer_said, d.output()))
            # every byte the broker sent before dying has been read once paho saw the connection drop
            for p in pubs:
                self.assertTrue(p.disconnected.wait(10), "%s did not notice the kill" % p.client_id)
            acked = {}
            for p in pubs:
                self.assertTrue(p.hooks_ok, "paho internals changed: cannot see PUBACK/PUBREC reason codes")
                self.assertEqual(p.refused(), [], "%s: acknowledgements with error reason codes" % p.client_id)
                acked.update(p.acknowledged())
                p.close()
            sent = sum(len(p.sent) for p in pubs)
            n_q1 = sum(1 for q in acked.values() if q == 1)
            n_q2 = len(acked) - n_q1
            _log("seed %d: kill after %.3fs (%s; all queued in paho after %.3fs): %d/%d acknowledged "
                 "(QoS 1: %d, QoS 2: %d)" % (seed, delay, killer_said, t_queued, len(acked), sent, n_q1, n_q2))

            # 3. restart on the same data directory and resume the sessions
            d.start()
            resumed = self.resume_subscribers(d, tag, track)
            for name, s in resumed.items():
                if not s.session_present and not acked:
                    # killed before anything was acknowledged: nothing was promised
                    _log("seed %d: %s: session not present, but nothing had been acknowledged" % (seed, name))
                    d.terminate()
                    return
                if not s.session_present:
                    self.fail("seed %d: %s: session present = 0 after the restart: the persistent session is lost "
                              "(%d acknowledged messages not delivered)\n%s" % (seed, name, len(acked), d.output()))

            # 4. a QoS 2 marker behind everything queued, then collect
            marker_topic = "crash/%s/q2/marker" % tag
            marker = track(PersistClient(d.host, d.port, client_id="marker-" + tag))
            marker.connect()
            marker.publish(marker_topic, b"marker", qos=2)
            deadline = time.monotonic() + COLLECT_TIMEOUT
            got = {name: self.collect(s, acked, marker_topic, deadline) for name, s in resumed.items()}

            # 5. assertions
            for name, msgs in got.items():
                self.check_subscriber(seed, name, msgs, acked, subscribed_v5=(name == "v5"))
            d.terminate()
        finally:
            for c in reversed(closers):
                try:
                    c.close()
                except Exception:
                    pass
            d.cleanup()

    # ------------------------------------------------------------------ helpers
    def make_subscribers(self, d, tag, track):
        subs = {}
        v5 = track(PersistClient(d.host, d.port, client_id="sub-v5-" + tag, version=5, clean=True,
                                 session_expiry=SESSION_EXPIRY))
        v5.connect()
        self.assertEqual(v5.subscribe_opts("crash/%s/q1/#" % tag, 1, sub_id=SUB_ID_Q1), [1])
        self.assertEqual(v5.subscribe_opts("crash/%s/q2/#" % tag, 2, sub_id=SUB_ID_Q2), [2])
        subs["v5"] = v5
        v311 = track(PersistClient(d.host, d.port, client_id="sub-v311-" + tag, version=4, clean=False))
        v311.connect()
        self.assertEqual(v311.subscribe_opts("crash/%s/q1/#" % tag, 1), [1])
        self.assertEqual(v311.subscribe_opts("crash/%s/q2/#" % tag, 2), [2])
        subs["v311"] = v311
        return subs

    def resume_subscribers(self, d, tag, track):
        v5 = track(PersistClient(d.host, d.port, client_id="sub-v5-" + tag, version=5, clean=False,
                                 session_expiry=SESSION_EXPIRY))
        v311 = track(PersistClient(d.host, d.port, client_id="sub-v311-" + tag, version=4, clean=False))
        v5.connect()
        v311.connect()
        return {"v5": v5, "v311": v311}

    @staticmethod
    def collect(sub, acked, marker_topic, deadline):
        """Messages until the marker has arrived and every acknowledged payload has been seen,
        or the deadline."""
        out = []
        seen = set()
        marker_seen = False
        missing = set(acked)
        while not (marker_seen and not missing):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                m = sub.messages.get(timeout=remaining)
            except Exception:
                break
            out.append(m)
            if m.topic == marker_topic:
                marker_seen = True
            else:
                seen.add(m.payload)
                missing.discard(m.payload)
        return out

    def check_subscriber(self, seed, name, msgs, acked, subscribed_v5):
        where = "seed %d, subscriber %s" % (seed, name)
        data = [m for m in msgs if not m.topic.endswith("/marker")]
        self.assertTrue(any(m.topic.endswith("/marker") for m in msgs),
                        "%s: the QoS 2 marker published after the restart never arrived" % where)
        received = collections.Counter(m.payload for m in data)
        missing = sorted(p for p in acked if p not in received)
        self.assertEqual(missing[:20], [], "%s: %d of %d acknowledged messages never arrived (first 20 shown)"
                         % (where, len(missing), len(acked)))
        unknown = sorted(p for p in received if not (p.startswith(b"q1:") or p.startswith(b"q2:")))
        self.assertEqual(unknown, [], "%s: payloads nobody published" % where)
        dup_q2 = sorted(p for p, n in received.items() if p.startswith(b"q2:") and n > 1)
        self.assertEqual(dup_q2[:20], [], "%s: QoS 2 messages delivered more than once" % where)
        wrong_qos = [(m.payload, m.qos) for m in data if m.qos != int(m.payload[1:2])]
        self.assertEqual(wrong_qos[:20], [], "%s: delivered with the wrong QoS (subscription QoS lost?)" % where)
        if subscribed_v5:
            want = {b"q1:": [SUB_ID_Q1], b"q2:": [SUB_ID_Q2]}
            bad_ids = [(m.payload, prop(m, "SubscriptionIdentifier")) for m in data
                       if prop(m, "SubscriptionIdentifier") != want[m.payload[:3]]]
            self.assertEqual(bad_ids[:20], [], "%s: subscription identifiers not kept" % where)
        dup_q1 = sum(n - 1 for p, n in received.items() if p.startswith(b"q1:") and n > 1)
        extra = sum(1 for p in received if p not in acked)
        _log("seed %d: %s received %d messages: all %d acknowledged, %d QoS 1 duplicates, %d never acknowledged"
             % (seed, name, len(data), len(acked), dup_q1, extra))


class PersistenceCrashBatchPolicyTest(PersistenceCrashTest):
    """The same guarantee with group commit: acknowledgements wait for the batch's sync."""

    config = {"persistence": {"sync": "batch", "batch_ms": 10}}
    iterations = max(1, (ITERATIONS + 1) // 2)


if __name__ == "__main__":
    unittest.main()
