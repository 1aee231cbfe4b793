"""Dataflow destinations end to end through the real daemon (docs/dataflows.md, "Endpoints"):
messages published on the local broker go through a dataflow to
- an Http endpoint: a webhook (Python's http.server, in this process) that answers 503 for a
  while and is then taken down altogether before it comes back: every message arrives, in order,
  none lost (a batch may arrive twice: at least once);
- a File endpoint: JSON Lines files under the data directory, rotated by size, every message in
  order across the files.
The definitions are loaded with `--dataflows DIR` (one JSON document per file, as kubectl
apply would take them)."""

import glob
import http.client
import http.server
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import unittest

from support.admin_daemon import AdminDaemon
from support.edgemq_harness import EdgemqDaemon
from support.paho_helper import PahoClient

TIMEOUT = 10.0
DELIVERY_TIMEOUT = 90.0  # covers the runtime's backoff between attempts


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("not within %.0fs: %s" % (timeout, what))


class Every:
    """Calls `fn` when called, at most once per `interval` seconds (the first call always)."""

    def __init__(self, interval, fn):
        self.interval, self.fn, self.last = interval, fn, None

    def __call__(self):
        now = time.monotonic()
        if self.last is None or now - self.last >= self.interval:
            self.last = now
            self.fn()


class Webhook:
    """A webhook on 127.0.0.1 that keeps every request; `status` says what it answers; stop() and
    start() take it down and bring it back on the same port."""

    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = []  # decoded JSON bodies answered with 2xx, in arrival order
        self.refused = 0  # requests answered with a failure status
        self.status = 200
        self.port = 0
        self.server = None
        self.thread = None
        self.connections = set()

    def start(self):
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with hook.lock:
                    hook.connections.add(self.connection)

            def finish(self):
                with hook.lock:
                    hook.connections.discard(self.connection)
                super().finish()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with hook.lock:
                    status = hook.status
                    if status < 300:
                        hook.accepted.append((self.headers.get("Content-Type"), self.headers.get("X-Test"),
                                              json.loads(body)))
                    else:
                        hook.refused += 1
                reply = b"ok" if status < 300 else b"not now"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Down: no listener, and the kept-alive connections cut too."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        with self.lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def records(self):
        with self.lock:
            return [rec for _, _, batch in self.accepted for rec in batch]


def document(kind, name, spec):
    return {"apiVersion": "connectivity.iotoperations.azure.com/v1", "kind": kind, "metadata": {"name": name},
            "spec": spec}


def dataflow(name, source_topic, endpoint, destination):
    return document("Dataflow", name, {
        "profileRef": "default",
        "mode": "Enabled",
        "operations": [
            {"operationType": "Source", "sourceSettings": {"endpointRef": "default", "dataSources": [source_topic]}},
            {"operationType": "Destination",
             "destinationSettings": {"endpointRef": endpoint, "dataDestination": destination}},
        ],
    })


class DataflowSinksTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.webhook = Webhook()
        cls.webhook.start()
        cls.defs = tempfile.mkdtemp(prefix="edgemq-dataflows-")
        docs = {
            "webhook-endpoint.json": document("DataflowEndpoint", "webhook", {
                "endpointType": "Http",
                "httpSettings": {"url": "http://127.0.0.1:%d/ingest" % cls.webhook.port,
                                 "headers": {"X-Test": "sinks"}, "batching": {"maxMessages": 10},
                                 "timeoutSeconds": 5}}),
            "files-endpoint.json": document("DataflowEndpoint", "files", {
                "endpointType": "File",
                "fileSettings": {"path": "exports", "maxFileBytes": 1000, "rotateSeconds": 3600}}),
            "to-webhook.json": dataflow("to-webhook", "sinks/webhook/#", "webhook", "ingest"),
            "to-files.json": dataflow("to-files", "sinks/files/#", "files", "plant/line1"),
        }
        for fname, doc in docs.items():
            with open(os.path.join(cls.defs, fname), "w") as f:
                json.dump(doc, f)
        cls.daemon = EdgemqDaemon(extra_args=["--dataflows", cls.defs]).start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daemon.stop(expect_rc=0)
        finally:
            cls.webhook.stop()
            shutil.rmtree(cls.defs, ignore_errors=True)

    def publisher(self):
        c = PahoClient(self.daemon.host, self.daemon.port)
        c.connect()
        self.addCleanup(c.close)
        return c

    def test_webhook_failing_then_down_then_back_gets_everything_in_order(self):
        pub = self.publisher()
        # The dataflow subscribes when the daemon starts; a probe shows it is running.
        probe = Every(0.5, lambda: pub.publish("sinks/webhook/probe", b"probe", qos=1))

        def probe_arrived():
            probe()
            return any(r["payload"] == "probe" for r in self.webhook.records())
        wait_for(probe_arrived, DELIVERY_TIMEOUT, "the first message through the webhook dataflow")

        with self.webhook.lock:
            self.webhook.status = 503
        n = 60
        for i in range(n // 2):
            pub.publish("sinks/webhook/dev%d" % (i % 3), json.dumps({"n": i}), qos=1)
        wait_for(lambda: self.webhook.refused >= 2, DELIVERY_TIMEOUT, "the webhook refusing batches")
        # Down altogether (connection refused) while more messages come in, then back.
        self.webhook.stop()
        for i in range(n // 2, n):
            pub.publish("sinks/webhook/dev%d" % (i % 3), json.dumps({"n": i}), qos=1)
        self.assertTrue(self.daemon.alive())
        with self.webhook.lock:
            self.webhook.status = 200
        self.webhook.start()  # the same port

        def numbered():
            return [r["payload"]["n"] for r in self.webhook.records()
                    if isinstance(r["payload"], dict) and "n" in r["payload"]]
        wait_for(lambda: set(numbered()) >= set(range(n)), DELIVERY_TIMEOUT,
                 "all %d messages at the webhook (got %s)" % (n, sorted(set(numbered()))))
        got = numbered()
        first_seen = []
        for x in got:
            if x not in first_seen:
                first_seen.append(x)
        self.assertEqual(first_seen, list(range(n)), "order of first arrival")
        # At least once: a batch may come twice, but only as a whole batch resent.
        self.assertLessEqual(len(got) - n, n, got)
        with self.webhook.lock:
            content_types = {ct for ct, _, _ in self.webhook.accepted}
            custom = {h for _, h, _ in self.webhook.accepted}
        self.assertEqual(content_types, {"application/json"})
        self.assertEqual(custom, {"sinks"})
        rec = next(r for r in self.webhook.records() if r["payload"] == {"n": 0})
        self.assertEqual(rec["topic"], "sinks/webhook/dev0")
        self.assertEqual(rec["payloadEncoding"], "json")

    def test_file_sink_writes_json_lines_rotated_by_size(self):
        pub = self.publisher()
        exports = os.path.join(self.daemon.data_dir, "exports")

        def lines():
            out = []
            for path in sorted(glob.glob(os.path.join(exports, "*.jsonl"))):
                with open(path) as f:
                    out += [json.loads(line) for line in f if line.endswith("\n")]
            return out

        probe = Every(0.5, lambda: pub.publish("sinks/files/probe", b"probe", qos=1))

        def probe_written():
            probe()
            return any(r["payload"] == "probe" for r in lines())
        wait_for(probe_written, DELIVERY_TIMEOUT, "the first message in a file")

        n = 40
        for i in range(n):
            pub.publish("sinks/files/dev", json.dumps({"n": i}), qos=1)
        wait_for(lambda: len([r for r in lines() if isinstance(r["payload"], dict)]) >= n, DELIVERY_TIMEOUT,
                 "%d lines in %s" % (n, exports))
        got = [r["payload"]["n"] for r in lines() if isinstance(r["payload"], dict)]
        self.assertEqual(got, list(range(n)))
        files = sorted(glob.glob(os.path.join(exports, "*.jsonl")))
        self.assertGreater(len(files), 1, "rotation by size (maxFileBytes 1000)")
        for path in files:
            self.assertRegex(os.path.basename(path), r"^plant_line1-\d{8}T\d{6}Z-\d{6}\.jsonl$")
            # Cut between batches only: at most one batch past the bound.
            self.assertLess(os.path.getsize(path), 1000 + 1000 * 100)


if __name__ == "__main__":
    unittest.main()


class WebhookOutageTest(unittest.TestCase):
    """The issue's outage: the webhook is down (connection refused) for 30 seconds while messages
    keep coming, then back. Every message arrives, in order, duplicates only as whole batches sent
    again, and the dataflow's status counted it all: the failed sends, the buffered records, the
    records sent."""

    OUTAGE_S = 30.0
    TOKEN = "outage-token"

    @classmethod
    def setUpClass(cls):
        cls.webhook = Webhook()
        cls.webhook.start()
        cls.defs = tempfile.mkdtemp(prefix="edgemq-dataflows-outage-")
        docs = {
            "hook.json": document("DataflowEndpoint", "hook", {
                "endpointType": "Http",
                "httpSettings": {"url": "http://127.0.0.1:%d/ingest" % cls.webhook.port,
                                 "batching": {"maxMessages": 10}, "timeoutSeconds": 5}}),
            "to-hook.json": dataflow("to-hook", "outage/#", "hook", "ingest"),
        }
        for fname, doc in docs.items():
            with open(os.path.join(cls.defs, fname), "w") as f:
                json.dump(doc, f)
        cls.admin = AdminDaemon(cls.TOKEN, "edgemq-outage-", config={"dataflows": {"dir": cls.defs}})
        cls.daemon = cls.admin.daemon

    @classmethod
    def tearDownClass(cls):
        try:
            cls.admin.stop()
        finally:
            cls.webhook.stop()
            shutil.rmtree(cls.defs, ignore_errors=True)

    def status(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin.admin_port, timeout=TIMEOUT)
        conn.request("GET", "/api/v1/dataflows/to-hook", headers={"Authorization": "Bearer " + self.TOKEN})
        r = conn.getresponse()
        body = json.loads(r.read())
        conn.close()
        self.assertEqual(r.status, 200, body)
        return body["status"]

    def numbered(self):
        return [r["payload"]["n"] for r in self.webhook.records()
                if isinstance(r["payload"], dict) and "n" in r["payload"]]

    def test_webhook_down_for_30_seconds_then_back(self):
        pub = PahoClient(self.daemon.host, self.daemon.port)
        pub.connect()
        self.addCleanup(pub.close)
        probes = [0]

        def send_probe():
            pub.publish("outage/probe", b"probe", qos=1)
            probes[0] += 1
        probe = Every(0.5, send_probe)

        def probes_arrived():  # every probe sent, so the counters below start from a quiet dataflow
            probe()
            return sum(r["payload"] == "probe" for r in self.webhook.records()) >= probes[0]
        wait_for(probes_arrived, DELIVERY_TIMEOUT, "the first messages through the webhook dataflow")
        wait_for(lambda: self.status()["received"] == self.status()["sent"], TIMEOUT, "the probes counted")
        before = self.status()

        self.webhook.stop()
        n, i = 0, 0
        start = time.monotonic()
        while time.monotonic() - start < self.OUTAGE_S:  # a message every 0.25 s, for 30 s
            pub.publish("outage/dev%d" % (i % 4), json.dumps({"n": i}), qos=1)
            i += 1
            time.sleep(0.25)
        n = i
        during = self.status()
        self.assertEqual(self.numbered(), [], "delivered while the webhook was down")
        self.assertGreater(during["sendFailures"], before["sendFailures"])
        self.assertIsNotNone(during["lastError"])
        self.assertEqual(during["buffer"]["messages"], n)  # all of it waits in the disk buffer
        self.assertEqual(during["state"], "Running")

        self.webhook.start()  # the same port
        wait_for(lambda: set(self.numbered()) >= set(range(n)), DELIVERY_TIMEOUT,
                 "all %d messages at the webhook after the outage" % n)
        got = self.numbered()
        first_seen = list(dict.fromkeys(got))
        self.assertEqual(first_seen, list(range(n)), "order of first arrival")
        self.assertLessEqual(len(got) - n, 10, "more duplicates than one resent batch")

        def drained():
            st = self.status()
            return st["buffer"]["messages"] == 0 and st["sent"] - before["sent"] >= n
        wait_for(drained, TIMEOUT, "the buffer drained and the records counted as sent")
        after = self.status()
        self.assertEqual(after["received"] - before["received"], n)
        self.assertEqual(after["buffer"]["evicted"], 0)
