"""Start and stop a real edgemq daemon for integration tests: the one place that does.

EdgemqDaemon runs `edgemq --data-dir DIR --log-level L --listen 127.0.0.1:0 [--workers N]
[--config ROOT/edgemq.json] EXTRA...` in a temporary root directory (config file + data dir),
created at start(). Readiness is the single "ready: MQTT on HOST:PORT" line the daemon prints on
stdout: start() reads stdout itself until that line (with a deadline, no sleeps) and returns the
moment it is printed, so a test can signal a daemon that has only just become ready. From then on
stdout and stderr are drained by background threads, so the daemon never blocks on a full pipe,
and their lines are kept for assertions and failure messages.

By default stop() removes the root directory, so every start() gets a fresh one.
RestartableDaemon keeps it: stop (SIGTERM) or kill -9, then start again on the same data
directory, for the persistence tests. `data_dir=` runs on a directory the caller owns (never
removed here); `root=` likewise for the root directory.
"""

import json
import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from support.constants import (HOST, LISTEN_ANY_PORT, READY_RE, READY_TIMEOUT, RESTART_READY_TIMEOUT, STOP_TIMEOUT,
                               ProgramNotFound, program_path, ready_endpoint, require_program)

# Kept for the modules that import them from here.
EDGEMQ_BIN = program_path("EDGEMQ_BIN")
_READY_RE = READY_RE
__all__ = ["EDGEMQ_BIN", "READY_TIMEOUT", "RESTART_READY_TIMEOUT", "STOP_TIMEOUT", "DaemonError", "ProgramNotFound",
           "EdgemqDaemon", "RestartableDaemon", "DaemonTestCase", "run_edgemq"]


class DaemonError(AssertionError):
    pass


class _LineCollector:
    """Reads a pipe line by line in a thread; keeps every line and offers them on a queue.

    `lines` and `pending` are what the caller already read from the pipe (complete lines, then
    the start of an unfinished one); they come first. The pipe is read with os.read, so it must
    not have been read through its buffered file object."""

    def __init__(self, stream, lines=(), pending=b""):
        self.lines = list(lines)
        self.queue = queue.Queue()
        for line in self.lines:
            self.queue.put(line)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(stream, pending), daemon=True)
        self._thread.start()

    def _run(self, stream, pending):
        fd = stream.fileno()
        while True:
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                self._add(_decode(raw))
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            pending += chunk
        if pending:
            self._add(_decode(pending))
        self.queue.put(None)  # EOF marker
        stream.close()

    def _add(self, line):
        with self._lock:
            self.lines.append(line)
        self.queue.put(line)

    def text(self):
        with self._lock:
            return "\n".join(self.lines)

    def join(self, timeout):
        self._thread.join(timeout)


def _decode(raw):
    return raw.decode("utf-8", "replace")


class EdgemqDaemon:
    """One edgemq process at a time. Use start()/stop() or as a context manager."""

    ready_timeout = READY_TIMEOUT
    keep_root = False  # stop() removes the root directory it created (RestartableDaemon keeps it)
    root_prefix = "edgemq-it-"
    output_tail = None  # lines of each stream in failure messages (None: all)

    def __init__(self, config=None, extra_args=None, listen=LISTEN_ANY_PORT, log_level="info", workers=None,
                 data_dir=None, root=None):
        self.config = config
        self.extra_args = list(extra_args or [])
        self.listen = listen
        self.log_level = log_level
        self.workers = workers
        self._own_root = root is None
        self._own_data_dir = data_dir is None
        self.root = root
        self.data_dir = data_dir
        self.config_path = None
        self.proc = None
        self.port = None
        self.host = None
        self.ready_line = None
        self.returncode = None
        self.stdout = None
        self.stderr = None
        self.runs = []  # [command, stdout collector, stderr collector, exit code] of every run
        self.last_ready_seconds = None

    @property
    def tmpdir(self):
        return self.root

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    # ------------------------------------------------------------------ lifecycle
    def command(self):
        cmd = [program_path("EDGEMQ_BIN"), "--data-dir", self.data_dir]
        if self.log_level is not None:
            cmd += ["--log-level", self.log_level]
        if self.listen is not None:
            cmd += ["--listen", self.listen]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        if self.config_path is not None:
            cmd += ["--config", self.config_path]
        return cmd + self.extra_args

    def _prepare(self):
        """The root directory (made once per root lifetime), the data dir, and the config file
        (written on every start, so a test may change `config` between runs)."""
        if self.root is None:
            self.root = tempfile.mkdtemp(prefix=self.root_prefix)
        if self._own_data_dir:
            self.data_dir = os.path.join(self.root, "data")
        self.config_path = None
        if self.config is not None:
            self.config_path = os.path.join(self.root, "edgemq.json")
            with open(self.config_path, "w") as f:
                json.dump(self.config, f)

    def start(self, timeout=None):
        """Start a run and wait for its ready line. Returns self (host and port set)."""
        require_program("EDGEMQ_BIN")
        if self.alive():
            raise DaemonError("edgemq is already running (pid %d)" % self.proc.pid)
        if timeout is None:
            timeout = self.ready_timeout
        self._prepare()
        cmd = self.command()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.returncode = None
        self.port = None
        self.ready_line = None
        self.stdout = None
        self.stderr = _LineCollector(self.proc.stderr)
        self.runs.append([cmd, None, self.stderr, None])
        lines, pending, state = self._read_until_ready(t0 + timeout)
        self.stdout = self.runs[-1][1] = _LineCollector(self.proc.stdout, lines, pending)
        if state == "ready":
            self.last_ready_seconds = time.monotonic() - t0
            return self
        if state == "timeout":
            self._kill_now()
            raise DaemonError("edgemq (run %d) did not print its ready line within %.1fs\n%s"
                              % (len(self.runs), timeout, self.output()))
        self.wait()
        raise DaemonError("edgemq (run %d) exited with code %s before becoming ready\n%s"
                          % (len(self.runs), self.returncode, self.output()))

    def _read_until_ready(self, deadline):
        """Reads stdout in this thread until the ready line, EOF or the deadline. Returns the
        complete lines read, the rest of the last read, and "ready", "eof" or "timeout"."""
        fd = self.proc.stdout.fileno()
        lines, pending = [], b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return lines, pending, "timeout"
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return lines, pending, "eof"
            pending += chunk
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                line = _decode(raw)
                lines.append(line)
                endpoint = ready_endpoint(line)
                if endpoint is not None:
                    self.ready_line = line
                    self.host, self.port = endpoint
                    return lines, pending, "ready"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit (killing it after `timeout`) and for its output to be
        read to the end. Returns the exit code."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_now()
            raise DaemonError("edgemq did not exit within %.1fs\n%s" % (timeout, self.output()))
        self.stdout.join(2)
        self.stderr.join(2)
        self.runs[-1][3] = self.returncode
        return self.returncode

    # A process killed by someone else (the crash test's killer script).
    wait_dead = wait

    def stop(self, sig=signal.SIGTERM, expect_rc=0, timeout=STOP_TIMEOUT):
        """Signal the daemon, wait for it and (by default) require exit code 0. Then the root
        directory is removed, unless keep_root. Returns the exit code (None if never started)."""
        if self.proc is None:
            return None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            rc = self.wait(timeout)
            if expect_rc is not None and rc != expect_rc:
                raise DaemonError("edgemq exited with code %s after signal %s, expected %s\n%s"
                                  % (rc, signal.Signals(sig).name, expect_rc, self.output()))
            return rc
        finally:
            if not self.keep_root:
                self.cleanup()

    def terminate(self, timeout=STOP_TIMEOUT):
        """Graceful stop: SIGTERM, exit code 0 required."""
        return self.stop(signal.SIGTERM, expect_rc=0, timeout=timeout)

    def kill(self):
        """kill -9; the exit status must be 'killed by SIGKILL'."""
        return self.stop(signal.SIGKILL, expect_rc=-signal.SIGKILL)

    def cleanup(self):
        """Kill the run if still alive and remove the root directory (if this object made it);
        the next start() makes a new one."""
        try:
            self._kill_now()
        finally:
            if self._own_root and self.root and os.path.isdir(self.root):
                shutil.rmtree(self.root, ignore_errors=True)
            if self._own_root:
                self.root = None

    def _kill_now(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.returncode = self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            if self.runs:
                self.runs[-1][3] = self.returncode

    def output(self, tail=None):
        """stdout/stderr of every run (the last `tail` lines of each, default output_tail), for
        failure messages."""
        if tail is None:
            tail = self.output_tail
        parts = []
        for i, (cmd, out, err, rc) in enumerate(self.runs, 1):
            parts.append("--- run %d: %s (exit %s)" % (i, " ".join(cmd), rc))
            for name, coll in (("stdout", out), ("stderr", err)):
                lines = coll.text().splitlines() if coll is not None else []
                if tail is not None and len(lines) > tail:
                    lines = ["... (%d lines)" % (len(lines) - tail)] + lines[-tail:]
                parts.append("  %s:\n    %s" % (name, "\n    ".join(lines) if lines else "(empty)"))
        return "\n".join(parts)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()  # no __exit__ when __enter__ raises
            raise

    def __exit__(self, *exc):
        if self.keep_root:
            self.cleanup()
        else:
            self.stop(expect_rc=0 if exc[0] is None else None)
        return False


class RestartableDaemon(EdgemqDaemon):
    """One data directory, any number of daemon runs on it (one at a time): stop() and kill()
    keep the root directory, restart() starts again on it (each run may get a new port), and
    cleanup() removes it. Failure messages show the tail of every run's output."""

    ready_timeout = RESTART_READY_TIMEOUT
    keep_root = True
    root_prefix = "edgemq-persist-"
    output_tail = 60

    def __init__(self, config=None, log_level="info", workers=None, extra_args=None, root=None, **kw):
        super().__init__(config=config, log_level=log_level, workers=workers, extra_args=extra_args, root=root, **kw)
        self._prepare()  # root and data_dir are known before the first start

    def restart(self, sig=signal.SIGTERM, timeout=None):
        """Stop with `sig` (SIGTERM: graceful, exit 0 checked; SIGKILL: kill -9) and start again
        on the same data directory. Returns self (with the new port)."""
        if sig == signal.SIGKILL:
            self.kill()
        else:
            self.stop(sig, expect_rc=0)
        return self.start(timeout)


def run_edgemq(args, timeout=STOP_TIMEOUT):
    """Run edgemq to completion (for --version, bad configs...). Returns CompletedProcess."""
    return subprocess.run([require_program("EDGEMQ_BIN")] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


class DaemonTestCase(unittest.TestCase):
    """A test class sharing one daemon (started in setUpClass, stopped with SIGTERM in
    tearDownClass, which asserts a clean exit). Subclasses may set `config` and `workers`."""

    config = None
    workers = None
    daemon = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.daemon = EdgemqDaemon(config=cls.config, workers=cls.workers).start()
        cls.host = HOST
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
