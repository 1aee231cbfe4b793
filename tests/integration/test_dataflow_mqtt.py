"""The Mqtt dataflow endpoint through the daemon: a real Debian mosquitto started here is the
remote broker. Definitions are loaded with --dataflows DIR (issue 13). A dataflow from the local
broker to mosquitto with the topic template `factory/${inputTopic.2}` (QoS 1, user properties
carried); the remote broker down for a while and then back: every message arrives, in order, none
lost (at least once); and a dataflow from mosquitto's topics to the local broker."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from support.edgemq_harness import EdgemqDaemon
from support.paho_helper import PahoClient

HOST = "127.0.0.1"
DEADLINE = 30.0


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=DEADLINE, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


class Mosquitto:
    """mosquitto -c conf on `port`, persistent (its sessions survive a restart)."""

    def __init__(self, root, port):
        self.root, self.port, self.proc = root, port, None
        self.conf = os.path.join(root, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("per_listener_settings false\nallow_anonymous true\npersistence true\n"
                    "persistence_location %s/\nmax_queued_messages 10000\nlistener %d %s\n" % (root, port, HOST))
        os.chmod(root, 0o777)  # mosquitto started as root writes as user `mosquitto`

    def start(self):
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection((HOST, self.port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_for(up, what="mosquitto on %d" % self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: it saves its sessions
            self.proc.wait(10)
        self.proc = None


def document(kind, name, spec):
    return {"apiVersion": "connectivity.iotoperations.azure.com/v1", "kind": kind, "metadata": {"name": name},
            "spec": spec}


class DataflowMqttTest(unittest.TestCase):
    def setUp(self):
        self.assertIsNotNone(shutil.which("mosquitto"), "Debian's mosquitto is needed")
        self.tmp = tempfile.mkdtemp(prefix="edgemq-dfmqtt-")
        os.chmod(self.tmp, 0o755)  # mosquitto started as root runs as user `mosquitto`
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.mport = free_port()
        os.makedirs(os.path.join(self.tmp, "mosq"))
        self.mosq = Mosquitto(os.path.join(self.tmp, "mosq"), self.mport)
        self.addCleanup(self.mosq.stop)
        self.clients = []
        self.addCleanup(lambda: [c.close() for c in self.clients])

    def daemon(self, documents):
        d = os.path.join(self.tmp, "dataflows")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "flows.json"), "w") as f:
            # One file, several documents: a JSON array (a YAML file would hold them as `---` documents).
            json.dump(documents, f)
        daemon = EdgemqDaemon(extra_args=["--dataflows", d]).start()
        self.addCleanup(daemon.stop)
        return daemon

    def client(self, port, **kw):
        c = PahoClient(HOST, port, **kw)
        self.clients.append(c)
        c.connect()
        return c

    def remote_endpoint(self):
        return document("DataflowEndpoint", "remote", {
            "endpointType": "Mqtt",
            "mqttSettings": {"host": "%s:%d" % (HOST, self.mport), "tls": {"mode": "Disabled"},
                             "authentication": {"method": "Anonymous"}, "qos": 1, "clientIdPrefix": "edge",
                             "maxInflightMessages": 10}})

    def to_remote(self):
        return document("Dataflow", "to-remote", {"operations": [
            {"operationType": "Source", "sourceSettings": {"endpointRef": "default", "dataSources": ["plant/#"]}},
            {"operationType": "Destination",
             "destinationSettings": {"endpointRef": "remote", "dataDestination": "factory/${inputTopic.2}"}}]})

    def test_local_to_remote_with_the_topic_template(self):
        self.mosq.start()
        watcher = self.client(self.mport)
        watcher.subscribe("factory/#", 1)
        daemon = self.daemon([self.remote_endpoint(), self.to_remote()])
        pub = self.client(daemon.port)
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("unit", "C")]
        pub.publish("plant/line1/temp", b"21.5", qos=1, properties=props)
        m = watcher.get(DEADLINE)
        self.assertEqual((m.topic, m.payload), ("factory/line1", b"21.5"))
        self.assertIn(("unit", "C"), getattr(m.properties, "UserProperty", []))

    def test_remote_down_then_back_every_message_arrives_in_order(self):
        self.mosq.start()
        watcher = PahoClient(HOST, self.mport, client_id="watcher", clean=False, session_expiry=3600)
        watcher.connect()
        watcher.subscribe("factory/#", 1)
        watcher.disconnect()  # its session queues what comes while it is away
        daemon = self.daemon([self.remote_endpoint(), self.to_remote()])
        self.mosq.stop()
        pub = self.client(daemon.port)
        n = 50
        for i in range(n):
            pub.publish("plant/l/t", b"%d" % i, qos=1)  # into the dataflow's buffer while mosquitto is down
        self.mosq.start()
        watcher = PahoClient(HOST, self.mport, client_id="watcher", clean=False, session_expiry=3600)
        self.clients.append(watcher)
        watcher.connect()
        seen = []
        while len(set(seen)) < n:
            seen.append(int(watcher.get(DEADLINE).payload))
        first = []
        for v in seen:
            if v not in first:
                first.append(v)
        self.assertEqual(first, list(range(n)), "in order, none lost (duplicates allowed: at least once)")

    def test_remote_to_local(self):
        self.mosq.start()
        flow = document("Dataflow", "from-remote", {"operations": [
            {"operationType": "Source", "sourceSettings": {"endpointRef": "remote", "dataSources": ["cloud/#"]}},
            {"operationType": "Destination",
             "destinationSettings": {"endpointRef": "default", "dataDestination": "fromcloud/in"}}]})
        daemon = self.daemon([self.remote_endpoint(), flow])
        local = self.client(daemon.port)
        local.subscribe("fromcloud/#", 1)
        remote = self.client(self.mport)
        # The dataflow subscribes on mosquitto once connected: publish until the first one arrives.
        deadline = time.monotonic() + DEADLINE
        got = None
        while got is None and time.monotonic() < deadline:
            remote.publish("cloud/x", b"hello", qos=1)
            try:
                got = local.messages.get(timeout=0.5)
            except Exception:
                pass
        self.assertIsNotNone(got, "nothing came from the remote broker")
        self.assertEqual((got.topic, got.payload), ("fromcloud/in", b"hello"))


if __name__ == "__main__":
    unittest.main()
