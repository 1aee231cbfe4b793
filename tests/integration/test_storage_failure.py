"""A full disk, for real: the data directory on a small tmpfs that the test fills up.

The daemon must keep running (Debian's RocksDB used to abort it on the first failed write), never
acknowledge a message or a state store change that was not stored (PUBACK/PUBREC 0x97 for MQTT 5,
the connection closed unacknowledged for 3.1.1, `-ERR` for the state store, and the refused value
is not visible afterwards), report it in $SYS, and take work again by itself once space is back.
After a restart every message that was acknowledged is delivered.

Needs root to mount a tmpfs; skipped with a message otherwise."""

import errno
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from support import rawmqtt as raw
from support.statestore_client import OK, StateStoreClient, make_daemon

QUOTA_EXCEEDED = 0x97
SESSION_EXPIRY = 0x11
PAYLOAD = b"p" * 65536
RECOVERY_TIMEOUT = 60.0
CONFIG = {"persistence": {"sync": "sync"}, "statestore": {"sync": "sync"}, "sys_interval_s": 1}


def mount_tmpfs(path, size):
    """Mounts a tmpfs of `size` at `path`; the reason it cannot, or None."""
    if os.geteuid() != 0:
        return "not root"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path], capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stderr.strip() or "mount exited %d" % r.returncode)


def fill(directory):
    """Writes a file until the filesystem is full; returns its path."""
    path = os.path.join(directory, "filler")
    chunk = b"\0" * (1 << 20)
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
        try:  # the last partial page too
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return path


class FullDiskTest(unittest.TestCase):
    def setUp(self):
        root = tempfile.mkdtemp(prefix="edgemq-full-")
        self.addCleanup(shutil.rmtree, root, True)
        self.mnt = os.path.join(root, "mnt")
        os.mkdir(self.mnt)
        why = mount_tmpfs(self.mnt, "160m")
        if why:
            self.skipTest("cannot mount a tmpfs for the full-disk test (%s): run as root to include it" % why)
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt])
        self.daemon = make_daemon(os.path.join(self.mnt, "data"), config=CONFIG).start()
        self.addCleanup(self.daemon.cleanup)

    def client(self, client_id, version=raw.V5, clean=True, properties=None):
        c = raw.RawClient("127.0.0.1", self.daemon.port, version=version)
        self.addCleanup(c.close)
        c.connect(client_id, clean=clean, properties=properties)
        return c

    def publish(self, c, qos=1, payload=PAYLOAD, topic="t/full"):
        pid = c.next_id()
        c.send(raw.publish(topic, payload, qos, pid, version=c.version))
        ack = c.expect(raw.PUBACK if qos == 1 else raw.PUBREC, skip=(raw.PUBLISH,))
        self.assertEqual(ack.packet_id, pid)
        if qos == 2 and ack.reason < 0x80:
            c.send(raw.ack(raw.PUBREL, pid, version=c.version))
            c.expect(raw.PUBCOMP)
        return ack.reason

    def await_sys(self, topic, accept, timeout=10.0):
        """The value of a $SYS topic once `accept(value)` holds: the retained value first, then each
        refresh (every sys_interval_s) as it is published. Fails with the last value seen."""
        c = self.client("sys-reader-%d" % time.monotonic_ns())
        c.subscribe([(topic, 0)])
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = int(c.expect(raw.PUBLISH, timeout=max(0.1, deadline - time.monotonic())).payload)
            if accept(value):
                c.close()
                return value
        self.fail("%s stayed at %r" % (topic, value))

    def test_full_disk_refuses_unstored_work_and_recovers_by_itself(self):
        # A persistent session offline: every QoS 1 message to it must be stored before its PUBACK.
        keeper = self.client("keeper", clean=False, properties=[(SESSION_EXPIRY, 3600)])
        keeper.subscribe([("t/#", 1)])
        keeper.disconnect()
        store = StateStoreClient("127.0.0.1", self.daemon.port)
        self.addCleanup(store.close)
        store.connect()
        self.assertEqual(store.set(b"k", b"before").payload, OK)

        filler = fill(self.mnt)
        pub = self.client("publisher")
        acked, refused = 0, None
        for _ in range(3000):  # RocksDB's preallocated WAL and memtable take a few MiB first
            reason = self.publish(pub)
            if reason == 0:
                acked += 1
                continue
            refused = reason
            break
        self.assertEqual(refused, QUOTA_EXCEEDED, "a QoS 1 message on a full disk must be refused with 0x97")
        self.assertTrue(self.daemon.alive(), "the daemon must survive a full disk")
        # Refused up front now, QoS 2 too (before routing: exactly once stays exactly once).
        self.assertEqual(self.publish(pub), QUOTA_EXCEEDED)
        self.assertEqual(self.publish(pub, qos=2), QUOTA_EXCEEDED)
        # MQTT 3.1.1 acknowledgements carry no reason: the connection closes, unacknowledged.
        old = self.client("v311-publisher", version=raw.V311)
        old.send(raw.publish("t/full", b"x", 1, 1, version=raw.V311))
        self.assertTrue(old.is_closed_within(5.0), "a 3.1.1 publisher must be disconnected, not acknowledged")
        self.await_sys("$SYS/broker/persistence/healthy", lambda v: v == 0)
        self.await_sys("$SYS/broker/messages/refused/storage", lambda v: v >= 3)

        # The state store: a change it cannot store is answered -ERR and is not visible after.
        big = os.urandom(512 << 10)  # within the 1 MiB Maximum Packet Size
        for i in range(200):
            r = store.set(b"k", big + bytes([i]))
            if r.payload != OK:
                break
        self.assertTrue(r.payload.startswith(b"-ERR the state store cannot write"), r)
        value_after = store.get(b"k").payload
        self.assertNotEqual(value_after, b"$%d\r\n%s\r\n" % (len(big) + 1, big + bytes([i])),
                            "a refused SET must not be visible")

        os.unlink(filler)
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while self.publish(pub, payload=b"after") != 0:
            self.assertLess(time.monotonic(), deadline, "writes never resumed after space came back")
            time.sleep(0.2)  # the disk coming back has no event to wait for
        acked += 1
        while store.set(b"k", b"after").payload != OK:
            self.assertLess(time.monotonic(), deadline, "the state store never resumed")
            time.sleep(0.2)
        self.await_sys("$SYS/broker/persistence/healthy", lambda v: v == 1)
        self.assertTrue(self.daemon.alive())

        # Every acknowledged message survives a restart and is delivered.
        store.close()
        pub.close()
        self.daemon.stop()
        self.daemon.start()
        keeper = self.client("keeper", clean=False, properties=[(SESSION_EXPIRY, 3600)])
        received = 0
        try:
            while True:
                p = keeper.expect(raw.PUBLISH, timeout=5.0)
                keeper.send(raw.ack(raw.PUBACK, p.packet_id))
                received += 1
        except (TimeoutError, raw.Closed):
            pass
        self.assertGreaterEqual(received, acked, "every acknowledged message is delivered after a restart")


if __name__ == "__main__":
    unittest.main()
