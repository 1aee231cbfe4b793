"""The reference's AIO example dataflow end to end (docs/dataflows.md, "The AIO example"): the
YAML of /work/shared/reference/aio-broker-and-dataflows.md section 5, as it is, from
examples/dataflows/yaml/, loaded with --dataflows DIR, its Kafka DataflowEndpoint pointed at
librdkafka's mock cluster (tests/tools/kafka_mock_cluster.cpp, real TCP on loopback).

Thermostats publish JSON on thermostats/<id>/telemetry/temperature/...; the dataset
`assetDataset` (JSON Lines in the state store, set over the admin API) gives each device's
location; readings at or below 20 °C are dropped by the filter; the map turns the rest into
{"TemperatureF": cToF(temperature), "Location": <the dataset's location>}, produced to the Kafka
topic `telemetry`. A changed dataset applies without a restart (KEYNOTIFY)."""

import http.client
import json
import os
import queue
import shutil
import subprocess
import threading
import time
import unittest
import urllib.parse

from support.admin_daemon import AdminDaemon
from support.constants import KAFKA_UNDER_TSAN, UNDER_TSAN
from support.paho_helper import PahoClient

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "examples", "dataflows")
TOKEN = "dataflow-example-token"
TIMEOUT = 20.0


def kafka_mock_path():
    path = os.environ.get("EDGEMQ_KAFKA_MOCK") or os.path.join(HERE, "..", "..", "build", "tests",
                                                                  "edgemq-test-kafka-mock")
    if not os.path.exists(path):
        raise unittest.SkipTest("edgemq-test-kafka-mock not built (%s)" % path)
    return path


class KafkaMock:
    """The mock cluster process; `messages` receives each consumed record (a dict)."""

    def __init__(self, topic):
        self.proc = subprocess.Popen([kafka_mock_path(), "--topic", topic, "--seconds", "300"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = json.loads(self.proc.stdout.readline())
        self.bootstrap = first["bootstrap"]
        self.messages = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.messages.put(json.loads(line))

    def next(self, timeout=TIMEOUT):
        return self.messages.get(timeout=timeout)

    def stop(self):
        self.proc.stdin.close()  # the mock ends when its stdin closes
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@unittest.skipIf(UNDER_TSAN, KAFKA_UNDER_TSAN)
class AioExampleDataflowTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.kafka = KafkaMock("telemetry")
        cls.dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), "edgemq-df-example-%d" % os.getpid())
        os.makedirs(cls.dir, exist_ok=True)
        # examples/dataflows/yaml/aio-example.yaml: the reference's dataflow exactly as AIO documents
        # it, and its Kafka endpoint, here pointed at the mock cluster instead of localhost:9092.
        with open(os.path.join(EXAMPLES, "yaml", "aio-example.yaml")) as f:
            text = f.read()
        assert "host: localhost:9092" in text
        with open(os.path.join(cls.dir, "aio-example.yaml"), "w") as f:
            f.write(text.replace("host: localhost:9092", "host: \"%s\"" % cls.kafka.bootstrap))
        cls.admin = AdminDaemon(TOKEN, "edgemq-df-example-", config={"dataflows": {"dir": cls.dir}})
        cls.daemon = cls.admin.daemon

    @classmethod
    def tearDownClass(cls):
        try:
            cls.admin.stop()
        finally:
            cls.kafka.stop()
            shutil.rmtree(cls.dir, ignore_errors=True)

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin.admin_port, timeout=TIMEOUT)
        headers = {"Authorization": "Bearer " + TOKEN}
        if body is not None:
            body = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, (json.loads(data) if data else None)

    def set_dataset(self, records):
        text = "\n".join(json.dumps(r) for r in records) + "\n"
        status, _ = self.request("PUT", "/api/v1/statestore/keys/" + urllib.parse.quote("assetDataset", safe=""),
                                 {"value": text, "encoding": "utf-8"})
        self.assertEqual(status, 200)

    def publisher(self):
        c = PahoClient(self.daemon.host, self.daemon.port)
        c.connect()
        self.addCleanup(c.close)
        return c

    def test_example_runs_end_to_end(self):
        self.set_dataset([{"asset": "thermostat-1", "location": "Hall A"},
                          {"asset": "thermostat-2", "location": "Hall B"}])
        pub = self.publisher()
        readings = [("thermostat-1", 25), ("thermostat-2", 15), ("thermostat-2", 30), ("thermostat-1", 20)]
        for device, celsius in readings:
            pub.publish("thermostats/%s/telemetry/temperature/room" % device,
                        json.dumps({"deviceId": device, "temperature": celsius}), qos=1)
        # 15 and 20 are dropped (the filter's rule `$1 <= 20` is true for them); order is kept.
        got = [json.loads(self.kafka.next()["value"]) for _ in range(2)]
        self.assertEqual(got, [{"TemperatureF": 77, "Location": "Hall A"},
                               {"TemperatureF": 86, "Location": "Hall B"}])
        self.assertTrue(self.kafka.messages.empty(), "a filtered reading reached Kafka")

        # A changed dataset applies without a restart: the cache follows KEYNOTIFY.
        self.set_dataset([{"asset": "thermostat-1", "location": "Hall C"}])
        changed_at = time.monotonic()
        deadline = changed_at + TIMEOUT
        seen = None
        while time.monotonic() < deadline:
            pub.publish("thermostats/thermostat-1/telemetry/temperature/room",
                        json.dumps({"deviceId": "thermostat-1", "temperature": 21}), qos=1)
            out = json.loads(self.kafka.next()["value"])
            if out["Location"] == "Hall C":
                seen = time.monotonic() - changed_at
                break
            self.assertEqual(out["Location"], "Hall A")
        self.assertIsNotNone(seen, "the dataset change never applied")

        status, df = self.request("GET", "/api/v1/dataflows/my-dataflow")
        self.assertEqual(status, 200)
        self.assertGreaterEqual(df["status"]["sent"], 3)
        self.assertGreaterEqual(df["status"]["dropped"], 2)


if __name__ == "__main__":
    unittest.main()
