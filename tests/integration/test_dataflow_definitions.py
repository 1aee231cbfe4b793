"""Dataflow and DataflowEndpoint definitions against the real daemon (docs/dataflows.md):
--dataflows DIR with the Azure IoT Operations example (YAML and JSON), PUT/GET/DELETE over the
admin API (JSON and YAML bodies), invalid definitions refused with JSON pointers, pausing with
mode Disabled, API definitions kept across a restart, and a bad start-up definition exiting 2
naming the file, the document and the pointer. Every admin response is checked against
docs/openapi.yaml.

Tests that need an endpoint type (the example's Kafka endpoint) skip, saying so, on a build
where that endpoint type is not compiled in."""

import copy
import http.client
import json
import os
import shutil
import tempfile
import unittest

import yaml

from support import openapi
from support.admin_daemon import ADMIN_RE, AdminDaemon
from support.constants import KAFKA_UNDER_TSAN, REPO_ROOT, UNDER_TSAN
from support.edgemq_harness import EdgemqDaemon, run_edgemq

TIMEOUT = 10.0
TOKEN = "t0ken-for-the-dataflow-test"
EXAMPLES = os.path.join(REPO_ROOT, "examples", "dataflows")
API = "connectivity.iotoperations.azure.com/v1"


def example_docs():
    with open(os.path.join(EXAMPLES, "yaml", "aio-example.yaml")) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def local_dataflow(name, mode="Enabled", topic="in/#", destination="out"):
    """A dataflow from the local broker back to it (needs no endpoint type)."""
    return {"apiVersion": API, "kind": "Dataflow", "metadata": {"name": name},
            "spec": {"mode": mode, "operations": [
                {"operationType": "Source", "sourceSettings": {"endpointRef": "default", "dataSources": [topic]}},
                {"operationType": "Destination",
                 "destinationSettings": {"endpointRef": "default", "dataDestination": destination}}]}}


class Admin:
    """Admin API calls with the bearer token; each response is checked against the OpenAPI document."""

    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, content_type="application/json"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            h = {"Authorization": "Bearer " + TOKEN}
            data = None
            if body is not None:
                data = body if isinstance(body, (bytes, str)) else json.dumps(body)
                h["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            text = r.read().decode("utf-8")
            openapi.validate(method, path, r.status, r.getheader("Content-Type", ""), text)
            return r.status, (json.loads(text) if text else None)
        finally:
            conn.close()


def pointers(body):
    return [p["path"] for p in body["problems"]]


class DataflowApiTest(unittest.TestCase):
    """One daemon with the admin server and no declared definitions, shared by the tests."""

    @classmethod
    def setUpClass(cls):
        cls.admin = AdminDaemon(TOKEN, "edgemq-dataflows-")
        cls.api = Admin(cls.admin.admin_port)

    @classmethod
    def tearDownClass(cls):
        cls.admin.stop()

    def put(self, kind, name, doc, content_type="application/json"):
        return self.api.request("PUT", "/api/v1/%s/%s" % (kind, name), doc, content_type)

    def delete_after(self, kind, name):
        self.addCleanup(lambda: self.api.request("DELETE", "/api/v1/%s/%s" % (kind, name)))

    def require_kafka(self):
        """The example's Kafka endpoint PUT (201/200)."""
        code, body = self.put("dataflow-endpoints", "kafka-endpoint", example_docs()[0])
        self.assertIn(code, (200, 201), body)

    def test_put_get_list_replace_delete(self):
        doc = local_dataflow("df-crud")
        code, body = self.put("dataflows", "df-crud", doc)
        self.assertEqual(code, 201, body)
        self.assertEqual(body["spec"], doc["spec"])
        self.assertEqual(body["status"]["origin"], {"source": "api"})
        code, body = self.api.request("GET", "/api/v1/dataflows/df-crud")
        self.assertEqual(code, 200, body)
        self.assertEqual(body["metadata"], doc["metadata"])
        code, body = self.api.request("GET", "/api/v1/dataflows")
        self.assertEqual(code, 200, body)
        self.assertIn("df-crud", [d["metadata"]["name"] for d in body["items"]])
        # Replace: 200; a GET body sent back (with its status) is accepted as it is.
        got = copy.deepcopy(body["items"][[d["metadata"]["name"] for d in body["items"]].index("df-crud")])
        got["spec"]["operations"][1]["destinationSettings"]["dataDestination"] = "elsewhere"
        code, body = self.put("dataflows", "df-crud", got)
        self.assertEqual(code, 200, body)
        code, body = self.api.request("GET", "/api/v1/dataflows/df-crud")
        self.assertEqual(body["spec"]["operations"][1]["destinationSettings"]["dataDestination"], "elsewhere")
        self.assertEqual(self.api.request("DELETE", "/api/v1/dataflows/df-crud")[0], 204)
        self.assertEqual(self.api.request("GET", "/api/v1/dataflows/df-crud")[0], 404)
        code, body = self.api.request("DELETE", "/api/v1/dataflows/df-crud")
        self.assertEqual((code, body["code"]), (404, "not_found"))

    def test_yaml_body(self):
        text = ("apiVersion: %s\nkind: Dataflow\nmetadata: {name: df-yaml}\nspec:\n  mode: Disabled\n"
                "  requestDiskPersistence: Enabled\n  operations:\n"
                "  - operationType: Source\n    sourceSettings: {endpointRef: default, dataSources: ['a/+/b']}\n"
                "  - operationType: Destination\n"
                "    destinationSettings: {endpointRef: default, dataDestination: \"42\"}\n" % API)
        self.delete_after("dataflows", "df-yaml")
        code, body = self.put("dataflows", "df-yaml", text, "application/yaml")
        self.assertEqual(code, 201, body)
        self.assertEqual(body["spec"]["mode"], "Disabled")
        # A quoted YAML scalar stays a string.
        self.assertEqual(body["spec"]["operations"][1]["destinationSettings"]["dataDestination"], "42")
        code, body = self.put("dataflows", "df-yaml", "spec: [unclosed", "application/yaml")
        self.assertEqual((code, body["code"]), (400, "bad_body"))
        self.assertIn("line", body["message"])
        code, body = self.put("dataflows", "df-yaml", "x", "text/plain")
        self.assertEqual((code, body["code"]), (415, "unsupported_media_type"))
        two = json.dumps(local_dataflow("df-yaml")) + json.dumps(local_dataflow("df-yaml"))
        code, body = self.put("dataflows", "df-yaml", two)
        self.assertEqual((code, body["code"]), (400, "bad_body"))

    def test_invalid_dataflows_are_refused_with_pointers(self):
        doc = local_dataflow("df-bad", mode="Paused")
        doc["spec"]["operations"][0]["sourceSettings"]["dataSources"] = []
        doc["spec"]["operations"][1]["destinationSettings"]["endpointRef"] = "nowhere"
        doc["spec"]["operations"].append({"operationType": "Sink"})
        code, body = self.put("dataflows", "df-bad", doc)
        self.assertEqual((code, body["code"]), (400, "invalid_definition"), body)
        self.assertEqual(sorted(pointers(body)), sorted([
            "/spec/mode", "/spec/operations/0/sourceSettings/dataSources",
            "/spec/operations/1/destinationSettings/endpointRef", "/spec/operations/2/operationType"]))
        self.assertEqual(self.api.request("GET", "/api/v1/dataflows/df-bad")[0], 404)
        # No Source, and neither end the local broker.
        doc = local_dataflow("df-bad")
        del doc["spec"]["operations"][0]
        code, body = self.put("dataflows", "df-bad", doc)
        self.assertEqual(pointers(body), ["/spec/operations"])
        self.assertIn("Source", body["problems"][0]["message"])
        # The name in the path must be the document's.
        code, body = self.put("dataflows", "other-name", local_dataflow("df-bad"))
        self.assertEqual((code, pointers(body)), (400, ["/metadata/name"]))
        doc = local_dataflow("df-bad")
        doc["apiVersion"] = "v1"
        code, body = self.put("dataflows", "df-bad", doc)
        self.assertEqual((code, pointers(body)), (400, ["/apiVersion"]))

    def test_endpoints_unknown_type_and_default(self):
        doc = {"apiVersion": API, "kind": "DataflowEndpoint", "metadata": {"name": "pigeon"},
               "spec": {"endpointType": "CarrierPigeon"}}
        code, body = self.put("dataflow-endpoints", "pigeon", doc)
        self.assertEqual((code, pointers(body)), (400, ["/spec/endpointType"]), body)
        doc["metadata"]["name"] = "default"
        doc["spec"]["endpointType"] = "Mqtt"
        code, body = self.put("dataflow-endpoints", "default", doc)
        self.assertEqual(code, 400, body)
        self.assertIn("/metadata/name", pointers(body))
        code, body = self.api.request("DELETE", "/api/v1/dataflow-endpoints/default")
        self.assertEqual((code, body["code"]), (409, "reserved"))
        code, body = self.api.request("GET", "/api/v1/dataflow-endpoints/default")
        self.assertEqual(code, 200, body)
        self.assertEqual(body["status"]["origin"], {"source": "builtin"})
        code, body = self.api.request("GET", "/api/v1/dataflow-endpoints")
        self.assertIn("default", [e["metadata"]["name"] for e in body["items"]])
        self.assertEqual(self.api.request("DELETE", "/api/v1/dataflow-endpoints/nothing")[0], 404)

    def test_pause_with_mode_disabled(self):
        self.delete_after("dataflows", "df-pause")
        self.assertEqual(self.put("dataflows", "df-pause", local_dataflow("df-pause"))[0], 201)
        code, body = self.put("dataflows", "df-pause", local_dataflow("df-pause", mode="Disabled"))
        self.assertEqual(code, 200, body)
        self.assertEqual(self.api.request("GET", "/api/v1/dataflows/df-pause")[1]["spec"]["mode"], "Disabled")
        code, body = self.put("dataflows", "df-pause", local_dataflow("df-pause", mode="Enabled"))
        self.assertEqual(self.api.request("GET", "/api/v1/dataflows/df-pause")[1]["spec"]["mode"], "Enabled")

    @unittest.skipIf(UNDER_TSAN, KAFKA_UNDER_TSAN)
    def test_endpoint_in_use_cannot_be_deleted(self):
        self.require_kafka()
        self.delete_after("dataflow-endpoints", "kafka-endpoint")
        self.delete_after("dataflows", "my-dataflow")  # cleanups run last-in first-out
        code, body = self.put("dataflows", "my-dataflow", example_docs()[1])
        self.assertEqual(code, 201, body)
        code, body = self.api.request("GET", "/api/v1/dataflow-endpoints/kafka-endpoint")
        self.assertEqual(body["status"]["usedBy"], ["my-dataflow"])
        code, body = self.api.request("DELETE", "/api/v1/dataflow-endpoints/kafka-endpoint")
        self.assertEqual((code, body["code"], body["dataflows"]), (409, "in_use", ["my-dataflow"]), body)

    def test_unauthorized(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin.admin_port, timeout=TIMEOUT)
        try:
            conn.request("GET", "/api/v1/dataflows")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 401)
        finally:
            conn.close()


class DeclaredAndPersistedTest(unittest.TestCase):
    """Daemons started for one test each: declared directories and config documents, restarts."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="edgemq-dataflow-defs-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        with open(os.path.join(self.tmp, "token"), "w") as f:
            f.write(TOKEN + "\n")

    def start(self, extra=(), config=None, data_dir=None):
        d = EdgemqDaemon(config=config, data_dir=data_dir or os.path.join(self.tmp, "data"),
                         extra_args=["--admin", "http://127.0.0.1:0", "--admin-token-file",
                                     os.path.join(self.tmp, "token")] + list(extra))
        d.start()
        self.addCleanup(lambda: d.alive() and d.stop())
        return d, Admin(int(ADMIN_RE.search(d.ready_line).group(1)))

    def write(self, name, text):
        os.makedirs(os.path.dirname(os.path.join(self.tmp, name)), exist_ok=True)
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_bad(self, args):
        r = run_edgemq(["--data-dir", os.path.join(self.tmp, "data"), "--listen", "127.0.0.1:0"] + args)
        self.assertEqual(r.returncode, 2, "stdout: %s\nstderr: %s" % (r.stdout, r.stderr))
        self.assertNotIn("ready", r.stdout)
        return r.stderr

    @unittest.skipIf(UNDER_TSAN, KAFKA_UNDER_TSAN)
    def test_example_directory_loads_in_yaml_and_json(self):
        expected = example_docs()
        for sub in ("yaml", "json"):
            with self.subTest(sub):
                d = EdgemqDaemon(data_dir=os.path.join(self.tmp, "data-" + sub),
                                 extra_args=["--admin", "http://127.0.0.1:0", "--admin-token-file",
                                             os.path.join(self.tmp, "token"), "--dataflows",
                                             os.path.join(EXAMPLES, sub)])
                d.start()
                try:
                    api = Admin(int(ADMIN_RE.search(d.ready_line).group(1)))
                    code, body = api.request("GET", "/api/v1/dataflows/my-dataflow")
                    self.assertEqual(code, 200, body)
                    self.assertEqual(body["spec"], expected[1]["spec"])
                    self.assertEqual(body["metadata"], expected[1]["metadata"])
                    self.assertEqual(body["status"]["origin"]["source"], "file")
                    self.assertEqual(body["status"]["origin"]["document"], 2)
                    code, body = api.request("GET", "/api/v1/dataflow-endpoints/kafka-endpoint")
                    self.assertEqual((code, body["spec"]), (200, expected[0]["spec"]))
                    self.assertEqual(body["status"]["usedBy"], ["my-dataflow"])
                    # Declared only: not deletable through the API.
                    code, body = api.request("DELETE", "/api/v1/dataflows/my-dataflow")
                    self.assertEqual((code, body["code"]), (409, "declared"))
                finally:
                    d.stop()

    def test_directory_and_config_documents(self):
        self.write("defs/a.yaml", yaml.safe_dump_all([local_dataflow("from-dir-1"), local_dataflow("from-dir-2")]))
        self.write("defs/b.json", json.dumps([local_dataflow("from-dir-3")]))
        self.write("defs/ignored.txt", "not a definition")
        d, api = self.start(["--dataflows", os.path.join(self.tmp, "defs")],
                            config={"dataflows": {"documents": [local_dataflow("from-config")]}})
        code, body = api.request("GET", "/api/v1/dataflows")
        names = [x["metadata"]["name"] for x in body["items"]]
        self.assertEqual(names, ["from-config", "from-dir-1", "from-dir-2", "from-dir-3"])
        origin = {x["metadata"]["name"]: x["status"]["origin"] for x in body["items"]}
        self.assertEqual(origin["from-config"], {"source": "config", "document": 0})
        self.assertEqual(origin["from-dir-2"],
                         {"source": "file", "file": os.path.join(self.tmp, "defs", "a.yaml"), "document": 2})
        # An API definition of a declared name wins until it is deleted; then the declared one is back.
        code, body = api.request("PUT", "/api/v1/dataflows/from-dir-1", local_dataflow("from-dir-1", mode="Disabled"))
        self.assertEqual(code, 200, body)
        self.assertEqual(body["status"]["origin"], {"source": "api"})
        self.assertEqual(api.request("DELETE", "/api/v1/dataflows/from-dir-1")[0], 204)
        code, body = api.request("GET", "/api/v1/dataflows/from-dir-1")
        self.assertEqual((body["spec"]["mode"], body["status"]["origin"]["source"]), ("Enabled", "file"))

    def test_restart_keeps_api_definitions(self):
        data = os.path.join(self.tmp, "kept")
        d, api = self.start(data_dir=data)
        self.assertEqual(api.request("PUT", "/api/v1/dataflows/kept", local_dataflow("kept", mode="Disabled"))[0], 201)
        self.assertEqual(api.request("PUT", "/api/v1/dataflows/gone", local_dataflow("gone"))[0], 201)
        self.assertEqual(api.request("DELETE", "/api/v1/dataflows/gone")[0], 204)
        with open(os.path.join(data, "dataflow-definitions.json")) as f:
            self.assertEqual([x["metadata"]["name"] for x in json.load(f)["dataflows"]], ["kept"])
        d.stop()
        d, api = self.start(data_dir=data)
        code, body = api.request("GET", "/api/v1/dataflows/kept")
        self.assertEqual(code, 200, body)
        self.assertEqual((body["spec"]["mode"], body["status"]["origin"]), ("Disabled", {"source": "api"}))
        self.assertEqual(api.request("GET", "/api/v1/dataflows/gone")[0], 404)

    def test_bad_startup_definition_exits_2(self):
        bad = local_dataflow("bad-one", mode="Paused")
        path = self.write("bad/x.yaml", yaml.safe_dump_all([local_dataflow("fine"), bad]))
        err = self.run_bad(["--dataflows", os.path.dirname(path)])
        self.assertIn("edgemq: dataflow definition error in %s document 2 (Dataflow 'bad-one') at /spec/mode: "
                      "must be Enabled or Disabled" % path, err)
        self.assertEqual(len(err.splitlines()), 1, err)
        # A syntax error names the file and the line.
        path = self.write("syntax/y.yml", "kind: Dataflow\nspec: [unclosed\n")
        err = self.run_bad(["--dataflows", os.path.dirname(path)])
        self.assertIn("edgemq: dataflow definitions in %s: YAML syntax error at line" % path, err)
        err = self.run_bad(["--dataflows", ""])
        self.assertIn("edgemq: --dataflows: must not be empty", err)
        err = self.run_bad(["--dataflows", os.path.join(self.tmp, "missing")])
        self.assertIn("edgemq: --dataflows '%s': not a directory" % os.path.join(self.tmp, "missing"), err)
        # Config documents: reported as config errors with the full pointer.
        cfg = self.write("cfg.json", json.dumps({"dataflows": {"documents": [bad]}}))
        err = self.run_bad(["--config", cfg])
        self.assertIn("edgemq: config error in %s at /dataflows/documents/0/spec/mode: must be Enabled or Disabled"
                      % cfg, err)
        cfg = self.write("cfg2.json", json.dumps({"dataflows": {"documents": [1], "dir": ""}}))
        err = self.run_bad(["--config", cfg])
        self.assertIn("at /dataflows/documents/0: must be a resource document", err)
        self.assertIn("at /dataflows/dir: must be a non-empty string", err)


if __name__ == "__main__":
    unittest.main()
