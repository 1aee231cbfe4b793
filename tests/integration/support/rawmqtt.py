"""A tiny hand-rolled MQTT 3.1.1 / 5 codec over a raw socket, for byte-exact tests.

Builders return complete packets as bytes (so tests can also corrupt them); RawClient
sends bytes and reads back whole packets with timeouts. Nothing here sleeps: every read
blocks on the socket with a deadline.
"""

import socket
import struct
import time

from support.constants import CLIENT_TIMEOUT

# packet types
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 8, 9, 10, 11, 12, 13, 14, 15

NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP",
         8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
         14: "DISCONNECT", 15: "AUTH"}

V311, V5 = 4, 5

# MQTT 5 property identifiers used by the tests
P_PAYLOAD_FORMAT = 0x01
P_MESSAGE_EXPIRY = 0x02
P_CONTENT_TYPE = 0x03
P_SESSION_EXPIRY = 0x11
P_ASSIGNED_CLIENT_ID = 0x12
P_SERVER_KEEP_ALIVE = 0x13
P_REASON_STRING = 0x1F
P_RECEIVE_MAXIMUM = 0x21
P_TOPIC_ALIAS_MAXIMUM = 0x22
P_TOPIC_ALIAS = 0x23
P_MAXIMUM_QOS = 0x24
P_RETAIN_AVAILABLE = 0x25
P_USER_PROPERTY = 0x26
P_MAXIMUM_PACKET_SIZE = 0x27
P_WILDCARD_SUB_AVAILABLE = 0x28
P_SUB_ID_AVAILABLE = 0x29
P_SHARED_SUB_AVAILABLE = 0x2A
P_SUBSCRIPTION_IDENTIFIER = 0x0B
P_WILL_DELAY = 0x18
P_AUTH_METHOD = 0x15
P_AUTH_DATA = 0x16

# AUTH reason codes (MQTT 3.15.2.1)
AUTH_SUCCESS, AUTH_CONTINUE, AUTH_REAUTHENTICATE = 0x00, 0x18, 0x19

_U8 = {P_PAYLOAD_FORMAT, P_MAXIMUM_QOS, P_RETAIN_AVAILABLE, P_WILDCARD_SUB_AVAILABLE, P_SUB_ID_AVAILABLE,
       P_SHARED_SUB_AVAILABLE, 0x17, 0x19}
_U16 = {P_SERVER_KEEP_ALIVE, P_RECEIVE_MAXIMUM, P_TOPIC_ALIAS_MAXIMUM, P_TOPIC_ALIAS}
_U32 = {P_MESSAGE_EXPIRY, P_SESSION_EXPIRY, P_MAXIMUM_PACKET_SIZE, P_WILL_DELAY}
_STR = {P_CONTENT_TYPE, P_ASSIGNED_CLIENT_ID, P_REASON_STRING, 0x08, 0x15, 0x1A, 0x1C}
_BIN = {0x09, 0x16}
_VARINT = {P_SUBSCRIPTION_IDENTIFIER}


# ---------------------------------------------------------------------------- encoding
def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def utf8(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("!H", len(b)) + b


def binary(b):
    b = b.encode() if isinstance(b, str) else bytes(b)
    return struct.pack("!H", len(b)) + b


def prop(pid, value):
    """One encoded property (identifier + value) typed by identifier."""
    if pid in _U8:
        return bytes([pid, value])
    if pid in _U16:
        return bytes([pid]) + struct.pack("!H", value)
    if pid in _U32:
        return bytes([pid]) + struct.pack("!I", value)
    if pid in _STR:
        return bytes([pid]) + utf8(value)
    if pid in _BIN:
        return bytes([pid]) + binary(value)
    if pid in _VARINT:
        return bytes([pid]) + varint(value)
    if pid == P_USER_PROPERTY:
        k, v = value
        return bytes([pid]) + utf8(k) + utf8(v)
    raise ValueError("unknown property %#x" % pid)


def props(*pairs, raw=b""):
    """A properties block: varint length + (pid, value) pairs + optional raw bytes."""
    body = b"".join(prop(p, v) for p, v in pairs) + raw
    return varint(len(body)) + body


def fixed(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


def connect(client_id="", version=V5, clean=True, keepalive=60, properties=None, will=None, username=None,
            password=None, protocol_name="MQTT"):
    """CONNECT. `properties` is a list of (pid, value) for v5 (or raw bytes of a whole
    properties block). `will` is a dict(topic, payload, qos=0, retain=False, properties=[])."""
    flags = 0
    if clean:
        flags |= 0x02
    if will is not None:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    vh = utf8(protocol_name) + bytes([version, flags]) + struct.pack("!H", keepalive)
    if version == V5:
        vh += _props_block(properties)
    payload = utf8(client_id)
    if will is not None:
        if version == V5:
            payload += _props_block(will.get("properties"))
        payload += utf8(will["topic"]) + binary(will.get("payload", b""))
    if username is not None:
        payload += utf8(username)
    if password is not None:
        payload += binary(password)
    return fixed(CONNECT, 0, vh + payload)


def _props_block(p):
    if p is None:
        return b"\x00"
    if isinstance(p, (bytes, bytearray)):
        return bytes(p)
    return props(*p)


def publish(topic, payload=b"", qos=0, packet_id=None, retain=False, dup=False, version=V5, properties=None):
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = utf8(topic) if isinstance(topic, str) else topic
    if qos > 0:
        body += struct.pack("!H", packet_id if packet_id is not None else 1)
    if version == V5:
        body += _props_block(properties)
    return fixed(PUBLISH, flags & 0x0F, body + payload)


def subscribe(packet_id, filters, version=V5, properties=None):
    """filters: list of (filter, options_byte) — options is the QoS for v3.1.1."""
    body = struct.pack("!H", packet_id)
    if version == V5:
        body += _props_block(properties)
    for f, opts in filters:
        body += utf8(f) + bytes([opts])
    return fixed(SUBSCRIBE, 0x02, body)


def unsubscribe(packet_id, filters, version=V5):
    body = struct.pack("!H", packet_id)
    if version == V5:
        body += b"\x00"
    for f in filters:
        body += utf8(f)
    return fixed(UNSUBSCRIBE, 0x02, body)


def ack(ptype, packet_id, reason=None, version=V5):
    """PUBACK / PUBREC / PUBREL / PUBCOMP."""
    flags = 0x02 if ptype == PUBREL else 0
    body = struct.pack("!H", packet_id)
    if version == V5 and reason is not None:
        body += bytes([reason])
    return fixed(ptype, flags, body)


def pingreq():
    return b"\xc0\x00"


def disconnect(reason=None, version=V5, properties=None):
    if version != V5 or reason is None:
        return b"\xe0\x00"
    body = bytes([reason])
    if properties is not None:
        body += _props_block(properties)
    return fixed(DISCONNECT, 0, body)


def auth(reason, properties=None):
    """AUTH (MQTT 5 only): reason code and properties (method, data)."""
    return fixed(AUTH, 0, bytes([reason]) + _props_block(properties))


# ---------------------------------------------------------------------------- decoding
def parse_props(buf, pos):
    """Returns (dict pid -> value or list of values, new_pos)."""
    length, pos = read_varint(buf, pos)
    end = pos + length
    out = {}
    while pos < end:
        pid = buf[pos]
        pos += 1
        if pid in _U8:
            v = buf[pos]
            pos += 1
        elif pid in _U16:
            v = struct.unpack_from("!H", buf, pos)[0]
            pos += 2
        elif pid in _U32:
            v = struct.unpack_from("!I", buf, pos)[0]
            pos += 4
        elif pid in _STR:
            n = struct.unpack_from("!H", buf, pos)[0]
            v = bytes(buf[pos + 2:pos + 2 + n]).decode("utf-8")
            pos += 2 + n
        elif pid in _BIN:
            n = struct.unpack_from("!H", buf, pos)[0]
            v = bytes(buf[pos + 2:pos + 2 + n])
            pos += 2 + n
        elif pid in _VARINT:
            v, pos = read_varint(buf, pos)
        elif pid == P_USER_PROPERTY:
            n = struct.unpack_from("!H", buf, pos)[0]
            k = bytes(buf[pos + 2:pos + 2 + n]).decode()
            pos += 2 + n
            n = struct.unpack_from("!H", buf, pos)[0]
            val = bytes(buf[pos + 2:pos + 2 + n]).decode()
            pos += 2 + n
            v = (k, val)
        else:
            raise ValueError("cannot parse property %#x" % pid)
        if pid in (P_USER_PROPERTY, P_SUBSCRIPTION_IDENTIFIER):
            out.setdefault(pid, []).append(v)
        else:
            out[pid] = v
    return out, end


def read_varint(buf, pos):
    mult, value = 1, 0
    for _ in range(4):
        b = buf[pos]
        pos += 1
        value += (b & 0x7F) * mult
        if not b & 0x80:
            return value, pos
        mult *= 128
    raise ValueError("malformed variable byte integer")


class Packet:
    """One received packet: type, flags, raw body, plus decoded fields for common types."""

    def __init__(self, first, body, version):
        self.type = first >> 4
        self.flags = first & 0x0F
        self.body = bytes(body)
        self.raw = None
        self.reason = None
        self.props = {}
        self.packet_id = None
        if self.type == CONNACK:
            self.session_present = bool(body[0] & 1)
            self.reason = body[1]
            if version == V5 and len(body) > 2:
                self.props, _ = parse_props(body, 2)
        elif self.type == PUBLISH:
            self.qos = (self.flags >> 1) & 3
            self.retain = bool(self.flags & 1)
            self.dup = bool(self.flags & 8)
            n = struct.unpack_from("!H", body, 0)[0]
            self.topic = bytes(body[2:2 + n]).decode("utf-8")
            pos = 2 + n
            if self.qos:
                self.packet_id = struct.unpack_from("!H", body, pos)[0]
                pos += 2
            if version == V5:
                self.props, pos = parse_props(body, pos)
            self.payload = bytes(body[pos:])
        elif self.type in (PUBACK, PUBREC, PUBREL, PUBCOMP):
            self.packet_id = struct.unpack_from("!H", body, 0)[0]
            self.reason = body[2] if len(body) > 2 else 0
        elif self.type in (SUBACK, UNSUBACK):
            self.packet_id = struct.unpack_from("!H", body, 0)[0]
            pos = 2
            if version == V5:
                self.props, pos = parse_props(body, pos)
            self.reasons = list(body[pos:])
        elif self.type in (DISCONNECT, AUTH):
            self.reason = body[0] if len(body) >= 1 else 0
            if len(body) > 1:
                self.props, _ = parse_props(body, 1)

    @property
    def name(self):
        return NAMES.get(self.type, "?%d" % self.type)

    def __repr__(self):
        extra = ""
        if self.type == PUBLISH:
            extra = " topic=%r qos=%d retain=%s payload=%r" % (self.topic, self.qos, self.retain, self.payload)
        elif self.reason is not None:
            extra = " reason=%#04x" % self.reason
        if self.type in (SUBACK, UNSUBACK):
            extra += " reasons=%s" % ["%#04x" % r for r in self.reasons]
        return "<%s%s body=%s>" % (self.name, extra, self.body.hex())


class Closed(Exception):
    """The peer closed the connection."""


class RawClient:
    """A blocking TCP client that speaks bytes and reads whole MQTT packets with timeouts."""

    def __init__(self, host, port, version=V5, timeout=CLIENT_TIMEOUT):
        self.version = version
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self._next_id = 0

    # -- sending
    def send(self, data):
        self.sock.sendall(data)

    def next_id(self):
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    # -- receiving
    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete packet within the timeout (buffered: %s)" % bytes(self.buf).hex())
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no complete packet within the timeout (buffered: %s)" % bytes(self.buf).hex())
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            raise Closed("connection closed by peer (buffered: %s)" % bytes(self.buf).hex())
        self.buf += data

    def _try_parse(self):
        if len(self.buf) < 2:
            return None
        mult, length, pos = 1, 0, 1
        while True:
            if pos >= len(self.buf):
                return None
            b = self.buf[pos]
            length += (b & 0x7F) * mult
            pos += 1
            if not b & 0x80:
                break
            mult *= 128
            if pos > 4:
                raise ValueError("malformed remaining length from server")
        if len(self.buf) < pos + length:
            return None
        first = self.buf[0]
        raw = bytes(self.buf[:pos + length])
        body = self.buf[pos:pos + length]
        del self.buf[:pos + length]
        p = Packet(first, body, self.version)
        p.raw = raw
        return p

    def recv(self, timeout=None):
        """The next packet. Raises TimeoutError or Closed."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            p = self._try_parse()
            if p is not None:
                return p
            if self.eof:
                raise Closed("connection closed by peer (buffered: %s)" % bytes(self.buf).hex())
            self._fill(deadline)

    def expect(self, ptype, timeout=None, skip=()):
        """The next packet, which must be of type `ptype` (types in `skip` are ignored)."""
        while True:
            p = self.recv(timeout)
            if p.type in skip:
                continue
            if p.type != ptype:
                raise AssertionError("expected %s, got %r" % (NAMES[ptype], p))
            return p

    def read_until_closed(self, timeout=None):
        """Every packet received until the server closes the connection. Raises TimeoutError
        if the connection is still open after `timeout`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        got = []
        while True:
            try:
                got.append(self.recv(max(0.0, deadline - time.monotonic()) or 0.001))
            except Closed:
                return got

    def is_closed_within(self, timeout):
        try:
            self.read_until_closed(timeout)
            return True
        except TimeoutError:
            return False

    # -- conversations
    def connect(self, client_id="", clean=True, keepalive=60, properties=None, will=None, expect_reason=0, **kw):
        self.send(connect(client_id, self.version, clean, keepalive, properties, will, **kw))
        ack_ = self.expect(CONNACK)
        if expect_reason is not None and ack_.reason != expect_reason:
            raise AssertionError("CONNACK reason %#04x, expected %#04x: %r" % (ack_.reason, expect_reason, ack_))
        return ack_

    def subscribe(self, filters, properties=None):
        """filters: list of (filter, options) or a single filter string (QoS 0). Returns SUBACK."""
        if isinstance(filters, str):
            filters = [(filters, 0)]
        pid = self.next_id()
        self.send(subscribe(pid, filters, self.version, properties))
        sa = self.expect(SUBACK)
        if sa.packet_id != pid:
            raise AssertionError("SUBACK for packet id %d, expected %d" % (sa.packet_id, pid))
        return sa

    def publish(self, topic, payload=b"", qos=0, retain=False, properties=None):
        """Publish and complete the QoS flow. Returns the PUBACK/PUBCOMP (or None for QoS 0)."""
        pid = self.next_id() if qos else None
        self.send(publish(topic, payload, qos, pid, retain, version=self.version, properties=properties))
        if qos == 1:
            return self.expect(PUBACK, skip=(PUBLISH,))
        if qos == 2:
            rec = self.expect(PUBREC, skip=(PUBLISH,))
            self.send(ack(PUBREL, pid, version=self.version))
            comp = self.expect(PUBCOMP, skip=(PUBLISH,))
            comp.pubrec = rec
            return comp
        return None

    def ping(self):
        self.send(pingreq())
        return self.expect(PINGRESP)

    def disconnect(self, reason=None):
        try:
            self.send(disconnect(reason, self.version))
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
