"""The Azure IoT SDKs for Node.js as the devices tests drive them (tests/devices/sdk_agent.js: one
Node process, JSON lines both ways), and IoT Hub's SharedAccessSignature tokens made here for the
clients that are not the SDK (paho, http.client)."""

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse

from support.constants import REPO_ROOT

NODE = shutil.which("node")
SDK_DIR = os.path.join(REPO_ROOT, "tests", "devices")
AGENT = os.path.join(SDK_DIR, "sdk_agent.js")
SDK_PACKAGES = ("azure-iot-device", "azure-iot-device-mqtt", "azure-iothub")


def missing_prerequisites():
    """What is not installed (scripts/install-deps.sh --test installs it), as text; "" when none."""
    missing = [] if NODE else ["node"]
    missing += ["%s (tests/devices/node_modules: npm ci)" % p for p in SDK_PACKAGES
                if not os.path.isdir(os.path.join(SDK_DIR, "node_modules", p))]
    return ", ".join(missing)


def sas_token(resource, key_b64, expiry, policy=None, encode_resource=True):
    """`SharedAccessSignature sr=...&sig=...&se=...[&skn=...]` as IoT Hub's SDKs make it: the signature
    is HMAC-SHA256 over the resource as it appears in the token, a newline and the expiry."""
    sr = urllib.parse.quote(resource, safe="") if encode_resource else resource
    mac = hmac.new(base64.b64decode(key_b64), ("%s\n%d" % (sr, expiry)).encode(), hashlib.sha256).digest()
    token = "SharedAccessSignature sr=%s&sig=%s&se=%d" % (sr, urllib.parse.quote(base64.b64encode(mac), safe=""),
                                                          expiry)
    return token + ("&skn=" + policy if policy else "")


class SdkError(AssertionError):
    """An SDK call that failed: `error` is {name, message, statusCode, responseBody}."""

    def __init__(self, op, error):
        super().__init__("%s failed: %s" % (op, error))
        self.error = error


class SdkAgent:
    """The Node process holding the service SDK's Registry/Client and any number of device clients.
    call() sends one command and waits for its answer; events (c2d, desired, method, disconnect,
    error) are read with wait_event()."""

    def __init__(self, env=None, timeout=30.0):
        self.timeout = timeout
        self.proc = subprocess.Popen([NODE, AGENT], cwd=SDK_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, text=True, bufsize=1)
        self.answers = {}
        self.events = []
        self.stderr = []
        self.cond = threading.Condition()
        self.seq = 0
        self.readers = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self.readers:
            t.start()
        self.wait_event(lambda e: e["event"] == "ready")

    def _read(self):
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                msg = {"event": "noise", "line": line}
            with self.cond:
                if "seq" in msg:
                    self.answers[msg["seq"]] = msg
                else:
                    self.events.append(msg)
                self.cond.notify_all()
        with self.cond:
            self.events.append({"event": "exit"})
            self.cond.notify_all()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def call(self, op, timeout=None, **args):
        """The command's result; raises SdkError with the SDK's error when it failed."""
        with self.cond:
            self.seq += 1
            seq = self.seq
        self.proc.stdin.write(json.dumps(dict(args, op=op, seq=seq)) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + (timeout or self.timeout)
        with self.cond:
            while seq not in self.answers:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError("no answer to %s %s; stderr:\n%s" % (op, args, "".join(self.stderr)))
                self.cond.wait(left)
            msg = self.answers.pop(seq)
        if not msg["ok"]:
            raise SdkError(op, msg["error"])
        return msg["result"]

    def fails(self, op, timeout=None, **args):
        """The SDK error of a command expected to fail."""
        try:
            result = self.call(op, timeout=timeout, **args)
        except SdkError as e:
            return e.error
        raise AssertionError("%s succeeded: %s" % (op, result))

    def wait_event(self, pred, timeout=None):
        """The first event (in arrival order, each returned once) matching `pred`."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self.cond:
            while True:
                for i, e in enumerate(self.events):
                    if pred(e):
                        return self.events.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no such event; events: %s; stderr:\n%s" % (self.events, "".join(self.stderr)))
                self.cond.wait(left)

    def close(self):
        """Closes stdin, on which the agent closes its device clients and exits."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (subprocess.TimeoutExpired, OSError):
            self.proc.kill()
            self.proc.wait()
        finally:
            for t in self.readers:
                t.join(timeout=10)  # EOF once the process is gone
            self.proc.stdout.close()
            self.proc.stderr.close()
