"""Shared helpers for the MQTT 5.0 conformance suite.

Every test module starts with ``from _support import *``-style imports of the names it
needs. This module puts tests/integration on sys.path so the integration harness
(``support.edgemq_harness``, ``support.rawmqtt``, ``support.paho_helper``) is reused as is.

Conventions:

* Tests are named after the normative statement they check: ``test_MQTT_3_1_0_2_...`` for
  [MQTT-3.1.0-2]; ``list_statements.py`` collects the ids from the names (and from
  ``subTest("MQTT_...")`` labels).
* Nothing sleeps to synchronise. Expected packets are waited for with a timeout; to show
  that something does NOT arrive, a marker is published after it and the test waits for
  the marker (or, on one connection, a PINGREQ/PINGRESP round trip is used, see ``sync``).
* Every class gets its own daemon (``DaemonTestCase.setUpClass``) with small timeouts.
"""

import collections
import os
import struct
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_INTEGRATION = os.path.join(os.path.dirname(_HERE), "integration")
if _INTEGRATION not in sys.path:
    # Appended, not prepended: tests/integration has test modules too (test_will.py ...), and
    # the modules of this directory must win any name clash.
    sys.path.append(_INTEGRATION)

from support import rawmqtt as raw  # noqa: E402
from support.constants import CLIENT_TIMEOUT  # noqa: E402
from support.edgemq_harness import DaemonTestCase, EdgemqDaemon  # noqa: E402
from support.paho_helper import PahoClient  # noqa: E402

V5, V311 = raw.V5, raw.V311
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 8, 9, 10, 11, 12, 13, 14, 15

# Property identifiers (MQTT 5.0 section 2.2.2.2).
from support.rawmqtt import (  # noqa: E402 - property ids shared with the integration codec
    P_PAYLOAD_FORMAT,
    P_MESSAGE_EXPIRY,
    P_CONTENT_TYPE,
    P_SUBSCRIPTION_IDENTIFIER,
    P_SESSION_EXPIRY,
    P_ASSIGNED_CLIENT_ID,
    P_SERVER_KEEP_ALIVE,
    P_WILL_DELAY,
    P_REASON_STRING,
    P_RECEIVE_MAXIMUM,
    P_TOPIC_ALIAS_MAXIMUM,
    P_TOPIC_ALIAS,
    P_MAXIMUM_QOS,
    P_RETAIN_AVAILABLE,
    P_USER_PROPERTY,
    P_MAXIMUM_PACKET_SIZE,
    P_WILDCARD_SUB_AVAILABLE,
    P_SUB_ID_AVAILABLE,
    P_SHARED_SUB_AVAILABLE)
P_RESPONSE_TOPIC = 0x08
P_CORRELATION_DATA = 0x09
P_AUTH_METHOD = 0x15
P_AUTH_DATA = 0x16
P_REQUEST_PROBLEM_INFO = 0x17
P_REQUEST_RESPONSE_INFO = 0x19
P_RESPONSE_INFO = 0x1A
P_SERVER_REFERENCE = 0x1C

# Reason codes each packet may carry (MQTT 5.0 sections 3.2.2.2, 3.4.2.1, 3.5.2.1, 3.6.2.1,
# 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1).
CONNACK_CODES = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F}
PUBACK_CODES = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}
PUBREC_CODES = PUBACK_CODES
PUBREL_CODES = {0x00, 0x92}
PUBCOMP_CODES = {0x00, 0x92}
SUBACK_CODES = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2}
UNSUBACK_CODES = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91}
DISCONNECT_CODES = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
                    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2}
SERVER_DISCONNECT_CODES = DISCONNECT_CODES - {0x04}  # 0x04 is sent by Clients only

WAIT = 3.0  # seconds to wait for a packet that must come


# ------------------------------------------------------------------------------- encoding
def utf8_raw(b):
    """A UTF-8 string field made of arbitrary (possibly ill-formed) bytes."""
    return struct.pack("!H", len(b)) + b


def raw_props(body):
    """A properties block from already-encoded property bytes."""
    return raw.varint(len(body)) + body


def prop_bytes(pid, value):
    return raw.prop(pid, value)


def connect_packet(client_id="", version=V5, flags=None, keepalive=60, props=b"\x00", payload=None,
                   protocol_name=b"MQTT", level=None):
    """A CONNECT built field by field so any of them can be wrong. `flags` is the whole
    Connect Flags byte (default: Clean Start only); `props` the encoded properties block
    (v5 only); `payload` the whole encoded payload (default: just the client id)."""
    if flags is None:
        flags = 0x02
    if level is None:
        level = version
    vh = utf8_raw(protocol_name) + bytes([level, flags]) + struct.pack("!H", keepalive)
    if version == V5:
        vh += props
    if payload is None:
        payload = raw.utf8(client_id)
    return raw.fixed(CONNECT, 0, vh + payload)


def publish_packet(topic, payload=b"", qos=0, packet_id=None, retain=False, dup=False, props=b"\x00",
                   version=V5):
    """A PUBLISH with a raw properties block; `topic` may be str or already-encoded bytes."""
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = raw.utf8(topic) if isinstance(topic, str) else topic
    if qos:
        body += struct.pack("!H", packet_id if packet_id is not None else 1)
    if version == V5:
        body += props
    return raw.fixed(PUBLISH, flags & 0x0F, body + payload)


def ack_props(p):
    """Properties of a received PUBACK/PUBREC/PUBREL/PUBCOMP (the harness only decodes the
    reason code)."""
    if len(p.body) > 3:
        return raw.parse_props(p.body, 3)[0]
    return {}


def varint_at(buf, pos):
    """(value, number of bytes) of the Variable Byte Integer at `pos`."""
    value, end = raw.read_varint(buf, pos)
    return value, end - pos


# --------------------------------------------------------------------------------- client
class Client(raw.RawClient):
    """RawClient that keeps the packets it skips while waiting for something else.

    ``expect(t, skip=(PUBLISH,))`` (used by publish/subscribe) stashes the skipped PUBLISH
    packets instead of dropping them; ``recv`` returns stashed packets first. This matters
    for tests in which the same client publishes and receives (No Local, overlapping
    subscriptions...)."""

    def __init__(self, host, port, version=V5, timeout=CLIENT_TIMEOUT):
        super().__init__(host, port, version, timeout)
        self.stash = collections.deque()

    def recv(self, timeout=None):
        if self.stash:
            return self.stash.popleft()
        return super().recv(timeout)

    def _recv_socket(self, timeout):
        return raw.RawClient.recv(self, timeout)

    def expect(self, ptype, timeout=None, skip=()):
        for i, p in enumerate(self.stash):
            if p.type == ptype:
                del self.stash[i]
                return p
            if p.type not in skip:
                raise AssertionError("expected %s, got %r" % (raw.NAMES[ptype], p))
        while True:
            p = self._recv_socket(timeout)
            if p.type == ptype:
                return p
            if p.type in skip:
                self.stash.append(p)
                continue
            raise AssertionError("expected %s, got %r" % (raw.NAMES[ptype], p))

    def publish_with_id(self, topic, payload=b"", qos=1, packet_id=None, retain=False, dup=False, properties=None):
        """Publish with a chosen packet id; completes the QoS flow and returns the ack."""
        pid = packet_id if packet_id is not None else self.next_id()
        self.send(raw.publish(topic, payload, qos, pid, retain, dup, self.version, properties))
        if qos == 1:
            return self.expect(PUBACK, skip=(PUBLISH,))
        if qos == 2:
            rec = self.expect(PUBREC, skip=(PUBLISH,))
            self.send(raw.ack(PUBREL, pid, version=self.version))
            comp = self.expect(PUBCOMP, skip=(PUBLISH,))
            comp.pubrec = rec
            return comp
        return None

    def disconnect(self, reason=None, timeout=WAIT):
        """Send DISCONNECT and wait until the server has closed the connection (so the
        server has finished with the session when this returns). Returns what came before."""
        self.send(raw.disconnect(reason, self.version))
        try:
            return self.read_until_closed(timeout)
        except TimeoutError:
            raise AssertionError("the server did not close the connection after DISCONNECT") from None

    def ack(self, p):
        """Acknowledge a received PUBLISH according to its QoS (QoS 2 runs the whole flow)."""
        if p.qos == 1:
            self.send(raw.ack(PUBACK, p.packet_id, version=self.version))
        elif p.qos == 2:
            self.send(raw.ack(PUBREC, p.packet_id, version=self.version))
            rel = self.expect(PUBREL, skip=(PUBLISH,))
            self.send(raw.ack(PUBCOMP, rel.packet_id, version=self.version))

    def sync(self, timeout=WAIT):
        """PINGREQ, then every packet received before the PINGRESP (which is consumed)."""
        self.send(raw.pingreq())
        got = []
        while True:
            p = self.recv(timeout)
            if p.type == PINGRESP:
                return got
            got.append(p)

    def until_payload(self, payload, timeout=WAIT, ack=True):
        """Every packet received before the PUBLISH carrying `payload` (the marker), which is
        consumed. QoS 1/2 PUBLISH packets are acknowledged when `ack`."""
        if isinstance(payload, str):
            payload = payload.encode()
        got = []
        while True:
            p = self.recv(timeout)
            if p.type == PUBLISH:
                if ack:
                    if p.qos == 1:
                        self.send(raw.ack(PUBACK, p.packet_id, version=self.version))
                    elif p.qos == 2:
                        self.send(raw.ack(PUBREC, p.packet_id, version=self.version))
                if p.payload == payload:
                    while ack and p.qos == 2:  # finish the marker's QoS 2 flow (and any other)
                        rel = self.expect(PUBREL, timeout, skip=(PUBLISH,))
                        self.send(raw.ack(PUBCOMP, rel.packet_id, version=self.version))
                        if rel.packet_id == p.packet_id:
                            break
                    return got
            elif p.type == PUBREL and ack:
                self.send(raw.ack(PUBCOMP, p.packet_id, version=self.version))
                continue
            got.append(p)

    def publishes_until(self, payload, timeout=WAIT, ack=True):
        return [p for p in self.until_payload(payload, timeout, ack) if p.type == PUBLISH]


# ------------------------------------------------------------------------------ test case
class ConformanceCase(DaemonTestCase):
    """One daemon per class. Helpers create tracked raw clients."""

    config = {"mqtt": {"connect_timeout_ms": 300}}

    def client(self, version=V5, timeout=CLIENT_TIMEOUT):
        return self.track(Client(self.host, self.port, version, timeout))

    def connected(self, client_id=None, version=V5, clean=True, keepalive=60, properties=None, will=None, **kw):
        """A connected client; returns (client, connack)."""
        if client_id is None:
            client_id = self.unique("c")
        c = self.client(version)
        ack = c.connect(client_id, clean=clean, keepalive=keepalive, properties=properties, will=will, **kw)
        return c, ack

    def conn(self, client_id=None, **kw):
        return self.connected(client_id, **kw)[0]

    def subscriber(self, filters, client_id=None, sub_props=None, **kw):
        """A connected client subscribed to `filters` (a str, or a list of (filter, options))."""
        c = self.conn(client_id, **kw)
        if isinstance(filters, str):
            filters = [(filters, 0)]
        sa = c.subscribe(filters, properties=sub_props)
        for code in sa.reasons:
            self.assertLess(code, 0x80, "subscription refused: %r" % sa)
        return c

    def topic(self, stem="t"):
        return self.unique(stem).replace("test_", "")

    # -- assertions
    def assertDisconnected(self, c, reasons, timeout=WAIT, msg=None):
        """The server sends DISCONNECT with a reason in `reasons` (int or set) as the last
        packet and closes the connection. Returns every packet received."""
        if isinstance(reasons, int):
            reasons = {reasons}
        try:
            got = c.read_until_closed(timeout)
        except TimeoutError:
            raise self.failureException("%sconnection still open after %.1fs" % (msg + ": " if msg else "", timeout)) from None
        self.assertTrue(got, "%sconnection closed without a DISCONNECT" % (msg + ": " if msg else ""))
        last = got[-1]
        self.assertEqual(last.type, DISCONNECT, "%slast packet %r, expected DISCONNECT" % (msg + ": " if msg else "", last))
        self.assertIn(last.reason, reasons, "%sDISCONNECT %r, expected reason in %s"
                      % (msg + ": " if msg else "", last, ["%#04x" % r for r in sorted(reasons)]))
        return got

    def assertClosed(self, c, timeout=WAIT, msg=None):
        """The server closes the connection; returns the packets received before."""
        try:
            return c.read_until_closed(timeout)
        except TimeoutError:
            raise self.failureException("%sconnection still open after %.1fs" % (msg + ": " if msg else "", timeout)) from None

    def assertRefused(self, c, reasons, timeout=WAIT, msg=None):
        """A CONNECT refusal: any packet received is one CONNACK with a reason in `reasons`
        (Session Present 0), and the connection is closed."""
        if isinstance(reasons, int):
            reasons = {reasons}
        got = self.assertClosed(c, timeout, msg)
        self.assertLessEqual(len(got), 1, "%sat most a CONNACK before the close: %r" % (msg + ": " if msg else "", got))
        if got:
            self.assertEqual(got[0].type, CONNACK, "%s%r" % (msg + ": " if msg else "", got))
            self.assertIn(got[0].reason, reasons, "%s%r" % (msg + ": " if msg else "", got[0]))
        return got

    def expectPacket(self, c, ptype, timeout=WAIT, msg=None):
        """Like c.expect(ptype) but a missing packet is a test failure, not an error."""
        try:
            return c.expect(ptype, timeout)
        except (TimeoutError, raw.Closed) as e:
            raise self.failureException("%sno %s: %s" % (msg + ": " if msg else "", raw.NAMES[ptype], e)) from None

    def assertNoPublish(self, packets, msg=None):
        pubs = [p for p in packets if p.type == PUBLISH]
        self.assertEqual(pubs, [], msg)


def elapsed_since(t0):
    return time.monotonic() - t0


class ScenarioCase(ConformanceCase):
    """A case whose scenario runs once for the class (in `_scenario`), with clients that are closed
    at the end; the tests then assert on what was recorded."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.live = []
        try:
            cls._scenario()
        except Exception:
            cls._close_all()
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._close_all()
        super().tearDownClass()

    @classmethod
    def _scenario(cls):
        raise NotImplementedError

    @classmethod
    def _close_all(cls):
        for c in cls.live:
            c.close()

    @classmethod
    def _client(cls, cid, **kw):
        c = Client(cls.host, cls.port)
        cls.live.append(c)
        c.connect(cid, **kw)
        return c
