"""Dataflow runtime (issue 13, "Processing" and "At least once"; docs/dataflows.md): a dataflow
from local topics to the local broker (republish to another topic) loaded with --dataflows DIR,
seen by a paho subscriber; messages published while the dataflow's sink fails (kept in the disk
buffer across a restart), while the dataflow is Disabled, while the daemon restarts and across a
kill -9 in the middle of the flow are delivered after, in order, none lost; the runtime's
counters in $SYS.

Needs --dataflows (the definitions branch); the runtime's own behaviour is also proven by the
unit tests in tests/unit/dataflow (runtime_test, local_endpoints_test, disk_buffer_test)."""

import json
import os
import signal
import time
import unittest

from support.edgemq_harness import RestartableDaemon, run_edgemq
from support.paho_helper import PahoClient

TIMEOUT = 20.0
LONG_EXPIRY = 3600


def dataflow_doc(name, sources, destination, mode="Enabled"):
    """An AIO Dataflow resource as `kubectl apply -f` takes it (JSON form)."""
    return {
        "apiVersion": "connectivity.iotoperations.azure.com/v1",
        "kind": "Dataflow",
        "metadata": {"name": name, "namespace": "azure-iot-operations"},
        "spec": {
            "profileRef": "default",
            "mode": mode,
            "operations": [
                {"operationType": "Source", "sourceSettings": {"endpointRef": "default", "dataSources": sources}},
                {"operationType": "Destination",
                 "destinationSettings": {"endpointRef": "default", "dataDestination": destination}},
            ],
        },
    }


class DataflowRuntimeTest(unittest.TestCase):
    def setUp(self):
        self.daemon = RestartableDaemon(config={"sys_interval_s": 1})
        self.addCleanup(self.daemon.cleanup)
        self.defs = os.path.join(self.daemon.root, "dataflows")
        os.makedirs(self.defs)
        self.daemon.extra_args += ["--dataflows", self.defs]
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()

    def write_flow(self, mode="Enabled", destination="out/${inputTopic.2}"):
        with open(os.path.join(self.defs, "republish.json"), "w") as f:
            json.dump(dataflow_doc("republish", ["in/#"], destination, mode), f)

    def client(self, client_id=None, clean=True, session_expiry=None):
        c = PahoClient(self.daemon.host, self.daemon.port, client_id=client_id, clean=clean,
                       session_expiry=session_expiry)
        c.connect()
        self.clients.append(c)
        return c

    def subscriber(self, clean):
        """A persistent QoS 1 subscriber of the destination topics (queued for while it is away)."""
        s = self.client("sub-out", clean=clean, session_expiry=LONG_EXPIRY)
        s.subscribe("out/#", qos=1)
        return s

    def received(self, sub, count):
        got = []
        deadline = time.monotonic() + TIMEOUT
        while len(got) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("received %d of %d: %r" % (len(got), count, [m.payload for m in got][-5:]))
            got.append(sub.get(timeout=left))
        return got

    def publish(self, pub, first, count, topic="in/line1"):
        for i in range(first, first + count):
            pub.publish(topic, b"m%d" % i, qos=1)

    def test_republishes_to_another_topic(self):
        self.write_flow()
        self.daemon.start()
        sub = self.subscriber(clean=True)
        pub = self.client()
        self.publish(pub, 0, 50)
        got = self.received(sub, 50)
        self.assertEqual([m.payload for m in got], [b"m%d" % i for i in range(50)])
        self.assertEqual({m.topic for m in got}, {"out/line1"})
        self.assertEqual({m.qos for m in got}, {1})
        # The counters in $SYS (every second).
        sys = self.client()
        sys.subscribe("$SYS/broker/dataflows/#", qos=0)
        deadline = time.monotonic() + TIMEOUT
        seen = {}
        while seen.get("$SYS/broker/dataflows/sent") != b"50":
            self.assertLess(time.monotonic(), deadline, seen)
            m = sys.get(timeout=TIMEOUT)
            seen[m.topic] = m.payload
        self.assertEqual(seen.get("$SYS/broker/dataflows/received"), b"50")

    def test_messages_published_while_disabled_or_restarting_arrive_after_in_order(self):
        self.write_flow()
        self.daemon.start()
        sub = self.subscriber(clean=False)
        pub = self.client()
        self.publish(pub, 0, 10)
        first = {m.payload for m in self.received(sub, 10)}
        # Its acknowledgements reach the broker before the stop (DISCONNECT follows them on the socket).
        sub.disconnect()

        # Disabled: the dataflow's session in the broker keeps what arrives meanwhile.
        self.daemon.stop()
        self.write_flow(mode="Disabled")
        self.daemon.start()
        sub = self.subscriber(clean=False)
        pub = self.client()
        self.publish(pub, 10, 20)
        self.publish(pub, 30, 5, topic="in/line2")  # a second source topic: order per topic

        sub.disconnect()
        self.daemon.stop()
        self.write_flow(mode="Enabled")
        self.daemon.start()
        sub = self.subscriber(clean=False)
        # A message whose PUBACK paho had not sent yet when it disconnected comes once more (QoS 1
        # allows it): those of the first phase are set aside; the dataflow's own must all be new.
        got = []
        while len(got) < 25:
            got += [m for m in self.received(sub, 25 - len(got)) if m.payload not in first]
        by_topic = {}
        for m in got:
            by_topic.setdefault(m.topic, []).append(m.payload)
        self.assertEqual(by_topic["out/line1"], [b"m%d" % i for i in range(10, 30)])
        self.assertEqual(by_topic["out/line2"], [b"m%d" % i for i in range(30, 35)])

    def test_messages_buffered_while_the_sink_fails_are_delivered_after_a_restart_in_order(self):
        # The local broker refuses the sink's publishes ($SYS is not writable by clients): the
        # records stay in the dataflow's disk buffer (the source has acknowledged them: they are
        # nowhere else), across a restart, until the fixed definition sends them.
        self.write_flow(destination="$SYS/not-allowed")
        self.daemon.start()
        sub = self.subscriber(clean=False)
        pub = self.client()
        self.publish(pub, 0, 30)
        sys = self.client()
        sys.subscribe("$SYS/broker/dataflows/buffered_messages", qos=0)
        deadline = time.monotonic() + TIMEOUT
        while sys.get(timeout=TIMEOUT).payload != b"30":
            self.assertLess(time.monotonic(), deadline, "the buffer never held the 30 records")
        self.daemon.stop()
        self.write_flow()
        self.daemon.start()
        sub = self.subscriber(clean=False)
        got = self.received(sub, 30)
        self.assertEqual([m.payload for m in got], [b"m%d" % i for i in range(30)])

    def test_kill_9_in_the_middle_of_the_flow_loses_nothing(self):
        self.write_flow()
        self.daemon.start()
        sub = self.subscriber(clean=False)
        pub = self.client()
        total = 400
        # Published with QoS 1 as fast as the broker takes them, every one acknowledged (so it is
        # in the dataflow's session or its buffer), then the daemon is killed while the dataflow
        # is (most likely) still republishing them.
        infos = [pub.client.publish("in/line1", b"m%d" % i, qos=1) for i in range(total)]
        for info in infos:
            info.wait_for_publish(TIMEOUT)
            self.assertTrue(info.is_published())
        self.daemon.restart(signal.SIGKILL)
        # What the first subscriber connection received (and acknowledged) before the kill.
        payloads = [m.payload for m in sub.drain()]
        sub = self.subscriber(clean=False)
        deadline = time.monotonic() + TIMEOUT
        while len(set(payloads)) < total:
            self.assertLess(time.monotonic(), deadline, "%d of %d" % (len(set(payloads)), total))
            payloads.append(sub.get(timeout=TIMEOUT).payload)
        # Every message, in order of first appearance; repeats only where at least once allows
        # them (what was in flight at the kill is sent again).
        firsts = []
        for p in payloads:
            if p not in firsts:
                firsts.append(p)
        self.assertEqual(firsts, [b"m%d" % i for i in range(total)])


class DataflowBufferSettingsTest(unittest.TestCase):
    """dataflows.buffer.* and --dataflow-buffer-*: a bad value exits 2 naming the key or flag."""

    def test_bad_flags_exit_2(self):
        for args, named in ((["--dataflow-buffer-when-full", "block"], "--dataflow-buffer-when-full"),
                            (["--dataflow-buffer-max-messages", "0"], "--dataflow-buffer-max-messages"),
                            (["--dataflow-buffer-max-bytes", "12"], "--dataflow-buffer-max-bytes")):
            r = run_edgemq(args)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(named, r.stderr)

    def test_bad_config_keys_exit_2(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"dataflows": {"buffer": {"when_full": "block"}}}, f)
        self.addCleanup(os.unlink, f.name)
        r = run_edgemq(["--config", f.name])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("/dataflows/buffer/when_full", r.stderr)


if __name__ == "__main__":
    unittest.main()
