"""WebSocket listeners (docs/security.md, "WebSocket"; ADR 0013): ws:// and wss:// URLs, the
upgrade handshake (path, subprotocol), MQTT in binary frames, with real clients (paho-mqtt 1.x
with transport="websockets", plain and over TLS; mosquitto_pub/mosquitto_sub on the plain TCP
listener beside them) and a raw socket for what no client library sends (frames split and
joined at will, malformed frames, pings, oversize frames). The wss certificate is made here
with the `openssl` command in a temp dir."""

import base64
import hashlib
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest

from support.constants import require_program
from support.edgemq_harness import DaemonTestCase, EdgemqDaemon, run_edgemq
from support.paho_helper import PahoClient
from test_security import wait_log

OPENSSL = shutil.which("openssl")
MOSQUITTO_PUB = shutil.which("mosquitto_pub")
MOSQUITTO_SUB = shutil.which("mosquitto_sub")
TIMEOUT = 10.0
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def openssl(*args, cwd):
    r = subprocess.run([OPENSSL] + list(args), cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), r.stderr))


def make_server_cert(dir):
    """A CA and a server certificate for 127.0.0.1 signed by it. Returns (ca, cert, key)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "2", "-subj", "/CN=edgemq ws test CA", cwd=dir)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=localhost", cwd=dir)
    with open(os.path.join(dir, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "server.crt", "-days", "2", "-extfile", "san.ext", cwd=dir)
    return tuple(os.path.join(dir, n) for n in ("ca.crt", "server.crt", "server.key"))


def ready_listeners(daemon):
    """[(scheme, port, path)] of every listener, in order, from the ready line."""
    line = daemon.ready_line.split("MQTT on ", 1)[1].split(" (data dir")[0]
    out = []
    for item in line.split(", "):
        m = re.fullmatch(r"(?:(mqtts|ws|wss)://)?(?:\[[^\]]+\]|[0-9.]+):(\d+)(/\S*)?", item.strip())
        assert m, item
        out.append((m.group(1) or "mqtt", int(m.group(2)), m.group(3)))
    return out


# ------------------------------------------------------------------ a raw WebSocket client
def connect_packet(client_id, keepalive=60):
    """An MQTT 3.1.1 CONNECT, clean session."""
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02" + struct.pack("!H", keepalive) + struct.pack("!H", len(cid)) + cid
    return bytes([0x10, len(body)]) + body


def remaining_length(n):
    out = b""
    while True:
        b = n % 128
        n //= 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def publish_packet(topic, payload, retain=False):
    """QoS 0 PUBLISH."""
    t = topic.encode()
    body = struct.pack("!H", len(t)) + t + payload
    return bytes([0x30 | (1 if retain else 0)]) + remaining_length(len(body)) + body


def subscribe_packet(topic, packet_id=1, qos=0):
    t = topic.encode()
    body = struct.pack("!H", packet_id) + struct.pack("!H", len(t)) + t + bytes([qos])
    return bytes([0x82]) + remaining_length(len(body)) + body


def frame(opcode, payload, fin=True, masked=True, mask=b"\x0f\x1e\x2d\x3c"):
    """A client frame (masked unless told otherwise)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    m = 0x80 if masked else 0
    n = len(payload)
    if n < 126:
        head += bytes([m | n])
    elif n <= 0xFFFF:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


class RawWs:
    """A WebSocket client on a plain socket: the handshake, then frames as the test writes them."""

    def __init__(self, port, path="/mqtt", protocols="mqtt", extra=""):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (path, port, key))
        if protocols is not None:
            req += "Sec-WebSocket-Protocol: %s\r\n" % protocols
        self.sock.sendall((req + extra + "\r\n").encode())
        self.stream = b""  # MQTT bytes received and not yet asked for
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        self.headers = head.decode("latin-1")
        self.expected_accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()

    def _until(self, marker):
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before %r" % marker)
            self.buf += chunk
        head, self.buf = self.buf.split(marker, 1)
        return head

    def body(self):
        """The rest of an HTTP error response, up to EOF."""
        data = self.buf
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        """(fin, opcode, payload) of the next server frame; server frames are never masked."""
        b0, b1 = self._need(2)
        assert not b1 & 0x80, "server frames must not be masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        return bool(b0 & 0x80), b0 & 0x0F, self._need(n)

    def read_mqtt(self, n):
        """The next `n` bytes of the MQTT stream, whatever frames they come in."""
        while len(self.stream) < n:
            fin, op, payload = self.read_frame()
            assert op in (0, 2), "expected a data frame, got opcode %d" % op
            self.stream += payload
        out, self.stream = self.stream[:n], self.stream[n:]
        return out

    def send(self, data):
        self.sock.sendall(data)

    def at_eof(self):
        return self.sock.recv(1) == b""

    def close(self):
        self.sock.close()


@unittest.skipUnless(OPENSSL and MOSQUITTO_PUB and MOSQUITTO_SUB, "needs openssl and mosquitto-clients")
class WebSocketListeners(DaemonTestCase):
    """One daemon: plain MQTT, ws (default path), wss (server certificate) and a ws listener on
    another path with a small max_frame_size."""

    @classmethod
    def setUpClass(cls):
        cls.pki_dir = tempfile.mkdtemp(prefix="edgemq-ws-")
        cls.ca, cert, key = make_server_cert(cls.pki_dir)
        cls.config = {"listeners": [
            "127.0.0.1:0",
            "ws://127.0.0.1:0",
            {"address": "wss://127.0.0.1:0", "tls": {"cert": cert, "key": key}},
            {"address": "ws://127.0.0.1:0/custom/mqtt", "websocket": {"max_frame_size": 4096}},
        ]}
        unittest.TestCase.setUpClass()
        cls.daemon = EdgemqDaemon(config=cls.config, listen=None).start()
        listeners = ready_listeners(cls.daemon)
        assert [(s, p) for s, _, p in listeners] == [("mqtt", None), ("ws", "/mqtt"), ("wss", "/mqtt"),
                                                     ("ws", "/custom/mqtt")], cls.daemon.ready_line
        cls.plain_port, cls.ws_port, cls.wss_port, cls.small_port = [port for _, port, _ in listeners]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.pki_dir, ignore_errors=True)

    def paho(self, port, tls=False, version=4, path=None):
        c = PahoClient("127.0.0.1", port, version=version, transport="websockets")
        if tls:
            c.client.tls_set(ca_certs=self.ca)
        if path:
            c.client.ws_set_options(path=path)
        self.track(c)
        return c

    def mosquitto(self, tool, args, input=None):
        return subprocess.run([tool, "-h", "127.0.0.1", "-p", str(self.plain_port)] + list(args),
                              input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, timeout=TIMEOUT + 5)

    def raw(self, port=None, **kw):
        c = RawWs(port or self.ws_port, **kw)
        self.track(c)
        return c

    # ------------------------------------------------------------ real clients
    def test_ws_publish_reaches_tcp_subscriber_and_back(self):
        topic = self.unique("ws/cross")
        pub = self.paho(self.ws_port)
        pub.connect()
        pub.publish(topic, b"from websocket", qos=1, retain=True)
        sub = self.mosquitto(MOSQUITTO_SUB, ["-t", topic, "-C", "1", "-W", "10"])
        self.assertEqual((sub.returncode, sub.stdout), (0, b"from websocket\n"), sub.stderr)
        # And TCP to WebSocket.
        ws_sub = self.paho(self.ws_port, version=5)
        ws_sub.connect()
        self.assertEqual(ws_sub.subscribe(topic + "/back", 1), [1])
        r = self.mosquitto(MOSQUITTO_PUB, ["-t", topic + "/back", "-m", "from tcp", "-q", "1"])
        self.assertEqual(r.returncode, 0, r.stderr)
        m = ws_sub.get()
        self.assertEqual((m.topic, m.payload, m.qos), (topic + "/back", b"from tcp", 1))

    def test_qos1_and_qos2_over_ws(self):
        topic = self.unique("ws/qos")
        sub = self.paho(self.ws_port)
        sub.connect()
        self.assertEqual(sub.subscribe(topic, 2), [2])
        pub = self.paho(self.ws_port, version=5)
        pub.connect()
        for i in range(50):
            pub.publish(topic, b"q1-%d" % i, qos=1)
            pub.publish(topic, b"q2-%d" % i, qos=2)
        got = [sub.get() for _ in range(100)]
        # In order per QoS (paho hands a QoS 2 message over at PUBREL, so the two interleave).
        for q in (1, 2):
            self.assertEqual([m.payload for m in got if m.qos == q], [b"q%d-%d" % (q, i) for i in range(50)])

    def test_wss_with_paho_and_tcp_mosquitto_sub(self):
        topic = self.unique("wss/cross")
        sub = self.paho(self.wss_port, tls=True)
        sub.connect()
        self.assertEqual(sub.subscribe(topic, 2), [2])
        pub = self.paho(self.wss_port, tls=True, version=5)
        pub.connect()
        big = os.urandom(200 * 1024)
        pub.publish(topic, big, qos=2, retain=True)
        pub.publish(topic, b"small", qos=1)
        # (paho hands a QoS 2 message over at PUBREL: the QoS 1 one may come first)
        got = sorted([sub.get(), sub.get()], key=lambda m: -m.qos)
        self.assertEqual([(m.payload, m.qos) for m in got], [(big, 2), (b"small", 1)])
        tcp = self.mosquitto(MOSQUITTO_SUB, ["-t", topic, "-C", "1", "-W", "10"])
        self.assertEqual(tcp.returncode, 0, tcp.stderr)
        self.assertEqual(tcp.stdout, big + b"\n")

    def test_large_message_over_ws_both_ways(self):
        topic = self.unique("ws/large")
        sub = self.paho(self.ws_port)
        sub.connect()
        self.assertEqual(sub.subscribe(topic, 1), [1])
        pub = self.paho(self.ws_port)
        pub.connect()
        big = os.urandom(900 * 1024)  # under the default 1 MiB maximum packet size
        pub.publish(topic, big, qos=1)
        self.assertEqual(sub.get().payload, big)

    def slow_reader(self, port, tls):
        # The subscriber stops reading, so the daemon's socket buffer fills: its frames go partly
        # now and partly by the asynchronous path (a frame's rest must not get a second header).
        import threading
        import paho.mqtt.client as mqtt
        topic = self.unique("ws/slow")
        got, subscribed, done = [], threading.Event(), threading.Event()
        sub = mqtt.Client("slow-" + topic.replace("/", "-"), protocol=mqtt.MQTTv311, transport="websockets")
        if tls:
            sub.tls_set(ca_certs=self.ca)
        sub.on_subscribe = lambda *a: subscribed.set()
        sub.on_message = lambda c, u, m: (got.append(bytes(m.payload)), len(got) == 120 and done.set())
        sub.connect("127.0.0.1", port)
        sub.subscribe(topic, 1)
        while not subscribed.is_set():
            sub.loop(0.1)
        pub = self.paho(port, tls=tls)
        pub.connect()
        payloads = [bytes([i]) * (100 * 1024) for i in range(120)]  # 12 MB: more than the socket buffers
        for p in payloads:
            pub.publish(topic, p, qos=1)
        sub.loop_start()
        try:
            self.assertTrue(done.wait(TIMEOUT * 3), "got %d of 120" % len(got))
            self.assertEqual(got, payloads)
        finally:
            sub.disconnect()
            sub.loop_stop()

    def test_slow_ws_reader_gets_every_byte(self):
        self.slow_reader(self.ws_port, tls=False)

    def test_slow_wss_reader_gets_every_byte(self):
        self.slow_reader(self.wss_port, tls=True)

    def test_wrong_path_is_refused(self):
        c = self.paho(self.ws_port, path="/not-mqtt")
        with self.assertRaises(Exception) as e:
            c.connect()
        self.assertIn("WebSocket handshake", str(e.exception))
        raw = self.raw(path="/not-mqtt")
        self.assertEqual(raw.status, 404)
        self.assertIn(b"/not-mqtt", raw.body())
        # The other listener serves its own path only.
        self.assertEqual(self.raw(self.small_port).status, 404)
        self.assertEqual(self.raw(self.small_port, path="/custom/mqtt").status, 101)

    def test_handshake_answers(self):
        ok = self.raw(path="/mqtt?x=1", protocols="other, mqtt")
        self.assertEqual(ok.status, 101)
        self.assertIn("Sec-WebSocket-Accept: %s\r\n" % ok.expected_accept, ok.headers + "\r\n")
        self.assertIn("Sec-WebSocket-Protocol: mqtt", ok.headers)
        refused = self.raw(protocols="wamp")
        self.assertEqual(refused.status, 400)
        self.assertIn(b"mqtt", refused.body())
        none = self.raw(protocols=None)  # no subprotocol offered: let in, none chosen
        self.assertEqual(none.status, 101)
        self.assertNotIn("Sec-WebSocket-Protocol", none.headers)
        with socket.create_connection(("127.0.0.1", self.ws_port), timeout=TIMEOUT) as s:
            s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP, no upgrade
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 400 "))
        with socket.create_connection(("127.0.0.1", self.ws_port), timeout=TIMEOUT) as s:
            s.sendall(b"GET /mqtt HTTP/1.1\r\n" + b"X-Junk: " + b"a" * 20000 + b"\r\n\r\n")
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 431 "))
        with socket.create_connection(("127.0.0.1", self.ws_port), timeout=TIMEOUT) as s:
            s.sendall(connect_packet("not-http"))  # an MQTT client on the WebSocket port
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 400 "))

    # ------------------------------------------------------------ raw frames
    def test_handshake_deadline(self):
        # A client that never finishes its upgrade request is closed after 10 s (a socket and a
        # timer meanwhile, no connection).
        with socket.create_connection(("127.0.0.1", self.ws_port), timeout=20) as s:
            s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")
            t0 = time.monotonic()
            self.assertEqual(s.recv(100), b"")
            self.assertGreater(time.monotonic() - t0, 8)

    def test_packets_split_and_joined_across_frames(self):
        topic = self.unique("ws/frames")
        c = self.raw()
        self.assertEqual(c.status, 101)
        # CONNECT and SUBSCRIBE in one frame.
        c.send(frame(2, connect_packet(topic) + subscribe_packet(topic)))
        self.assertEqual(c.read_mqtt(4), b"\x20\x02\x00\x00")
        self.assertEqual(c.read_mqtt(5), b"\x90\x03\x00\x01\x00")
        # A 300 KB PUBLISH in 1,000-byte frames of one fragmented message, with pings between.
        payload = os.urandom(300 * 1024)
        packet = publish_packet(topic, payload, retain=True)
        pieces = [packet[i:i + 1000] for i in range(0, len(packet), 1000)]
        wire = b""
        for i, piece in enumerate(pieces):
            op = 2 if i == 0 else 0
            wire += frame(op, piece, fin=i == len(pieces) - 1)
            if i % 50 == 0:
                wire += frame(9, b"p%d" % i)
        c.send(wire)
        pongs = 0
        data = c.stream
        while len(data) < len(packet):
            fin, op, body = c.read_frame()
            if op == 10:
                self.assertEqual(body, b"p%d" % (pongs * 50))
                pongs += 1
            else:
                self.assertIn(op, (0, 2))
                data += body
        self.assertEqual(data, b"\x30" + packet[1:])  # our own subscription sends it back (retain cleared)
        self.assertEqual(pongs, (len(pieces) + 49) // 50)
        # A plain TCP client sees it too.
        sub = self.mosquitto(MOSQUITTO_SUB, ["-t", topic, "-C", "1", "-W", "10"])
        self.assertEqual((sub.returncode, sub.stdout), (0, payload + b"\n"), sub.stderr)

    def assert_closed_with(self, c, code):
        fin, op, body = c.read_frame()
        self.assertEqual(op, 8)
        self.assertEqual(struct.unpack("!H", body[:2])[0], code, body)
        self.assertTrue(c.at_eof())

    def test_malformed_frames_get_a_close_frame(self):
        cases = [
            ("unmasked", frame(2, connect_packet("x"), masked=False), 1002),
            ("text frame", frame(1, b"hello"), 1003),
            ("reserved bit", bytes([0xC2, 0x80]) + b"\0\0\0\0", 1002),
            ("continuation first", frame(0, b"abc"), 1002),
            ("long ping", frame(9, b"p" * 126), 1002),
        ]
        for what, data, code in cases:
            with self.subTest(what):
                c = self.raw()
                self.assertEqual(c.status, 101)
                c.send(data)
                self.assert_closed_with(c, code)
        # After all that, the broker still serves.
        ok = self.paho(self.ws_port)
        ok.connect()

    def test_pings_from_a_client_that_does_not_read_are_bounded(self):
        # 40 MB of pings (320,000), none of the pongs read meanwhile: the server answers some (at
        # least the last of each read), never queues 39 MB of pongs, and still answers the close
        # frame at the end.
        c = self.raw()
        burst = frame(9, b"p" * 125) * 8000
        for _ in range(40):
            c.send(burst)
        c.send(frame(8, struct.pack("!H", 1000)))
        pong_bytes = 0
        while True:
            fin, op, body = c.read_frame()
            if op == 8:
                break
            self.assertEqual((op, body), (10, b"p" * 125))
            pong_bytes += 2 + len(body)
        self.assertGreater(pong_bytes, 0)
        self.assertLess(pong_bytes, 2_000_000)
        self.assertTrue(c.at_eof())

    def test_oversize_frame_gets_1009(self):
        c = self.raw(self.small_port, path="/custom/mqtt")
        self.assertEqual(c.status, 101)
        c.send(frame(2, connect_packet("big")))
        self.assertEqual(c.read_mqtt(4), b"\x20\x02\x00\x00")
        c.send(frame(2, publish_packet("t", b"x" * 5000))[:200])  # the header says 5,000 > 4,096
        self.assert_closed_with(c, 1009)

    def test_close_frame_is_answered(self):
        c = self.raw()
        c.send(frame(2, connect_packet(self.unique("closer"))))
        self.assertEqual(c.read_mqtt(4), b"\x20\x02\x00\x00")
        c.send(frame(8, struct.pack("!H", 1000) + b"bye"))
        self.assert_closed_with(c, 1000)

    def test_server_disconnect_sends_close_frame(self):
        # A second CONNECT is a protocol error: the server closes, and says so in a close frame.
        c = self.raw()
        c.send(frame(2, connect_packet(self.unique("twice"))))
        self.assertEqual(c.read_mqtt(4), b"\x20\x02\x00\x00")
        c.send(frame(2, connect_packet(self.unique("twice"))))
        fin, op, body = c.read_frame()
        self.assertEqual(op, 8)
        self.assertEqual(struct.unpack("!H", body[:2])[0], 1000)


@unittest.skipUnless(OPENSSL, "needs openssl")
class WebSocketConfiguration(unittest.TestCase):
    def test_ws_beyond_loopback_needs_authentication(self):
        r = run_edgemq(["--listen", "ws://0.0.0.0:0"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--listen 'ws://0.0.0.0:0/mqtt': a listener beyond loopback needs", r.stderr)

    def test_ws_beyond_loopback_with_passwords(self):
        d = tempfile.mkdtemp(prefix="edgemq-ws-pw-")
        try:
            passwd = os.path.join(d, "passwd")
            r = subprocess.run([require_program("EDGEMQ_CLI"), "passwd", passwd, "alice"], input="s3cret\n",
                               capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 0, r.stderr)
            with EdgemqDaemon(listen=None, extra_args=["--listen", "127.0.0.1:0", "--listen", "ws://0.0.0.0:0",
                                                       "--password-file", passwd]) as daemon:
                port = ready_listeners(daemon)[1][1]

                def connack(user=None, password=None):
                    c = PahoClient("127.0.0.1", port, version=4, transport="websockets")
                    if user:
                        c.client.username_pw_set(user, password)
                    try:
                        return c.connect(expect_success=False)["rc"]
                    finally:
                        c.close()

                self.assertEqual(connack("alice", "s3cret"), 0)
                self.assertEqual(connack("alice", "wrong"), 4)  # bad user name or password
                self.assertEqual(connack(), 5)  # not authorized: no anonymous clients here
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_wss_with_required_client_certificates(self):
        # Like mqtts: a wss listener that requires client certificates authenticates, so it may
        # listen beyond loopback without allow_anonymous; a client without a certificate is refused
        # in the TLS handshake, before any HTTP.
        d = tempfile.mkdtemp(prefix="edgemq-wss-mtls-")
        try:
            ca, cert, key = make_server_cert(d)
            openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                    "alice.key", "-out", "alice.csr", "-subj", "/CN=alice", cwd=d)
            openssl("x509", "-req", "-in", "alice.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                    "alice.crt", "-days", "2", cwd=d)
            client = (os.path.join(d, "alice.crt"), os.path.join(d, "alice.key"))
            with EdgemqDaemon(listen=None, extra_args=["--listen", "127.0.0.1:0", "--listen", "wss://0.0.0.0:0",
                                                       "--tls-cert", cert, "--tls-key", key, "--tls-client-ca", ca,
                                                       "--tls-require-client-cert"]) as daemon:
                port = ready_listeners(daemon)[1][1]
                c = PahoClient("127.0.0.1", port, version=5, transport="websockets")
                c.client.tls_set(ca_certs=ca, certfile=client[0], keyfile=client[1])
                try:
                    self.assertEqual(c.connect()["rc"], 0)
                finally:
                    c.close()
                ctx = ssl.create_default_context(cafile=ca)
                with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
                    with self.assertRaises((ssl.SSLError, ConnectionError)):
                        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                            s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n")
                            if not s.recv(100):
                                raise ConnectionError("closed without an answer")
                # The server's side of that handshake is over before the daemon stops.
                wait_log(daemon, "TLS handshake failed")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_wss_needs_a_certificate(self):
        r = run_edgemq(["--listen", "wss://127.0.0.1:0"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("a TLS listener needs --tls-cert and --tls-key", r.stderr)

    def test_bad_urls_and_frame_size(self):
        r = run_edgemq(["--listen", "ws://127.0.0.1:0/a b"])
        self.assertEqual(r.returncode, 2, r.stderr)
        r = run_edgemq(["--listen", "mqtt://127.0.0.1:0/mqtt"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("only for ws:// and wss://", r.stderr)
        r = run_edgemq(["--listen", "ws://127.0.0.1:0", "--ws-max-frame-size", "12"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--ws-max-frame-size", r.stderr)

    def test_flags_open_ws_and_wss_listeners(self):
        d = tempfile.mkdtemp(prefix="edgemq-ws-flags-")
        try:
            ca, cert, key = make_server_cert(d)
            with EdgemqDaemon(listen=None, extra_args=["--listen", "127.0.0.1:0", "--listen", "ws://127.0.0.1:0/x",
                                                       "--listen", "wss://127.0.0.1:0", "--tls-cert", cert,
                                                       "--tls-key", key, "--ws-max-frame-size", "2048"]) as daemon:
                listeners = ready_listeners(daemon)
                self.assertEqual([(s, p) for s, _, p in listeners], [("mqtt", None), ("ws", "/x"), ("wss", "/mqtt")])
                raw = RawWs(listeners[1][1], path="/x")
                try:
                    self.assertEqual(raw.status, 101)
                    raw.send(frame(2, b"\x10" + b"\0" * 3000))
                    fin, op, body = raw.read_frame()
                    self.assertEqual((op, struct.unpack("!H", body[:2])[0]), (8, 1009))
                finally:
                    raw.close()
                c = PahoClient("127.0.0.1", listeners[2][1], version=4, transport="websockets")
                c.client.tls_set(ca_certs=ca)
                try:
                    c.connect()
                finally:
                    c.close()
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
