"""Certificates for the TLS tests, made with the `openssl` command in a temp dir, and the small
helpers those tests share: a raw TLS CONNECT probe, the ports of a daemon's listeners, waiting
for a log line.

Certificates with chosen validity dates (an expired client or server certificate) are signed with
`openssl ca -startdate/-enddate` (OpenSSL 3.0's `x509 -req` cannot set a start date), so they are
really expired: a notBefore in the past and a notAfter after it, but before now."""

import os
import queue
import re
import shutil
import socket
import ssl
import subprocess
import time

OPENSSL = shutil.which("openssl")
TIMEOUT = 10.0
READY_ENDPOINTS = re.compile(r"(mqtts://|)(?:\[[^\]]+\]|[0-9.]+):(\d+)")
SERVER_SAN = "subjectAltName=IP:127.0.0.1,DNS:localhost\n"

# `openssl ca` needs a configuration: its database, serial file and a policy taking any subject.
CA_CONFIG = """[ca]
default_ca = test_ca
[test_ca]
database = {name}.index
new_certs_dir = .
serial = {name}.serial
default_md = sha256
policy = policy_any
unique_subject = no
[policy_any]
commonName = supplied
"""


def openssl(*args, cwd):
    r = subprocess.run([OPENSSL] + list(args), cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), r.stderr))


class Pki:
    """A CA, a server certificate for 127.0.0.1, client certificates (one expired) and a second,
    unknown CA, all in `dir`. More with ca(), leaf() and dated_leaf()."""

    def __init__(self, dir):
        self.dir = dir
        self.ca = self.make_ca("ca", "edgemq test CA")
        self.other_ca = self.make_ca("other_ca", "someone else's CA")
        self.server = self.leaf("server", "localhost", "ca", days="2", server=True)
        self.client = self.leaf("alice", "alice", "ca", days="2")
        self.expired = self.dated_leaf("old", "old", "ca", "20200101000000Z", "20200102000000Z")
        self.stranger = self.leaf("stranger", "stranger", "other_ca", days="2")

    def path(self, name):
        return os.path.join(self.dir, name)

    def make_ca(self, name, cn):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                name + ".key", "-out", name + ".crt", "-days", "2", "-subj", "/CN=" + cn, cwd=self.dir)
        return self.path(name + ".crt")

    def _request(self, name, subject):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", name + ".key",
                "-out", name + ".csr", "-utf8", "-subj", subject, cwd=self.dir)

    def _san(self):
        path = self.path("server.ext")
        with open(path, "w") as f:
            f.write(SERVER_SAN)
        return "server.ext"

    def leaf(self, name, cn, ca, days, server=False, subject=None):
        """A certificate for `cn` (or the whole `subject`, "/CN=x/O=y") signed by CA `ca`, valid from
        now for `days`. Returns (cert path, key path)."""
        self._request(name, subject or "/CN=" + cn)
        args = ["x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key", "-CAcreateserial",
                "-out", name + ".crt", "-days", days]
        if server:
            args += ["-extfile", self._san()]
        openssl(*args, cwd=self.dir)
        return self.path(name + ".crt"), self.path(name + ".key")

    def dated_leaf(self, name, cn, ca, start, end, server=False):
        """A certificate valid from `start` to `end` (YYYYMMDDHHMMSSZ), signed with `openssl ca`."""
        self._request(name, "/CN=" + cn)
        config = self.path(ca + ".cnf")
        if not os.path.exists(config):
            with open(config, "w") as f:
                f.write(CA_CONFIG.format(name=ca))
            open(self.path(ca + ".index"), "w").close()
            with open(self.path(ca + ".serial"), "w") as f:
                f.write("1000\n")
        args = ["ca", "-config", ca + ".cnf", "-batch", "-notext", "-cert", ca + ".crt", "-keyfile", ca + ".key",
                "-in", name + ".csr", "-out", name + ".crt", "-startdate", start, "-enddate", end]
        if server:
            args += ["-extfile", self._san()]
        openssl(*args, cwd=self.dir)
        return self.path(name + ".crt"), self.path(name + ".key")


def ready_ports(daemon):
    """[(is_tls, port)] of every listener, in order, from the ready line."""
    line = daemon.ready_line.split("MQTT on ", 1)[1]
    return [(scheme == "mqtts://", int(port)) for scheme, port in READY_ENDPOINTS.findall(line.split(" (")[0])]


def connect_packet(client_id, version=4):
    """A CONNECT without username, clean session, keep alive 60: MQTT 3.1.1 (4) or 5."""
    cid = client_id.encode()
    props = b"\x00" if version == 5 else b""
    body = b"\x00\x04MQTT" + bytes([version]) + b"\x02\x00\x3c" + props + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body


def tls_context(cafile, cert=None, max_version=None, ciphers=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if cert:
        ctx.load_cert_chain(*cert)
    if max_version:
        ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def tls_connect(port, cafile, cert=None, server_hostname="127.0.0.1", version=4, max_version=None, ciphers=None):
    """Handshake, CONNECT, read the CONNACK's first 4 bytes. Returns them, or raises what the client
    sees (ssl.SSLError for a refused handshake or alert, ConnectionError, or b"" on EOF)."""
    ctx = tls_context(cafile, cert, max_version, ciphers)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as s:
            s.sendall(connect_packet("tls-probe", version))
            data = b""
            while len(data) < 4:
                chunk = s.recv(4 - len(data))
                if not chunk:
                    return data
                data += chunk
            return data


def wait_log(daemon, text, timeout=TIMEOUT, after=0):
    """Waits for a daemon log line containing `text` among the lines from index `after` on (lines
    already read count too). Returns the line."""
    deadline = time.monotonic() + timeout
    while True:
        for line in list(daemon.stdout.lines)[after:]:
            if text in line:
                return line
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no log line with %r\n%s" % (text, daemon.output()))
        try:
            daemon.stdout.queue.get(timeout=remaining)
        except queue.Empty:
            pass
