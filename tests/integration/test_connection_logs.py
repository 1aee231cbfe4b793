"""Connect and disconnect log lines (docs/operations.md, "Logs") against a real daemon: one line
each at info with the peer address, client id, protocol version, user, listener and the reason
the connection ended (normal DISCONNECT, keep-alive timeout, protocol error, socket closed);
control characters in a client id come out escaped; `--log-format json` (and "log_format" in the
config) prints one JSON object per line, every line parsed with json.loads."""

import json
import os
import queue
import re
import socket
import time
import unittest

from support import rawmqtt as raw
from support.edgemq_harness import EdgemqDaemon, run_edgemq
from support.paho_helper import PahoClient

TIMEOUT = 10.0


def wait_line(daemon, pattern, timeout=TIMEOUT):
    """The first stdout line (as printed) matching the regular expression `pattern`."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        for line in list(daemon.stdout.lines):
            if rx.search(line):
                return line
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no log line matching %r\n%s" % (pattern, daemon.output()))
        try:
            daemon.stdout.queue.get(timeout=remaining)
        except queue.Empty:
            pass


def local_endpoint(sock):
    host, port = sock.getsockname()[:2]
    return "%s:%d" % (host, port)


class TextLogTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.daemon = EdgemqDaemon()
        cls.daemon.start()
        cls.listener = "127.0.0.1:%d" % cls.daemon.port  # plain MQTT: named without a scheme

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop(expect_rc=0)

    def test_normal_disconnect(self):
        c = PahoClient(self.daemon.host, self.daemon.port, client_id="log-normal", version=5)
        c.connect()
        peer = local_endpoint(c.client.socket())
        line = wait_line(self.daemon, r"client 'log-normal' connected from ")
        self.assertIn("client 'log-normal' connected from %s (MQTT 5, user '', listener %s," % (peer, self.listener),
                      line)
        self.assertRegex(line, r"\binfo\b")
        c.disconnect()
        line = wait_line(self.daemon, r"client 'log-normal' disconnected")
        self.assertIn("client 'log-normal' disconnected from %s: normal DISCONNECT" % peer, line)

    def test_mqtt311_socket_closed(self):
        c = raw.RawClient(self.daemon.host, self.daemon.port, version=raw.V311)
        c.connect("log-311")
        peer = local_endpoint(c.sock)
        wait_line(self.daemon, re.escape("client 'log-311' connected from %s (MQTT 3.1.1, " % peer))
        c.close()
        wait_line(self.daemon, re.escape("client 'log-311' disconnected from %s: socket closed" % peer))

    def test_keep_alive_timeout(self):
        c = raw.RawClient(self.daemon.host, self.daemon.port)
        sent = time.monotonic()  # before the broker can have read the CONNECT
        c.connect("log-keepalive", keepalive=1)
        acked = time.monotonic()  # after it read it
        peer = local_endpoint(c.sock)
        # Silent for 1.5 x the keep alive: the broker closes (MQTT 5: DISCONNECT 0x8D first).
        self.assertTrue(c.is_closed_within(TIMEOUT))
        closed = time.monotonic()
        # Never before 1.5 x the keep alive; at most one slot of the deadline wheel (250 ms,
        # ADR 0037) later, plus scheduling on a loaded machine.
        self.assertGreaterEqual(closed - sent, 1.5, "closed before 1.5 x the keep alive")
        self.assertLess(closed - acked, 1.5 + 0.25 + 0.4, "closed more than a wheel slot after 1.5 x the keep alive")
        wait_line(self.daemon, re.escape("client 'log-keepalive' disconnected from %s: keep-alive timeout" % peer))
        c.close()

    def test_taken_over(self):
        old = raw.RawClient(self.daemon.host, self.daemon.port)
        old.connect("log-takeover")
        old_peer = local_endpoint(old.sock)
        new = raw.RawClient(self.daemon.host, self.daemon.port)
        new.connect("log-takeover")
        self.assertTrue(old.is_closed_within(TIMEOUT))
        wait_line(self.daemon,
                  re.escape("client 'log-takeover' disconnected from %s: taken over by a new connection" % old_peer))
        old.close()
        new.disconnect()

    def test_protocol_error(self):
        c = raw.RawClient(self.daemon.host, self.daemon.port)
        c.connect("log-twice")
        c.send(raw.connect("log-twice"))  # a second CONNECT (MQTT-3.1.0-2)
        self.assertTrue(c.is_closed_within(TIMEOUT))
        line = wait_line(self.daemon, r"client 'log-twice' disconnected")
        self.assertIn("protocol error", line)
        self.assertIn("(0x82)", line)
        c.close()

    def test_control_characters_escaped(self):
        evil = "evil\nclient 'forged' connected\x1b[31m\r"
        c = raw.RawClient(self.daemon.host, self.daemon.port)
        c.connect(evil)
        peer = local_endpoint(c.sock)
        escaped = "evil\\nclient 'forged' connected\\x1B[31m\\r"
        line = wait_line(self.daemon, re.escape("client '%s' connected from %s" % (escaped, peer)))
        self.assertNotIn("\x1b", line)
        c.close()
        wait_line(self.daemon, re.escape("client '%s' disconnected from %s: socket closed" % (escaped, peer)))
        # No line of the daemon's output starts with the forged text.
        self.assertFalse([l for l in self.daemon.stdout.lines if l.startswith("client 'forged'")])


class JsonLogTest(unittest.TestCase):

    def check_json_lines(self, daemon):
        records = []
        for line in daemon.stdout.lines:
            rec = json.loads(line)  # every line, not only ours
            self.assertEqual(set(rec), {"time", "level", "logger", "message"}, line)
            self.assertRegex(rec["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            records.append(rec)
        return records

    def run_session(self, daemon):
        evil = "json\"id\\\n\x01"
        c = raw.RawClient(daemon.host, daemon.port)
        c.connect(evil)
        peer = local_endpoint(c.sock)
        c.disconnect()
        wait_line(daemon, r"disconnected from")
        records = self.check_json_lines(daemon)
        messages = [r["message"] for r in records]
        # log_safe escapes first (backslash, newline, \x01), then JSON escapes the quote and backslashes.
        self.assertIn("client 'json\"id\\\\\\n\\x01' connected from %s (MQTT 5, " % peer, "\n".join(messages))
        self.assertIn("client 'json\"id\\\\\\n\\x01' disconnected from %s: normal DISCONNECT" % peer, messages)
        connect = next(r for r in records if "connected from" in r["message"])
        self.assertEqual(connect["level"], "info")
        self.assertEqual(connect["logger"], "edgemq")

    def test_flag(self):
        with EdgemqDaemon(extra_args=["--log-format", "json"]) as d:
            self.run_session(d)
            stays = raw.RawClient(d.host, d.port)
            stays.connect("log-at-shutdown")
            peer = local_endpoint(stays.sock)
            wait_line(d, re.escape("client 'log-at-shutdown' connected"))
            d.stop(expect_rc=0)
            stays.close()
            messages = [r["message"] for r in self.check_json_lines(d)]  # the shutdown lines too
            self.assertIn("client 'log-at-shutdown' disconnected from %s: server shutdown" % peer, messages)

    def test_config_key(self):
        with EdgemqDaemon(config={"log_format": "json"}) as d:
            self.run_session(d)

    def test_bad_values_exit_2(self):
        r = run_edgemq(["--log-format", "xml"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--log-format", r.stderr)
        d = EdgemqDaemon(config={"log_format": "yaml"})
        d._prepare()
        try:
            r = run_edgemq(["--config", d.config_path, "--data-dir", d.data_dir])
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("log_format", r.stderr)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
