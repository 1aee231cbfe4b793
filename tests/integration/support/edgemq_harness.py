"""Start and stop a real edgemq daemon for integration tests.

The daemon is started on 127.0.0.1:0 (an ephemeral port) with a fresh temporary data
directory and, optionally, a JSON configuration written from a dict. Readiness is the
single "ready: MQTT on HOST:PORT" line the daemon prints on stdout; we wait for it with a
deadline (no sleeps). stdout and stderr are drained by background threads so the daemon
never blocks on a full pipe, and the lines are kept for assertions.
"""

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

EDGEMQ_BIN = os.environ.get("EDGEMQ_BIN", "/work/main/build/src/app/edgemq")

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0

_READY_RE = re.compile(r"ready: MQTT on (\S+?):(\d+)")


class DaemonError(AssertionError):
    pass


class _LineCollector:
    """Reads a pipe line by line in a thread; keeps every line and offers them on a queue."""

    def __init__(self, stream):
        self.lines = []
        self.queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.lines.append(line)
            self.queue.put(line)
        self.queue.put(None)  # EOF marker
        stream.close()

    def text(self):
        with self._lock:
            return "\n".join(self.lines)

    def join(self, timeout):
        self._thread.join(timeout)


class EdgemqDaemon:
    """One edgemq process. Use start()/stop() or as a context manager."""

    def __init__(self, config=None, extra_args=None, listen="127.0.0.1:0", log_level="info", workers=None):
        self.config = config
        self.extra_args = list(extra_args or [])
        self.listen = listen
        self.log_level = log_level
        self.workers = workers
        self.proc = None
        self.port = None
        self.host = None
        self.ready_line = None
        self.returncode = None
        self.tmpdir = None
        self.data_dir = None
        self.stdout = None
        self.stderr = None

    # ------------------------------------------------------------------ lifecycle
    def command(self):
        cmd = [EDGEMQ_BIN, "--data-dir", self.data_dir, "--log-level", self.log_level]
        if self.listen is not None:
            cmd += ["--listen", self.listen]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        if self.config is not None:
            path = os.path.join(self.tmpdir, "edgemq.json")
            with open(path, "w") as f:
                json.dump(self.config, f)
            cmd += ["--config", path]
        return cmd + self.extra_args

    def start(self, timeout=READY_TIMEOUT):
        if not os.access(EDGEMQ_BIN, os.X_OK):
            raise DaemonError("edgemq binary not found or not executable: %s (set EDGEMQ_BIN)" % EDGEMQ_BIN)
        self.tmpdir = tempfile.mkdtemp(prefix="edgemq-it-")
        self.data_dir = os.path.join(self.tmpdir, "data")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.stdout = _LineCollector(self.proc.stdout)
        self.stderr = _LineCollector(self.proc.stderr)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise DaemonError("edgemq did not print its ready line within %.1fs\nstdout:\n%s\nstderr:\n%s"
                                  % (timeout, self.stdout.text(), self.stderr.text()))
            try:
                line = self.stdout.queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                rc = self.proc.wait(timeout=STOP_TIMEOUT)
                self.returncode = rc
                self.stderr.join(2)
                raise DaemonError("edgemq exited (code %s) before becoming ready\nstdout:\n%s\nstderr:\n%s"
                                  % (rc, self.stdout.text(), self.stderr.text()))
            m = _READY_RE.search(line)
            if m:
                self.ready_line = line
                self.host = m.group(1)
                self.port = int(m.group(2))
                return self

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise DaemonError("edgemq did not exit within %.1fs\nstdout:\n%s\nstderr:\n%s"
                              % (timeout, self.stdout.text(), self.stderr.text()))
        self.stdout.join(2)
        self.stderr.join(2)
        return self.returncode

    def stop(self, sig=signal.SIGTERM, expect_rc=0, timeout=STOP_TIMEOUT):
        """Signal the daemon, wait for it and (by default) require exit code 0."""
        if self.proc is None:
            return None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            rc = self.wait(timeout)
            if expect_rc is not None and rc != expect_rc:
                raise DaemonError("edgemq exited with code %s, expected %s\nstdout:\n%s\nstderr:\n%s"
                                  % (rc, expect_rc, self.stdout.text(), self.stderr.text()))
            return rc
        finally:
            self.cleanup()

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self._kill()
        if self.tmpdir and os.path.isdir(self.tmpdir):
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop(expect_rc=0 if exc[0] is None else None)
        return False


def run_edgemq(args, timeout=STOP_TIMEOUT):
    """Run edgemq to completion (for --version, bad configs...). Returns CompletedProcess."""
    return subprocess.run([EDGEMQ_BIN] + list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


class DaemonTestCase(unittest.TestCase):
    """A test class sharing one daemon (started in setUpClass, stopped with SIGTERM in
    tearDownClass, which asserts a clean exit). Subclasses may set `config`."""

    config = None
    workers = None
    daemon = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.daemon = EdgemqDaemon(config=cls.config, workers=cls.workers).start()
        cls.host = "127.0.0.1"
        cls.port = cls.daemon.port

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.daemon is not None:
                cls.daemon.stop(expect_rc=0)
        finally:
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.assertTrue(self.daemon.alive(), "edgemq died before %s\nstderr:\n%s" % (self.id(), self.daemon.stderr.text()))
        self._cleanups_clients = []

    def tearDown(self):
        for c in reversed(self._cleanups_clients):
            try:
                c.close()
            except Exception:
                pass
        self.assertTrue(self.daemon.alive(), "edgemq died during %s\nstderr:\n%s" % (self.id(), self.daemon.stderr.text()))
        super().tearDown()

    def track(self, client):
        """Close `client` (anything with close()) after the test."""
        self._cleanups_clients.append(client)
        return client

    def unique(self, stem="t"):
        """A topic/client-id fragment unique to this test."""
        return "%s-%s-%d" % (stem, self._testMethodName, next(_counter))


def _count():
    n = 0
    while True:
        n += 1
        yield n


_counter = _count()
