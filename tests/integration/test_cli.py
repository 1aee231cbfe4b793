"""edgemq-cli against a real daemon: state set/get/del/vdel/watch, leased locks, fencing tokens
and the exit-code contract (0 ok, 1 not applied / miss, 2 usage, 3 connection/timeout, 4 -ERR).

The CLI binary comes from EDGEMQ_CLI (CTest passes the one it built). Background CLI processes
(watch, lock acquire --wait) announce readiness on stderr; the tests wait for those lines with
deadlines instead of sleeping.
"""

import os
import pwd
import queue
import re
import signal
import socket
import subprocess
import threading
import unittest

from support.constants import require_program
from support.edgemq_harness import DaemonTestCase

EDGEMQ_CLI = require_program("EDGEMQ_CLI")
TIMEOUT = 15.0  # seconds a test waits for a CLI process or one of its lines
HLC_RE = re.compile(r"^\d{15}:\d{5}:[^:\s]+$")
LOWER_FT = "the request fencing token is a lower version than the fencing token protecting the resource"


class CliProcess:
    """An edgemq-cli running in the background; stdout and stderr lines are queued by threads."""

    def __init__(self, cmd):
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stdout = queue.Queue()
        self.stderr = queue.Queue()
        self.stderr_log = []
        self._threads = [threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout, None), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr, self.stderr_log),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, q, log):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if log is not None:
                log.append(line)
            q.put(line)
        q.put(None)
        stream.close()

    def wait_stderr(self, needle, timeout=TIMEOUT):
        """Waits for a stderr line containing `needle`; fails on EOF or timeout."""
        while True:
            try:
                line = self.stderr.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError("no stderr line containing %r within %.1fs from %s\nstderr so far:\n%s"
                                     % (needle, timeout, self.cmd, "\n".join(self.stderr_log)))
            if line is None:
                raise AssertionError("edgemq-cli exited (code %s) before printing %r\nstderr:\n%s"
                                     % (self.proc.wait(TIMEOUT), needle, "\n".join(self.stderr_log)))
            if needle in line:
                return line

    def finish(self, timeout=TIMEOUT):
        """Waits for exit; returns (exit code, stdout lines, stderr text)."""
        rc = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout)
        lines = []
        while True:
            line = self.stdout.get(timeout=timeout)
            if line is None:
                break
            lines.append(line)
        return rc, lines, "\n".join(self.stderr_log)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)


class CliTest(DaemonTestCase):

    def command(self, *args, timeout="5"):
        return [EDGEMQ_CLI, "--host", self.host, "--port", str(self.port), "--timeout", timeout] + list(args)

    def cli(self, *args, input=None, timeout="5"):
        """Runs the CLI to completion; stdout and stderr are bytes."""
        return subprocess.run(self.command(*args, timeout=timeout), input=input,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, timeout=TIMEOUT)

    def background(self, *args, timeout="20"):
        return self.track(CliProcess(self.command(*args, timeout=timeout)))

    def assert_rc(self, result, rc):
        self.assertEqual(result.returncode, rc, "exit code of %s\nstdout: %r\nstderr: %r"
                         % (result.args[7:], result.stdout, result.stderr))

    def assert_hlc(self, text):
        self.assertRegex(text, HLC_RE)

    def set_ok(self, key, value, *extra):
        r = self.cli("state", "set", key, value, *extra)
        self.assert_rc(r, 0)
        version = r.stdout.decode().strip()
        self.assert_hlc(version)
        return version

    # ------------------------------------------------------------------ key/value

    def test_set_get_round_trip_binary_value_from_stdin(self):
        key = self.unique("bin")
        value = bytes(range(256)) + b"\r\n$-1\r\n\x00tail"
        r = self.cli("state", "set", key, "-", input=value)
        self.assert_rc(r, 0)
        version = r.stdout.decode().strip()
        self.assert_hlc(version)

        r = self.cli("state", "get", key)
        self.assert_rc(r, 0)
        self.assertEqual(r.stdout, value)  # raw bytes, nothing added when not a terminal

        r = self.cli("--hex", "state", "get", key)
        self.assert_rc(r, 0)
        self.assertEqual(r.stdout, value.hex().encode() + b"\n")
        r = self.cli("state", "get", key, "--hex")  # global options also after the command
        self.assert_rc(r, 0)
        self.assertEqual(r.stdout, value.hex().encode() + b"\n")

        r = self.cli("state", "get", key, "--version")
        self.assert_rc(r, 0)
        self.assertEqual(r.stdout, value + b"\n" + version.encode() + b"\n")

    def test_set_versions_increase(self):
        key = self.unique("ver")
        v1 = self.set_ok(key, "a")
        v2 = self.set_ok(key, "b")
        self.assertGreater(v2, v1)  # zero-padded HLCs order as strings

    def test_set_nx_not_applied_exits_1(self):
        key = self.unique("nx")
        self.set_ok(key, "first", "--nx")
        r = self.cli("state", "set", key, "second", "--nx")
        self.assert_rc(r, 1)
        self.assertEqual(r.stdout, b"")
        self.assertIn(b"not applied", r.stderr)
        # NEX: applied with the same value, not with another one.
        self.set_ok(key, "first", "--nex", "--px", "60000")
        self.assert_rc(self.cli("state", "set", key, "other", "--nex"), 1)
        r = self.cli("state", "get", key)
        self.assert_rc(r, 0)
        self.assertEqual(r.stdout, b"first")

    def test_get_miss_exits_1(self):
        r = self.cli("state", "get", self.unique("missing"))
        self.assert_rc(r, 1)
        self.assertEqual(r.stdout, b"")

    def test_del_and_vdel_exit_codes(self):
        key = self.unique("del")
        self.set_ok(key, "v")
        self.assert_rc(self.cli("state", "vdel", key, "not-v"), 1)  # :-1, value mismatch
        self.assert_rc(self.cli("state", "vdel", key, "-", input=b"v"), 0)  # :1, VALUE from stdin
        self.assert_rc(self.cli("state", "vdel", key, "v"), 1)  # :0, gone
        self.assert_rc(self.cli("state", "get", key), 1)
        self.set_ok(key, "v")
        self.assert_rc(self.cli("state", "del", key), 0)
        self.assert_rc(self.cli("state", "del", key), 1)

    def test_error_reply_exits_4(self):
        r = self.cli("state", "get", "")
        self.assert_rc(r, 4)
        self.assertIn(b"the key length is zero", r.stderr)
        r = self.cli("state", "set", "", "v")
        self.assert_rc(r, 4)
        self.assertIn(b"the key length is zero", r.stderr)

    # ------------------------------------------------------------------ exit codes 2 and 3

    def test_usage_errors_exit_2(self):
        self.assert_rc(self.cli(), 2)
        self.assert_rc(self.cli("state"), 2)
        self.assert_rc(self.cli("state", "set", "only-key"), 2)
        self.assert_rc(self.cli("state", "set", "k", "v", "--nx", "--nex"), 2)
        self.assert_rc(self.cli("state", "set", "k", "v", "--ft", "not-a-timestamp"), 2)
        self.assert_rc(self.cli("lock", "acquire", "name"), 2)  # --ttl is required
        r = self.cli("--help")
        self.assert_rc(r, 0)
        self.assertIn(b"state", r.stdout)

    def test_connection_refused_exits_3(self):
        with socket.socket() as s:  # a port that was free a moment ago
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        r = subprocess.run([EDGEMQ_CLI, "--port", str(port), "state", "get", "k"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(b"cannot connect", r.stderr)

    def test_silent_server_times_out_with_exit_3(self):
        with socket.socket() as s:  # accepts TCP (backlog) but never answers CONNECT
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            r = subprocess.run([EDGEMQ_CLI, "--port", str(s.getsockname()[1]), "--timeout", "0.5",
                                "state", "get", "k"], stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(b"timed out", r.stderr)

    # ------------------------------------------------------------------ fencing

    def test_fencing_token_from_lock_protects_a_key(self):
        lock, key = self.unique("fence-lock"), self.unique("protected")
        r = self.cli("lock", "acquire", lock, "--holder", "writer", "--ttl", "60000")
        self.assert_rc(r, 0)
        token = r.stdout.decode().strip()
        self.assert_hlc(token)

        self.set_ok(key, "v1", "--ft", token)
        r = self.cli("state", "set", key, "v2", "--ft", "000000000000001:00000:x")
        self.assert_rc(r, 4)
        self.assertIn(LOWER_FT.encode(), r.stderr)
        r = self.cli("state", "set", key, "v2")
        self.assert_rc(r, 4)
        self.assertIn(b"a fencing token is required for this request", r.stderr)
        self.assert_rc(self.cli("state", "del", key, "--ft", "000000000000001:00000:x"), 4)
        r = self.cli("state", "get", key)  # GET needs no token
        self.assert_rc(r, 0)
        self.assertEqual(r.stdout, b"v1")
        self.assert_rc(self.cli("state", "del", key, "--ft", token), 0)

    # ------------------------------------------------------------------ watch

    def test_watch_receives_set_then_delete(self):
        key = self.unique("watched")
        watch = self.background("state", "watch", key, "--count", "2")
        self.assertEqual(watch.wait_stderr("watching"), "watching " + key)
        version = self.set_ok(key, "hello world")
        self.assert_rc(self.cli("state", "del", key), 0)
        rc, lines, err = watch.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(lines), 2, lines)
        self.assertEqual(lines[0], "SET hello world " + version)
        op, deleted = lines[1].split(" ")
        self.assertEqual(op, "DELETE")
        self.assert_hlc(deleted)
        self.assertGreater(deleted, version)

    def test_watch_hex_values(self):
        key = self.unique("watched-hex")
        watch = self.background("--hex", "state", "watch", key, "--count", "1")
        watch.wait_stderr("watching")
        r = self.cli("state", "set", key, "-", input=b"\x00\xff\n")
        self.assert_rc(r, 0)
        rc, lines, err = watch.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(lines, ["SET 00ff0a " + r.stdout.decode().strip()])

    def test_open_ended_watch_ends_cleanly_on_sigint(self):
        watch = self.background("state", "watch", self.unique("sigint"), timeout="0")
        watch.wait_stderr("watching")
        watch.proc.send_signal(signal.SIGINT)
        rc, lines, err = watch.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(lines, [])

    # ------------------------------------------------------------------ locks

    def test_lock_between_two_holders(self):
        name = self.unique("lock")
        r = self.cli("lock", "acquire", name, "--holder", "alice", "--ttl", "60000")
        self.assert_rc(r, 0)
        first = r.stdout.decode().strip()
        self.assert_hlc(first)

        r = self.cli("lock", "acquire", name, "--holder", "bob", "--ttl", "60000")
        self.assert_rc(r, 1)
        self.assertEqual(r.stdout, b"")
        self.assert_rc(self.cli("lock", "release", name, "--holder", "bob"), 1)  # not bob's

        r = self.cli("lock", "acquire", name, "--holder", "alice", "--ttl", "60000")  # renewal
        self.assert_rc(r, 0)
        self.assertGreater(r.stdout.decode().strip(), first)

        self.assert_rc(self.cli("lock", "release", name, "--holder", "alice"), 0)
        self.assert_rc(self.cli("lock", "acquire", name, "--holder", "bob", "--ttl", "60000"), 0)
        self.assert_rc(self.cli("lock", "release", name, "--holder", "bob"), 0)
        self.assert_rc(self.cli("lock", "release", name, "--holder", "bob"), 1)  # no longer held

    def test_lock_holder_defaults_to_client_id(self):
        name, cid = self.unique("lock-cid"), self.unique("cid")
        self.assert_rc(self.cli("--client-id", cid, "lock", "acquire", name, "--ttl", "60000"), 0)
        r = self.cli("state", "get", name)
        self.assert_rc(r, 0)
        self.assertEqual(r.stdout, cid.encode())
        self.assert_rc(self.cli("lock", "release", name, "--holder", cid), 0)

    def test_lock_acquire_wait_obtains_lock_after_release(self):
        name = self.unique("lock-wait")
        self.assert_rc(self.cli("lock", "acquire", name, "--holder", "alice", "--ttl", "60000"), 0)
        waiter = self.background("lock", "acquire", name, "--holder", "bob", "--ttl", "60000", "--wait")
        waiter.wait_stderr("waiting")
        self.assertIsNone(waiter.proc.poll())
        self.assert_rc(self.cli("lock", "release", name, "--holder", "alice"), 0)
        rc, lines, err = waiter.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(lines), 1, lines)
        self.assert_hlc(lines[0])
        r = self.cli("state", "get", name)
        self.assert_rc(r, 0)
        self.assertEqual(r.stdout, b"bob")

    def test_lock_acquire_wait_times_out_with_exit_1(self):
        name = self.unique("lock-busy")
        self.assert_rc(self.cli("lock", "acquire", name, "--holder", "alice", "--ttl", "60000"), 0)
        r = self.cli("lock", "acquire", name, "--holder", "bob", "--ttl", "60000", "--wait", timeout="0.5")
        self.assert_rc(r, 1)
        self.assertIn(b"timed out waiting for lock", r.stderr)


    # ------------------------------------------------------------------ usage errors, holders, watch lifetime

    def assert_usage_error(self, args, *expected):
        """Exit 2, nothing on stdout, and exactly one stderr line naming the option and the problem."""
        r = subprocess.run([EDGEMQ_CLI] + list(args), stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 2, "%s\nstderr: %r" % (args, r.stderr))
        self.assertEqual(r.stdout, b"")
        lines = r.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, "one line for %s, got %r" % (args, r.stderr))
        self.assertTrue(lines[0].startswith("edgemq-cli: "), lines[0])
        for e in expected:
            self.assertIn(e, lines[0])

    def test_usage_errors_are_one_line_naming_the_option(self):
        self.assert_usage_error(["lock", "acquire", "n", "--ttl", "0"],
                                "--ttl: must be between 1 and 31536000000 milliseconds, got 0")
        self.assert_usage_error(["lock", "acquire", "n", "--ttl", "soon"], "--ttl: must be between 1 and", "got soon")
        self.assert_usage_error(["state", "set", "k", "v", "--px", "0"],
                                "--px: must be between 1 and 31536000000 milliseconds, got 0")
        self.assert_usage_error(["state", "watch", "k", "--count", "0"], "--count: must be between 1 and", "got 0")
        self.assert_usage_error(["--port", "70000", "state", "get", "k"],
                                "--port: must be between 1 and 65535, got 70000")
        self.assert_usage_error(["--timeout", "-1", "state", "get", "k"],
                                "--timeout: must be a number of seconds, 0 or more, got -1")
        self.assert_usage_error(["--bogus", "state", "get", "k"], "unknown option or argument: --bogus")
        self.assert_usage_error(["lock", "acquire", "n"], "--ttl is required")
        self.assert_usage_error([], "a command is required")

    def test_help_documents_holder_default_and_watch_lifetime(self):
        r = subprocess.run([EDGEMQ_CLI, "lock", "acquire", "--help"], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"USER@HOSTNAME", r.stdout)
        r = subprocess.run([EDGEMQ_CLI, "state", "watch", "--help"], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"until Ctrl-C", r.stdout)

    def test_lock_acquire_then_release_without_holder(self):
        name = self.unique("lock-default-holder")
        holder = "%s@%s" % (pwd.getpwuid(os.geteuid()).pw_name, socket.gethostname())
        r = self.cli("lock", "acquire", name, "--ttl", "60000")
        self.assert_rc(r, 0)
        self.assert_hlc(r.stdout.decode().strip())
        self.assertIn(("lock %s acquired by holder '%s'" % (name, holder)).encode(), r.stderr,
                      "the holder must be printed")
        r = self.cli("state", "get", name)
        self.assert_rc(r, 0)
        self.assertEqual(r.stdout, holder.encode())
        # Another run (another random client id) releases it without being told the holder.
        self.assert_rc(self.cli("lock", "release", name), 0)
        self.assert_rc(self.cli("state", "get", name), 1)

    def test_watch_without_timeout_runs_until_interrupted(self):
        # The default --timeout (5 s) bounds connecting, not an open-ended watch.
        key = self.unique("watch-forever")
        watch = self.track(CliProcess([EDGEMQ_CLI, "--host", self.host, "--port", str(self.port),
                                       "state", "watch", key]))
        watch.wait_stderr("watching")
        with self.assertRaises(subprocess.TimeoutExpired, msg="the watch ended by itself"):
            watch.proc.wait(timeout=6.0)  # longer than the default --timeout: nothing to await but its absence
        version = self.set_ok(key, "late")
        self.assertEqual(watch.stdout.get(timeout=TIMEOUT), "SET late " + version)
        watch.proc.send_signal(signal.SIGINT)
        rc, lines, err = watch.finish()
        self.assertEqual(rc, 0, err)

    def test_watch_with_explicit_timeout_ends_at_it(self):
        r = self.cli("state", "watch", self.unique("watch-bounded"), timeout="0.5")
        self.assert_rc(r, 0)
        self.assertEqual(r.stdout, b"")

    def test_ipv6_endpoint_printed_in_brackets(self):
        try:
            with socket.socket(socket.AF_INET6) as s:  # a port that was free a moment ago
                s.bind(("::1", 0))
                port = s.getsockname()[1]
        except OSError:
            self.skipTest("IPv6 loopback (::1) is not available on this host")
        r = subprocess.run([EDGEMQ_CLI, "--host", "::1", "--port", str(port), "state", "get", "k"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(b"cannot connect to [::1]:%d" % port, r.stderr)

if __name__ == "__main__":
    unittest.main()
