"""An edgemq daemon that can be stopped (SIGTERM), killed (SIGKILL) and started again on the
SAME data directory, for the persistence tests.

EdgemqDaemon (edgemq_harness) makes a fresh temporary data directory on every start(); here
the root directory (config file + data dir) is created once and kept until cleanup(), and
every start() runs `edgemq --listen 127.0.0.1:0 --data-dir ROOT/data [--config ROOT/edgemq.json]`
again, so each run may get a new port (read from the ready line). Readiness is the ready
line, waited for with a deadline that is generous by default: a restart may have to load a
large store first. The output of every run is kept for failure messages.
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import time

from support.edgemq_harness import EDGEMQ_BIN, STOP_TIMEOUT, DaemonError, _LineCollector, _READY_RE

# A restart may have to read back a big store before it listens: be patient (the deadline is
# only reached when something is wrong).
RESTART_READY_TIMEOUT = float(os.environ.get("EDGEMQ_RESTART_READY_TIMEOUT", "60"))


class RestartableDaemon:
    """One data directory, any number of daemon runs on it (one at a time)."""

    def __init__(self, config=None, log_level="info", workers=None, extra_args=None, root=None):
        self.config = config
        self.log_level = log_level
        self.workers = workers
        self.extra_args = list(extra_args or [])
        self._own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="edgemq-persist-")
        self.data_dir = os.path.join(self.root, "data")
        self.config_path = None
        if config is not None:
            self.config_path = os.path.join(self.root, "edgemq.json")
            with open(self.config_path, "w") as f:
                json.dump(config, f)
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.returncode = None
        self.stdout = None
        self.stderr = None
        self.runs = []  # (command, stdout collector, stderr collector, returncode) of every run
        self.last_ready_seconds = None

    # ------------------------------------------------------------------ lifecycle
    def command(self):
        cmd = [EDGEMQ_BIN, "--listen", "127.0.0.1:0", "--data-dir", self.data_dir, "--log-level", self.log_level]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        if self.config_path is not None:
            cmd += ["--config", self.config_path]
        return cmd + self.extra_args

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=RESTART_READY_TIMEOUT):
        """Start a run on the data directory and wait for its ready line. Returns self."""
        if not os.access(EDGEMQ_BIN, os.X_OK):
            raise DaemonError("edgemq binary not found or not executable: %s (set EDGEMQ_BIN)" % EDGEMQ_BIN)
        if self.alive():
            raise DaemonError("edgemq is already running (pid %d)" % self.proc.pid)
        cmd = self.command()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stdout = _LineCollector(self.proc.stdout)
        self.stderr = _LineCollector(self.proc.stderr)
        self.returncode = None
        self.port = None
        self.runs.append([cmd, self.stdout, self.stderr, None])
        deadline = t0 + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill_now()
                raise DaemonError("edgemq (run %d) did not print its ready line within %.1fs\n%s"
                                  % (len(self.runs), timeout, self.output()))
            try:
                line = self.stdout.queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self._reap()
                raise DaemonError("edgemq (run %d) exited with code %s before becoming ready\n%s"
                                  % (len(self.runs), self.returncode, self.output()))
            m = _READY_RE.search(line)
            if m:
                self.host = m.group(1)
                self.port = int(m.group(2))
                self.last_ready_seconds = time.monotonic() - t0
                return self

    def stop(self, sig=signal.SIGTERM, expect_rc=0, timeout=STOP_TIMEOUT):
        """Send `sig` and wait for the process. With expect_rc (default 0 for a graceful stop)
        the exit code is checked. The data directory is kept. Returns the exit code."""
        if self.proc is None:
            raise DaemonError("edgemq was never started")
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self._reap(timeout)
        if expect_rc is not None and rc != expect_rc:
            raise DaemonError("edgemq exited with code %s after signal %s, expected %s\n%s"
                              % (rc, signal.Signals(sig).name, expect_rc, self.output()))
        return rc

    def terminate(self, timeout=STOP_TIMEOUT):
        """Graceful stop: SIGTERM, exit code 0 required."""
        return self.stop(signal.SIGTERM, expect_rc=0, timeout=timeout)

    def kill(self):
        """kill -9; the exit status must be 'killed by SIGKILL'."""
        return self.stop(signal.SIGKILL, expect_rc=-signal.SIGKILL)

    def wait_dead(self, timeout=STOP_TIMEOUT):
        """Wait for a process killed by someone else (the killer script). Returns the exit code."""
        return self._reap(timeout)

    def restart(self, sig=signal.SIGTERM, timeout=RESTART_READY_TIMEOUT):
        """Stop with `sig` (SIGTERM: graceful, exit 0 checked; SIGKILL: kill -9) and start again
        on the same data directory. Returns self (with the new port)."""
        if sig == signal.SIGKILL:
            self.kill()
        else:
            self.stop(sig, expect_rc=0)
        return self.start(timeout)

    def cleanup(self):
        """Kill the run if still alive and remove the root directory (if we created it)."""
        try:
            self._kill_now()
        finally:
            if self._own_root and os.path.isdir(self.root):
                shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ internals
    def _reap(self, timeout=STOP_TIMEOUT):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_now()
            raise DaemonError("edgemq did not exit within %.1fs\n%s" % (timeout, self.output()))
        self.stdout.join(2)
        self.stderr.join(2)
        self.runs[-1][3] = self.returncode
        return self.returncode

    def _kill_now(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.returncode = self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            if self.runs:
                self.runs[-1][3] = self.returncode

    def output(self, tail=60):
        """stdout/stderr of every run (the last `tail` lines of each), for failure messages."""
        parts = []
        for i, (cmd, out, err, rc) in enumerate(self.runs, 1):
            parts.append("--- run %d: %s (exit %s)" % (i, " ".join(cmd), rc))
            for name, coll in (("stdout", out), ("stderr", err)):
                lines = coll.text().splitlines()
                if len(lines) > tail:
                    lines = ["... (%d lines)" % (len(lines) - tail)] + lines[-tail:]
                parts.append("  %s:\n    %s" % (name, "\n    ".join(lines) if lines else "(empty)"))
        return "\n".join(parts)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False
