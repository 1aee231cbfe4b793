"""An SDK-like client for the state store behind edgemq (the AIO state store protocol, as
docs/statestore.md describes it), on paho-mqtt 1.6.1 with MQTT 5.

It behaves like the AIO SDK invokers: requests are QoS 1 PUBLISHes on the request topic with
a Response Topic, 16 random bytes of Correlation Data, content type application/octet-stream
and the SDK user properties (__srcId, __ts from the client's own HLC, __protVer 1.0,
optionally __ft). Replies are matched by correlation data; notifications are queued.
Every wait has a timeout; nothing sleeps.

Also here:
  * RESP3 request builder and HLC helpers;
  * make_daemon: an EdgemqDaemon on a data directory that survives restarts;
  * a lock worker for the competing-processes test, run as
      python3 -m support.statestore_client lock-worker --port P --holder H ...
    (from tests/integration).
"""

import argparse
import itertools
import json
import os
import queue
import socket
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCodes

from support.constants import CLIENT_TIMEOUT, HOST
from support.edgemq_harness import EdgemqDaemon

SERVICE_ID = "FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8"
REQUEST_TOPIC = "statestore/v1/%s/command/invoke" % SERVICE_ID
NOTIFY_PREFIX = "clients/statestore/v1/%s" % SERVICE_ID
CONTENT_TYPE = "application/octet-stream"
TIMEOUT = CLIENT_TIMEOUT

OK = b"+OK\r\n"
NOT_APPLIED = b":-1\r\n"
NIL = b"$-1\r\n"

ERR_TS_SKEW = ("the request timestamp is too far in the future; ensure that the client and broker system clocks "
               "are synchronized")
ERR_FT_REQUIRED = "a fencing token is required for this request"
ERR_FT_SKEW = ("the request fencing token timestamp is too far in the future; ensure that the client and broker "
               "system clocks are synchronized")
ERR_FT_LOWER = "the request fencing token is a lower version than the fencing token protecting the resource"
ERR_QUOTA = "the quota has been exceeded"
ERR_SYNTAX = "syntax error"
ERR_UNKNOWN = "unknown command"
ERR_ARITY = "wrong number of arguments"
ERR_MISSING_TS = "missing timestamp"
ERR_MALFORMED_TS = "malformed timestamp"
ERR_KEY_ZERO = "the key length is zero"

_ids = itertools.count(1)


# ----------------------------------------------------------------------------- RESP3
def _b(x):
    if isinstance(x, (bytes, bytearray)):
        return bytes(x)
    if isinstance(x, int):
        return str(x).encode()
    return str(x).encode("utf-8")


def bulk(x):
    x = _b(x)
    return b"$%d\r\n%s\r\n" % (len(x), x)


def resp_array(*parts):
    """`*<n>\\r\\n` followed by one bulk string per part (bytes, str or int)."""
    return b"*%d\r\n" % len(parts) + b"".join(bulk(p) for p in parts)


def err(text):
    return b"-ERR " + text.encode() + b"\r\n"


def integer(n):
    return b":%d\r\n" % n


def set_request(key, value, nx=False, nex=False, px=None):
    parts = [b"SET", key, value]
    if nx:
        parts.append(b"NX")
    if nex:
        parts.append(b"NEX")
    if px is not None:
        parts += [b"PX", px]
    return resp_array(*parts)


def notify_set_payload(value):
    return resp_array(b"NOTIFY", b"SET", b"VALUE", value)


NOTIFY_DELETE = resp_array(b"NOTIFY", b"DELETE")


def hexupper(x):
    return _b(x).hex().upper()


def notification_topic(client_id, key):
    return "%s/%s/command/notify/%s" % (NOTIFY_PREFIX, hexupper(client_id), hexupper(key))


def response_topic_for(client_id):
    # The Rust SDK's form: clients/{clientId}/services/ + request topic + /response
    return "clients/%s/services/%s/response" % (client_id, REQUEST_TOPIC)


# ----------------------------------------------------------------------------- HLC
def parse_hlc(text):
    """(ms, counter, node) from 'ms:counter:node'; ValueError unless exactly 3 parts with
    integer ms and counter (what the SDK parsers require)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError("HLC %r has %d parts, expected 3" % (text, len(parts)))
    return int(parts[0]), int(parts[1]), parts[2]


def hlc_key(text):
    """Ordering key (ms, counter) of an HLC string."""
    ms, counter, _ = parse_hlc(text)
    return (ms, counter)


def format_hlc(ms, counter, node):
    return "%015d:%05d:%s" % (ms, counter, node)


def now_ms():
    return int(time.time() * 1000)


class HLC:
    """The client's hybrid logical clock: advanced on every send, merged with every received __ts."""

    def __init__(self, node=None):
        self.node = node or str(uuid.uuid4())  # hyphens, no colons
        self.ms = 0
        self.counter = 0
        self._lock = threading.Lock()

    def next(self):
        with self._lock:
            now = now_ms()
            if now > self.ms:
                self.ms, self.counter = now, 0
            else:
                self.counter += 1
            return format_hlc(self.ms, self.counter, self.node)

    def fold(self, text):
        try:
            ms, counter, _ = parse_hlc(text)
        except ValueError:
            return
        with self._lock:
            if (ms, counter) > (self.ms, self.counter):
                self.ms, self.counter = ms, counter


# ----------------------------------------------------------------------------- messages
class Reply:
    def __init__(self, msg):
        p = getattr(msg, "properties", None)
        self.topic = msg.topic
        self.payload = bytes(msg.payload)
        self.qos = msg.qos
        self.user_properties = list(getattr(p, "UserProperty", []) or []) if p is not None else []
        self.props = dict(self.user_properties)
        self.content_type = getattr(p, "ContentType", None) if p is not None else None
        self.correlation = getattr(p, "CorrelationData", None) if p is not None else None
        self.received_at = time.monotonic()
        self.request_ts = None  # filled in by invoke()

    @property
    def ts(self):
        return self.props.get("__ts")

    def __repr__(self):
        return "<reply %r props=%s ct=%r>" % (self.payload, self.user_properties, self.content_type)


Notification = Reply


class _Unset:
    pass


UNSET = _Unset()


class StateStoreClient:
    """One MQTT 5 connection used as a state store client. Never reconnects by itself."""

    def __init__(self, host, port, client_id=None, clean=True, session_expiry=None, subscribe_response=True,
                 subscribe_notifications=True, extra_subscriptions=(), keepalive=60, will=None):
        self.host, self.port = host, port
        self.client_id = client_id or "ss-%d-%s" % (next(_ids), uuid.uuid4().hex[:8])
        self.clean = clean
        self.session_expiry = session_expiry
        self.keepalive = keepalive
        self.response_topic = response_topic_for(self.client_id)
        self.notify_filter = "%s/%s/command/notify/+" % (NOTIFY_PREFIX, hexupper(self.client_id))
        self.subscribe_response = subscribe_response
        self.subscribe_notifications = subscribe_notifications
        self.extra_subscriptions = list(extra_subscriptions)
        self.hlc = HLC()
        self.client = mqtt.Client(client_id=self.client_id, protocol=mqtt.MQTTv5, reconnect_on_failure=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        if will is not None:  # (topic, payload): QoS 1, no delay
            self.client.will_set(will[0], will[1], 1, False)
        self._cv = threading.Condition()
        self._replies = {}          # correlation -> [Reply, ...] (every copy received)
        self._subacks = {}
        self.notifications = queue.Queue()
        self.other = queue.Queue()   # anything else that arrived
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack = None
        self.disconnect_rcs = []
        self._loop_started = False

    # ------------------------------------------------------------------ callbacks
    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self.connack = {"flags": flags, "rc": rc, "properties": properties}
        self.connected.set()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        self.disconnect_rcs.append(rc.value if hasattr(rc, "value") else rc)
        self.disconnected.set()

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        with self._cv:
            self._subacks[mid] = [g.value if hasattr(g, "value") else g for g in granted]
            self._cv.notify_all()

    def _on_message(self, client, userdata, msg):
        r = Reply(msg)
        if r.ts is not None:
            self.hlc.fold(r.ts)
        if msg.topic.startswith(NOTIFY_PREFIX + "/"):
            self.notifications.put(r)
        elif msg.topic == self.response_topic and r.correlation is not None:
            with self._cv:
                self._replies.setdefault(bytes(r.correlation), []).append(r)
                self._cv.notify_all()
        else:
            self.other.put(r)

    # ------------------------------------------------------------------ connection
    def connect(self, timeout=TIMEOUT):
        self.connected.clear()
        self.disconnected.clear()
        props = None
        if self.session_expiry is not None:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry
        self.client.connect(self.host, self.port, self.keepalive, clean_start=self.clean, properties=props)
        # Without TCP_NODELAY, Nagle plus delayed ACKs add ~40 ms to every request/reply.
        self.client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self._loop_started:
            self.client.loop_start()
            self._loop_started = True
        if not self.connected.wait(timeout):
            raise AssertionError("%s: no CONNACK within %.1fs" % (self.client_id, timeout))
        rc = self.connack["rc"]
        if (rc.value if hasattr(rc, "value") else rc) != 0:
            raise AssertionError("%s: CONNACK refused: %s" % (self.client_id, rc))
        if self.subscribe_response:
            self.subscribe(self.response_topic, 1)
        if self.subscribe_notifications:
            self.subscribe(self.notify_filter, 1)
        for f in self.extra_subscriptions:
            self.subscribe(f, 1)
        return self

    @property
    def session_present(self):
        return bool(self.connack["flags"].get("session present"))

    def subscribe(self, topic_filter, qos=1, timeout=TIMEOUT):
        rc, mid = self.client.subscribe(topic_filter, options=mqtt.SubscribeOptions(qos=qos))
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError("subscribe(%r) failed locally: %s" % (topic_filter, rc))
        with self._cv:
            if not self._cv.wait_for(lambda: mid in self._subacks, timeout):
                raise AssertionError("%s: no SUBACK for %r" % (self.client_id, topic_filter))
            granted = self._subacks.pop(mid)
        if granted[0] >= 0x80:
            raise AssertionError("%s: subscription to %r refused: %s" % (self.client_id, topic_filter, granted))
        return granted

    def disconnect(self, timeout=TIMEOUT, with_will=False):
        """A normal DISCONNECT (reason 0, or 0x04 'with will message'); waits until paho
        reports the connection gone."""
        if with_will:
            self.client.disconnect(reasoncode=ReasonCodes(PacketTypes.DISCONNECT, identifier=0x04))
        else:
            self.client.disconnect()
        if not self.disconnected.wait(timeout):
            raise AssertionError("%s: not disconnected within %.1fs" % (self.client_id, timeout))
        self.client.loop_stop()
        self._loop_started = False

    def drop(self):
        """Closes the socket without DISCONNECT (an abnormal disconnection)."""
        if self._loop_started:
            self.client.loop_stop()
            self._loop_started = False
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def close(self):
        if not self._loop_started:  # never connected, disconnected or dropped
            return
        try:
            if self.client.is_connected():
                self.client.disconnect()
                self.disconnected.wait(TIMEOUT)
        finally:
            if self._loop_started:
                self.client.loop_stop()
                self._loop_started = False

    # ------------------------------------------------------------------ requests
    def send(self, payload, ts=UNSET, ft=None, qos=1, response_topic=UNSET, correlation=UNSET,
             content_type=CONTENT_TYPE, extra_properties=(), topic=REQUEST_TOPIC, timeout=TIMEOUT, wait_ack=True):
        """Publishes one request (without waiting for the reply). ts: UNSET = next HLC value,
        None = no __ts, str = that value. response_topic / correlation: UNSET = the default,
        None = omitted. wait_ack: wait for the PUBACK/PUBCOMP. Returns (correlation, __ts sent)."""
        if ts is UNSET:
            ts = self.hlc.next()
        if response_topic is UNSET:
            response_topic = self.response_topic
        if correlation is UNSET:
            correlation = os.urandom(16)
        p = Properties(PacketTypes.PUBLISH)
        if response_topic is not None:
            p.ResponseTopic = response_topic
        if correlation is not None:
            p.CorrelationData = correlation
        if content_type is not None:
            p.ContentType = content_type
        p.PayloadFormatIndicator = 0
        up = [("__srcId", self.client_id)]
        if ts is not None:
            up.append(("__ts", ts))
        up.append(("__protVer", "1.0"))
        if ft is not None:
            up.append(("__ft", ft))
        up += list(extra_properties)
        p.UserProperty = up
        info = self.client.publish(topic, payload, qos, properties=p)
        if qos > 0 and wait_ack:
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise AssertionError("%s: request not acknowledged within %.1fs" % (self.client_id, timeout))
        return correlation, ts

    def wait_reply(self, correlation, timeout=TIMEOUT):
        with self._cv:
            if not self._cv.wait_for(lambda: correlation in self._replies, timeout):
                raise AssertionError("%s: no reply for correlation %s within %.1fs"
                                     % (self.client_id, correlation.hex(), timeout))
            return self._replies[correlation][0]

    def replies_for(self, correlation):
        """Every copy of the reply received so far for `correlation`."""
        with self._cv:
            return list(self._replies.get(correlation, []))

    def invoke(self, payload, timeout=TIMEOUT, **kw):
        """Sends a request and returns its Reply (payload, props dict, content_type ...)."""
        correlation, ts = self.send(payload, timeout=timeout, **kw)
        r = self.wait_reply(correlation, timeout)
        r.request_ts = ts
        return r

    def set(self, key, value, nx=False, nex=False, px=None, **kw):
        return self.invoke(set_request(key, value, nx=nx, nex=nex, px=px), **kw)

    def get(self, key, **kw):
        return self.invoke(resp_array(b"GET", key), **kw)

    def delete(self, key, **kw):
        return self.invoke(resp_array(b"DEL", key), **kw)

    def vdel(self, key, value, **kw):
        return self.invoke(resp_array(b"VDEL", key, value), **kw)

    def keynotify(self, key, stop=False, **kw):
        parts = [b"KEYNOTIFY", key] + ([b"STOP"] if stop else [])
        return self.invoke(resp_array(*parts), **kw)

    def barrier(self, timeout=TIMEOUT):
        """A round trip through the store. Everything the store sent this client before it
        handled this request (notifications included) has been queued when this returns."""
        return self.get(b"\x00edgemq-test-barrier", timeout=timeout)

    # ------------------------------------------------------------------ notifications
    def next_notification(self, timeout=TIMEOUT):
        try:
            return self.notifications.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("%s: no notification within %.1fs" % (self.client_id, timeout)) from None

    def drain_notifications(self):
        out = []
        while True:
            try:
                out.append(self.notifications.get_nowait())
            except queue.Empty:
                return out


# ----------------------------------------------------------------------------- unittest
class StateStoreTestMixin:
    """Client creation and the reply-envelope checks shared by the state store tests."""

    def ss_client(self, **kw):
        c = self.track(StateStoreClient(self.host, self.port, **kw))
        c.connect()
        return c

    def key(self, stem="k"):
        return self.unique(stem).encode()

    def assertEnvelope(self, r, sent_correlation=None):
        """What every reply must carry for SDK clients to accept it (1.2)."""
        self.assertEqual(r.props.get("__stat"), "200", "reply without __stat=200: %r" % r)
        self.assertIn(r.content_type, (None, CONTENT_TYPE), "content type must be absent or %s" % CONTENT_TYPE)
        self.assertEqual(r.qos, 1, "replies are QoS 1")
        if sent_correlation is not None:
            self.assertEqual(r.correlation, sent_correlation)
        if "__protVer" in r.props:
            self.assertEqual(r.props["__protVer"].split(".")[0], "1")
        if r.ts is not None:
            parse_hlc(r.ts)  # must be a 3-part HLC, node id without ':'

    def assertReply(self, r, payload, ts="any"):
        """payload exactly; ts: 'any' (not checked), True (present), False (absent),
        'newer' (present and greater than the request's __ts)."""
        self.assertEnvelope(r)
        self.assertEqual(r.payload, payload)
        if ts is True:
            self.assertIsNotNone(r.ts, "reply %r lacks __ts" % r.payload)
        elif ts is False:
            self.assertIsNone(r.ts, "reply %r must not carry __ts" % r.payload)
        elif ts == "newer":
            self.assertIsNotNone(r.ts, "reply %r lacks __ts" % r.payload)
            self.assertGreater(hlc_key(r.ts), hlc_key(r.request_ts),
                               "returned version %s is not greater than the request's __ts %s" % (r.ts, r.request_ts))
        return r


# ----------------------------------------------------------------------------- daemon
def make_daemon(data_dir, config=None, **kw):
    """An EdgemqDaemon whose --data-dir is `data_dir` (kept across stop/start; the caller
    removes it). Each start() makes a fresh temp dir for the config file only."""
    return EdgemqDaemon(config=config, data_dir=data_dir, **kw)


# ----------------------------------------------------------------------------- lock worker
def lock_worker(argv):
    """A leased-lock client: N times acquire `SET lock holder NEX PX lease` (waiting for the
    DELETE notification after :-1, KEYNOTIFY registered first), GET counter, SET counter+1
    with __ft = lock token, release with VDEL lock holder. Prints 'ready' once connected and
    waits for a line on stdin before starting; prints one JSON summary line at the end."""
    ap = argparse.ArgumentParser(prog="lock-worker")
    ap.add_argument("--host", default=HOST)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--holder", required=True)
    ap.add_argument("--lock", required=True)
    ap.add_argument("--counter", required=True)
    ap.add_argument("--iterations", type=int, required=True)
    ap.add_argument("--lease-ms", type=int, default=2000)
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args(argv)
    deadline = time.monotonic() + a.timeout
    c = StateStoreClient(a.host, a.port, client_id=a.holder)
    out = {"holder": a.holder, "writes": [], "waits": 0, "retries": 0, "errors": []}
    try:
        c.connect()
        r = c.keynotify(a.lock)
        if r.payload != OK:
            raise RuntimeError("KEYNOTIFY: %r" % r.payload)
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(a.iterations):
            while True:
                if time.monotonic() > deadline:
                    raise RuntimeError("gave up acquiring the lock")
                c.drain_notifications()  # older DELETEs are no reason to retry
                r = c.set(a.lock, a.holder, nex=True, px=a.lease_ms)
                if r.payload == OK:
                    token = r.ts
                    if token is None:
                        raise RuntimeError("lock acquired without __ts")
                    break
                if r.payload != NOT_APPLIED:
                    raise RuntimeError("acquire: unexpected %r" % r.payload)
                out["waits"] += 1
                while True:  # until a DELETE (release or expiry) of the lock
                    try:
                        n = c.notifications.get(timeout=max(0.05, deadline - time.monotonic()))
                    except queue.Empty:
                        raise RuntimeError("no DELETE notification for the lock")
                    if n.payload == NOTIFY_DELETE:
                        break
                out["retries"] += 1
            g = c.get(a.counter)
            if g.payload == NIL:
                value = 0
            else:
                value = int(g.payload.split(b"\r\n")[1])
            s = c.set(a.counter, str(value + 1), ft=token)
            if s.payload != OK:
                out["errors"].append("write %d: %r" % (value + 1, s.payload))
            else:
                out["writes"].append([value + 1, token, s.ts])
            v = c.vdel(a.lock, a.holder)
            if v.payload != integer(1):
                out["errors"].append("release: %r" % v.payload)
    except Exception as e:  # reported to the test, which fails on it
        out["errors"].append("%s: %s" % (type(e).__name__, e))
    finally:
        try:
            c.close()
        except Exception:
            pass
    print(json.dumps(out), flush=True)
    return 0 if not out["errors"] else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "lock-worker":
        sys.exit(lock_worker(sys.argv[2:]))
    print("usage: python3 -m support.statestore_client lock-worker --port P --holder H --lock L --counter C "
          "--iterations N", file=sys.stderr)
    sys.exit(2)
