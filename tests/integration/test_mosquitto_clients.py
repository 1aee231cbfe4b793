"""Interoperability with the real mosquitto_pub / mosquitto_sub command-line clients."""

import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest

from support.edgemq_harness import DaemonTestCase
from support.paho_helper import PahoClient

MOSQUITTO_PUB = shutil.which("mosquitto_pub")
MOSQUITTO_SUB = shutil.which("mosquitto_sub")
# mosquitto_sub block-buffers stdout into a pipe; stdbuf makes its lines arrive as printed.
STDBUF = [shutil.which("stdbuf"), "-oL"] if shutil.which("stdbuf") else []
TIMEOUT = 10.0
FMT = "MSG|%t|%q|%r|%P|%p"


class MosquittoSub:
    """mosquitto_sub in the background with -d, so that 'received SUBACK' tells us it is
    subscribed; message lines are formatted with FMT and queued."""

    def __init__(self, port, topics, version="mqttv5", qos=1, count=None, extra=()):
        cmd = STDBUF + [MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(port), "-V", version, "-q", str(qos), "-d",
               "-F", FMT, "-W", "20"]
        for t in topics:
            cmd += ["-t", t]
        if count is not None:
            cmd += ["-C", str(count)]
        cmd += list(extra)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.lines = queue.Queue()
        self.log = []
        self.subscribed = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.log.append(line)
            if "received SUBACK" in line:
                self.subscribed.set()
            if line.startswith("MSG|"):
                _, topic, qos, retain, props, payload = line.split("|", 5)
                self.lines.put({"topic": topic, "qos": int(qos), "retain": retain == "1", "props": props,
                                "payload": payload})
        self.proc.stdout.close()

    def wait_subscribed(self):
        if not self.subscribed.wait(TIMEOUT):
            raise AssertionError("mosquitto_sub did not get a SUBACK:\n" + "\n".join(self.log))

    def get(self):
        try:
            return self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError("mosquitto_sub received nothing:\n" + "\n".join(self.log)) from None

    def wait(self):
        """Exit code, once the process has exited and every line it printed has been read
        (the reader thread may still be behind when the process is gone)."""
        rc = self.proc.wait(timeout=TIMEOUT)
        self.reader.join(TIMEOUT)
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=TIMEOUT)


def mosquitto_pub(port, topic, message=None, qos=0, retain=False, version="mqttv5", extra=(), stdin=None,
                  null=False):
    """Runs mosquitto_pub; `message` -> -m, `null` -> -n (empty payload), else `extra` says."""
    cmd = [MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port), "-V", version, "-q", str(qos), "-t", topic, "-d"]
    if retain:
        cmd.append("-r")
    if null:
        cmd.append("-n")
    elif message is not None:
        cmd += ["-m", message]
    cmd += list(extra)
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=TIMEOUT)


@unittest.skipUnless(MOSQUITTO_PUB and MOSQUITTO_SUB, "mosquitto clients not installed")
class MosquittoClientsTest(DaemonTestCase):
    def paho(self, version=5):
        c = self.track(PahoClient(self.host, self.port, version=version))
        c.connect()
        return c

    def sub(self, topics, **kw):
        s = self.track(MosquittoSub(self.port, topics, **kw))
        s.wait_subscribed()
        return s

    def test_mosquitto_pub_to_paho_all_versions_and_qos(self):
        for version, pv in (("mqttv5", 5), ("mqttv311", 4)):
            for q in (0, 1, 2):
                with self.subTest(version=version, qos=q):
                    t = self.unique("mq")
                    s = self.paho(pv)
                    s.subscribe(t, 2)
                    r = mosquitto_pub(self.port, t, "from mosquitto_pub", qos=q, version=version)
                    self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                    m = s.get()
                    self.assertEqual((m.topic, m.payload, m.qos), (t, b"from mosquitto_pub", q))

    def test_paho_to_mosquitto_sub_wildcards(self):
        for version in ("mqttv5", "mqttv311"):
            with self.subTest(version=version):
                p = self.unique("mq")
                s = self.sub([p + "/+/temp", p + "/alarm/#"], version=version, qos=2, count=3)
                pub = self.paho()
                pub.publish(p + "/kitchen/temp", b"21.5", qos=1)
                pub.publish(p + "/kitchen/humidity", b"no", qos=1)
                pub.publish(p + "/alarm", b"a0", qos=2)
                pub.publish(p + "/alarm/fire/1", b"a1", qos=0)
                got = [s.get() for _ in range(3)]
                # (libmosquitto hands a QoS 2 message over only at PUBREL, so a later QoS 0
                # message may be printed first: order is only defined within one QoS.)
                self.assertEqual(sorted((m["topic"], m["payload"], m["qos"]) for m in got),
                                 sorted([(p + "/kitchen/temp", "21.5", 1), (p + "/alarm", "a0", 2),
                                         (p + "/alarm/fire/1", "a1", 0)]))
                self.assertEqual(s.wait(), 0, "mosquitto_sub -C 3 must exit cleanly")

    def test_mosquitto_pub_to_mosquitto_sub(self):
        t = self.unique("mq")
        s = self.sub([t], count=1, qos=2)
        r = mosquitto_pub(self.port, t, "pub->sub", qos=2)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = s.get()
        self.assertEqual((m["topic"], m["payload"], m["qos"], m["retain"]), (t, "pub->sub", 2, False))
        self.assertEqual(s.wait(), 0)

    def test_retained_set_and_clear_with_mosquitto(self):
        t = self.unique("mq")
        r = mosquitto_pub(self.port, t, "retained value", qos=1, retain=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        s = self.track(MosquittoSub(self.port, [t], count=1))
        m = s.get()
        self.assertEqual((m["payload"], m["retain"]), ("retained value", True))
        self.assertEqual(s.wait(), 0)
        # mosquitto_pub -r -n clears it
        r = mosquitto_pub(self.port, t, qos=1, retain=True, null=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        c = self.paho()
        c.subscribe(t, 1)
        c.subscribe(t + "/marker", 0)
        c.publish(t + "/marker", b"end")
        self.assertEqual([m.topic for m in c.collect_until(t + "/marker")], [t + "/marker"],
                         "retained message must be cleared")

    def test_many_lines_from_stdin_in_order(self):
        t = self.unique("mq")
        n = 200
        s = self.sub([t], count=n)
        r = mosquitto_pub(self.port, t, qos=1, extra=["-l"], stdin="".join("line %d\n" % i for i in range(n)))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([s.get()["payload"] for _ in range(n)], ["line %d" % i for i in range(n)])
        self.assertEqual(s.wait(), 0)

    def test_large_payload_from_file(self):
        t = self.unique("mq")
        body = ("0123456789abcdef" * 16384)  # 256 KiB
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write(body)
        self.addCleanup(os.unlink, f.name)
        c = self.paho()
        c.subscribe(t, 2)
        r = mosquitto_pub(self.port, t, qos=2, extra=["-f", f.name])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = c.get()
        self.assertEqual(len(m.payload), len(body))
        self.assertEqual(m.payload, body.encode())

    def test_v5_user_properties_with_mosquitto(self):
        t = self.unique("mq")
        s = self.sub([t], count=1)
        r = mosquitto_pub(self.port, t, "props", qos=1, extra=["-D", "publish", "user-property", "site", "edge-1"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = s.get()
        self.assertEqual(m["payload"], "props")
        self.assertIn("site:edge-1", m["props"])

    def test_puback_no_matching_subscribers_seen_by_mosquitto_pub(self):
        r = mosquitto_pub(self.port, self.unique("mq-nobody"), "x", qos=1)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("received PUBACK (Mid: 1, RC:16)", r.stdout + r.stderr)

    def test_assigned_client_id_used_by_mosquitto(self):
        r = mosquitto_pub(self.port, self.unique("mq"), "x", qos=0)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout + r.stderr
        self.assertIn("received CONNACK (0)", out)
        # mosquitto_pub 2.x with -V 5 sends an empty id and then logs the assigned one
        self.assertNotIn("Client (null) received", out)

    def test_shared_subscription_granted(self):
        t = self.unique("mq-share")
        s = self.sub(["$share/group/" + t], count=1)
        r = mosquitto_pub(self.port, t, "to the group", qos=1)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(s.wait(), 0)
        self.assertIn("to the group", "\n".join(s.log))

    def test_mosquitto_sub_will_on_kill(self):
        t = self.unique("mq")
        w = self.paho()
        w.subscribe(t + "/will", 1)
        s = self.sub([t], extra=["--will-topic", t + "/will", "--will-payload", "sub died", "--will-qos", "1"])
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait(timeout=TIMEOUT)
        m = w.get()
        self.assertEqual((m.topic, m.payload), (t + "/will", b"sub died"))

    def test_mosquitto_sub_clean_exit_sends_no_will(self):
        t = self.unique("mq")
        w = self.paho()
        w.subscribe(t + "/will", 1)
        w.subscribe(t + "/marker", 0)
        s = self.sub([t], count=1, extra=["--will-topic", t + "/will", "--will-payload", "no"])
        mosquitto_pub(self.port, t, "one")
        self.assertEqual(s.get()["payload"], "one")
        self.assertEqual(s.wait(), 0)  # -C 1: DISCONNECT and exit
        w.publish(t + "/marker", b"end")
        self.assertEqual([m.topic for m in w.collect_until(t + "/marker")], [t + "/marker"])


if __name__ == "__main__":
    unittest.main()
