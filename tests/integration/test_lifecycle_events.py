"""Lifecycle events as messages (docs/dataflows.md, "Lifecycle events"): a client connects,
disconnects (with its reason), subscribes, unsubscribes, its session expires, and subscribers of
$edgemq/events/... (paho, mosquitto_sub) receive one JSON message for each; no client may publish
there; `--events off` and `events.enabled` switch them off."""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import unittest

from support import rawmqtt as raw
from support.edgemq_harness import DaemonTestCase, EdgemqDaemon, run_edgemq
from support.paho_helper import PahoClient

QUIET = 0.3  # after a positive marker, how long we listen for a message that must not come
DEADLINE = 10.0


class LifecycleEventsTest(DaemonTestCase):
    def watcher(self, filt):
        w = self.track(PahoClient(self.host, self.port))
        w.connect()
        self.assertEqual(w.subscribe(filt, 1), [1])
        return w

    def event(self, w, topic):
        """The next message of `w` on `topic` (others skipped), its payload parsed."""
        while True:
            m = w.get(DEADLINE)
            if m.topic == topic:
                self.assertEqual(m.qos, 1)
                return json.loads(m.payload)

    def test_connect_and_disconnect_with_reason(self):
        cid = self.unique("c")
        w = self.watcher("$edgemq/events/clients/+/" + cid)
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(cid)
        ev = self.event(w, "$edgemq/events/clients/connected/" + cid)
        self.assertEqual((ev["event"], ev["clientId"], ev["protocolVersion"], ev["cleanStart"]),
                         ("connected", cid, "5", True))
        self.assertNotIn("username", ev)  # anonymous: nobody vouched for a username
        self.assertTrue(ev["listener"].endswith(":%d" % self.port), ev)
        self.assertRegex(ev["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        c.disconnect(0x04)  # Disconnect with Will Message
        ev = self.event(w, "$edgemq/events/clients/disconnected/" + cid)
        self.assertEqual((ev["event"], ev["reasonCode"]), ("disconnected", 4))

        # No DISCONNECT: the socket just closes.
        c2 = self.track(raw.RawClient(self.host, self.port, raw.V311))
        c2.connect(cid)
        ev = self.event(w, "$edgemq/events/clients/connected/" + cid)
        self.assertEqual(ev["protocolVersion"], "3.1.1")
        c2.close()
        ev = self.event(w, "$edgemq/events/clients/disconnected/" + cid)
        self.assertEqual((ev["reasonCode"], ev["reason"]), (None, "socket closed"))

    def test_protocol_error_is_the_reason(self):
        cid = self.unique("bad")
        w = self.watcher("$edgemq/events/clients/disconnected/" + cid)
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(cid)
        c.send(raw.connect(cid))  # a second CONNECT is a protocol error
        ev = self.event(w, "$edgemq/events/clients/disconnected/" + cid)
        self.assertEqual((ev["reasonCode"], ev["reasonName"]), (0x82, "protocol error"))

    def test_subscribe_and_unsubscribe(self):
        cid = self.unique("s")
        w = self.watcher("$edgemq/events/clients/+/" + cid)
        c = self.track(PahoClient(self.host, self.port, client_id=cid))
        c.connect()
        self.event(w, "$edgemq/events/clients/connected/" + cid)
        c.subscribe("a/+/b", 1)
        ev = self.event(w, "$edgemq/events/clients/subscribed/" + cid)
        self.assertEqual(ev["filters"], [{"filter": "a/+/b", "qos": 1, "reasonCode": 1, "reasonName": "granted"}])
        c.unsubscribe("a/+/b")
        ev = self.event(w, "$edgemq/events/clients/unsubscribed/" + cid)
        self.assertEqual(ev["filters"], [{"filter": "a/+/b", "reasonCode": 0, "reasonName": "success"}])

    def test_session_expiry(self):
        cid = self.unique("x")
        w = self.watcher("$edgemq/events/sessions/expired/" + cid)
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(cid, clean=True, properties=[(raw.P_SESSION_EXPIRY, 1)])
        c.close()
        ev = self.event(w, "$edgemq/events/sessions/expired/" + cid)  # the sweep runs every 250 ms
        self.assertEqual((ev["event"], ev["clientId"]), ("sessionExpired", cid))

    def test_client_id_is_one_escaped_level(self):
        cid = self.unique("a/b+c#d%e")
        w = self.watcher("$edgemq/events/clients/connected/+")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(cid)
        level = cid.replace("%", "%25").replace("/", "%2F").replace("+", "%2B").replace("#", "%23")
        ev = self.event(w, "$edgemq/events/clients/connected/" + level)
        self.assertEqual(ev["clientId"], cid)

    def test_publishing_to_events_is_refused(self):
        w = self.watcher("$edgemq/events/clients/connected/#")
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(self.unique("p"))
        fake = "$edgemq/events/clients/connected/" + self.unique("fake")
        ack = c.publish(fake, b'{"event":"connected"}', qos=1)
        self.assertEqual(ack.reason, 0x87)  # not authorized
        # Marker: the next connected event must be a real one, not the forged message.
        marker = self.unique("marker")
        m = self.track(raw.RawClient(self.host, self.port))
        m.connect(marker)
        topics = [m.topic for m in w.collect_until("$edgemq/events/clients/connected/" + marker, DEADLINE)]
        self.assertNotIn(fake, topics)

    def test_only_events_are_subscribable_in_the_private_namespace(self):
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(self.unique("f"))
        sa = c.subscribe([("$edgemq/events/#", 0), ("$share/g/$edgemq/events/sessions/#", 0), ("$edgemq/#", 0),
                          ("$edgemq/commands/reply", 0)])
        self.assertEqual(sa.reasons, [0, 0, 0x87, 0x87])

    def test_mosquitto_sub_receives_events(self):
        sub = shutil.which("mosquitto_sub")
        self.assertIsNotNone(sub, "mosquitto_sub (Debian mosquitto-clients) is needed")
        cid = self.unique("m")
        # -C 2: its own subscribed event comes first (it listens to every client), then ours.
        p = subprocess.Popen([sub, "-h", self.host, "-p", str(self.port), "-V", "5", "-q", "1", "-v", "-C", "2", "-W",
                              "20", "-t", "$edgemq/events/clients/#"], stdout=subprocess.PIPE, text=True)
        try:
            first = p.stdout.readline()  # the subscribe event: mosquitto_sub is subscribed now
            self.assertIn("$edgemq/events/clients/subscribed/", first)
            c = self.track(raw.RawClient(self.host, self.port))
            c.connect(cid)
            out, _ = p.communicate(timeout=DEADLINE)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        topic, payload = out.strip().split(" ", 1)
        self.assertEqual(topic, "$edgemq/events/clients/connected/" + cid)
        self.assertEqual(json.loads(payload)["clientId"], cid)


class LifecycleEventsOffTest(DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super(DaemonTestCase, cls).setUpClass()
        cls.daemon = EdgemqDaemon(extra_args=["--events", "off"]).start()
        cls.host = "127.0.0.1"
        cls.port = cls.daemon.port

    def test_no_events_when_off(self):
        w = self.track(PahoClient(self.host, self.port))
        w.connect()
        self.assertEqual(w.subscribe("$edgemq/events/#", 1), [1])  # still allowed, never fed
        w.subscribe("marker/" + self.unique("m"), 1)
        c = self.track(raw.RawClient(self.host, self.port))
        c.connect(self.unique("c"))
        c.disconnect()
        pub = self.track(PahoClient(self.host, self.port))
        pub.connect()
        marker = "marker/" + self.unique("m2")
        w.subscribe(marker, 1)
        pub.publish(marker, b"x", qos=1)
        got = w.collect_until(marker, DEADLINE)
        try:
            got.append(w.messages.get(timeout=QUIET))
        except queue.Empty:
            pass
        self.assertEqual([m.topic for m in got], [marker])


class EventsConfigTest(unittest.TestCase):
    def test_bad_values_exit_2_naming_the_key(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "c.json")
            with open(cfg, "w") as f:
                json.dump({"events": {"enabled": "yes"}}, f)
            r = run_edgemq(["--config", cfg, "--data-dir", os.path.join(d, "data")])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("/events/enabled", r.stderr)
        r = run_edgemq(["--events", "maybe"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--events", r.stderr)


if __name__ == "__main__":
    unittest.main()
