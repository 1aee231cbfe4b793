"""The dashboard (docs/operations.md, "Dashboard") end to end in Debian's headless Chromium,
driven by playwright-core (tests/browser/dashboard_check.mjs), against a real daemon with an
admin token: the page asks for the token, loads without console errors, lists a client this test
connects with paho, and its rate chart rises while this test publishes. The screenshot is kept
under the build directory (its path is printed). Also the static files over plain HTTP: content
types, ETag revalidation, served without the token while the API still wants it."""

import http.client
import json
import os
import re
import shutil
import subprocess
import threading
import time
import unittest

from support.constants import program_path
from support.admin_daemon import AdminDaemon
from support.paho_helper import PahoClient

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "..", "browser")
CHECK = os.path.join(BROWSER_DIR, "dashboard_check.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
TOKEN = "dashboard-test-token"
TIMEOUT = 10.0
BROWSER_TIMEOUT = 90.0


def artifacts_dir():
    """<build>/test-artifacts, the build directory being the one the daemon binary was built in."""
    build = os.path.normpath(os.path.join(os.path.dirname(program_path("EDGEMQ_BIN")), "..", ".."))
    path = os.path.join(build, "test-artifacts")
    os.makedirs(path, exist_ok=True)
    return path


class DashboardTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        missing = [what for what, ok in (
            ("Debian's chromium (%s)" % CHROMIUM, os.access(CHROMIUM, os.X_OK)),
            ("node", NODE is not None),
            ("playwright-core (tests/browser/node_modules)",
             os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core"))),
        ) if not ok]
        if missing:
            raise AssertionError("missing test dependencies: %s; run ./scripts/install-deps.sh --test"
                                 % ", ".join(missing))
        cls.admin = AdminDaemon(TOKEN, "edgemq-dashboard-")
        cls.daemon, cls.admin_port = cls.admin.daemon, cls.admin.admin_port

    @classmethod
    def tearDownClass(cls):
        cls.admin.stop()

    def get(self, path, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=TIMEOUT)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            return r.status, r, r.read()
        finally:
            conn.close()

    def test_static_files(self):
        for path, ctype in (("/", "text/html"), ("/dashboard/index.html", "text/html"),
                            ("/dashboard/app.js", "text/javascript"), ("/dashboard/style.css", "text/css")):
            status, r, body = self.get(path)  # no token: the files hold no data
            self.assertEqual(status, 200, path)
            self.assertTrue(r.getheader("Content-Type").startswith(ctype), (path, r.getheader("Content-Type")))
            self.assertEqual(r.getheader("Cache-Control"), "no-cache", path)
            self.assertEqual(r.getheader("X-Content-Type-Options"), "nosniff", path)
            self.assertIn("default-src 'self'", r.getheader("Content-Security-Policy"), path)
            etag = r.getheader("ETag")
            self.assertRegex(etag, r'^"[0-9a-f]{16}"$')
            self.assertTrue(body)
            status, r, body = self.get(path, {"If-None-Match": etag})
            self.assertEqual((status, body), (304, b""), path)
        # The page references only files of this server: nothing fetched from elsewhere.
        _, _, html = self.get("/")
        for ref in re.findall(rb'(?:src|href)="([^"]*)"', html):
            self.assertTrue(ref.startswith(b"/dashboard/") or ref.startswith(b"data:"), ref)
        self.assertEqual(self.get("/dashboard/nothing.js")[0], 404)
        status, _, body = self.get("/dashboard/config.json")
        self.assertEqual((status, json.loads(body)), (200, {"token_required": True}))
        self.assertEqual(self.get("/api/v1/clients")[0], 401, "the data still needs the token")

    def test_in_chromium(self):
        client = PahoClient(self.daemon.host, self.daemon.port, client_id="dashboard-device-1", version=5)
        client.connect()
        publisher = PahoClient(self.daemon.host, self.daemon.port, client_id="dashboard-publisher", version=5)
        publisher.connect()
        screenshot = os.path.join(artifacts_dir(), "dashboard.png")
        if os.path.exists(screenshot):
            os.remove(screenshot)
        proc = subprocess.Popen([NODE, CHECK, "http://127.0.0.1:%d/" % self.admin_port, TOKEN, client.client_id,
                                 screenshot], cwd=BROWSER_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        stop = threading.Event()
        published = [0]

        def publish():
            # Bounded: at most 60 s at about 100 messages a second, until the browser is done.
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                publisher.publish("dashboard/test", b"x" * 16, qos=0)
                published[0] += 1
                stop.wait(0.01)

        thread = threading.Thread(target=publish, daemon=True)
        try:
            timer = threading.Timer(BROWSER_TIMEOUT, proc.kill)
            timer.start()
            ready = json.loads(proc.stdout.readline() or '{"step": "no output"}')
            if ready.get("step") != "ready":
                proc.kill()
                self.fail("the page did not get ready: %s\n%s" % (ready, proc.communicate()[1]))
            self.assertEqual(ready["row"][0], client.client_id)
            self.assertEqual(ready["row"][3], "5")  # MQTT version column
            self.assertEqual(float(ready["before"]["lastRateIn"]), 0.0, "nothing published yet")
            thread.start()
            done = json.loads(proc.stdout.readline() or '{"step": "no output"}')
            proc.wait()
            timer.cancel()
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            stderr = proc.stderr.read()
            proc.stdout.close()
            proc.stderr.close()
            client.close()
            publisher.close()
        print("dashboard screenshot: %s" % screenshot)
        print("browser console (errors and warnings): %s" % json.dumps(done.get("errors")))
        self.assertEqual(done.get("step"), "done", "%s\n%s" % (done, stderr))
        self.assertTrue(os.path.getsize(screenshot) > 0)
        self.assertGreater(published[0], 0)
        self.assertGreater(float(done["after"]["lastRateIn"]), 0.0)
        self.assertGreater(int(done["after"]["points"]), int(done["before"]["points"]))
        self.assertGreater(done["inked"], 0, "nothing drawn on the chart")
        self.assertRegex(done["retained"], r"^\d+$")
        # The state store panel: keys listed, or (the keys API not served by this build) a note saying so.
        self.assertIn(done["keys"]["state"], ("ok", "unavailable"), done["keys"])
        if done["keys"]["state"] == "unavailable":
            self.assertIn("not available", done["keys"]["note"])
        errors = [e for e in done["errors"] if e["type"] != "warning"]
        if done["keys"]["state"] == "unavailable":
            # The one error the browser itself logs for that 404 (fetch does not let a page hide it).
            errors = [e for e in errors
                      if not ("/api/v1/statestore/keys" in e["url"] and "404" in e["text"])]
        self.assertEqual(errors, [], "console errors")


if __name__ == "__main__":
    unittest.main()
