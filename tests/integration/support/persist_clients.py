"""Clients for the persistence tests: a paho wrapper with MQTT 5 subscription options and
publish properties, a publisher that records exactly which of its messages the broker
acknowledged, and the launcher of the kill-point process.

All waiting is on events/queues with timeouts.
"""

import os
import queue
import struct
import subprocess
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from support.constants import READY_TIMEOUT, STOP_TIMEOUT
from support.edgemq_harness import _LineCollector
from support.paho_helper import TIMEOUT, PahoClient, Received, close_paho

KILLER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "persistence_killer.py")


# ----------------------------------------------------------------------------- subscriber side
class PersistClient(PahoClient):
    """PahoClient plus subscription options / identifiers, publish properties and the DUP flag
    of received messages (Received.dup)."""

    def _on_message(self, client, userdata, msg):
        r = Received(msg)
        r.dup = bool(msg.dup)
        self.messages.put(r)

    def subscribe_opts(self, topic, qos=0, sub_id=None, no_local=False, retain_as_published=False,
                       retain_handling=0, timeout=TIMEOUT):
        """SUBSCRIBE one filter with MQTT 5 options (and Subscription Identifier); plain QoS for
        v3.1.1. Waits for the SUBACK and returns the granted codes as ints."""
        if not self.v5:
            return self.subscribe(topic, qos, timeout)
        opts = mqtt.SubscribeOptions(qos=qos, noLocal=no_local, retainAsPublished=retain_as_published,
                                     retainHandling=retain_handling)
        props = None
        if sub_id is not None:
            props = Properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = sub_id
        return self.subscribe(topic, qos, timeout, options=opts, properties=props)

    def publish_props(self, topic, payload, qos=0, retain=False, user_properties=None, message_expiry=None,
                      content_type=None, payload_format=None, timeout=TIMEOUT):
        """PUBLISH with MQTT 5 properties; waits for completion (PUBACK/PUBCOMP) for QoS 1/2."""
        props = None
        if self.v5 and (user_properties or message_expiry is not None or content_type is not None
                        or payload_format is not None):
            props = Properties(PacketTypes.PUBLISH)
            if user_properties:
                props.UserProperty = list(user_properties)
            if message_expiry is not None:
                props.MessageExpiryInterval = message_expiry
            if content_type is not None:
                props.ContentType = content_type
            if payload_format is not None:
                props.PayloadFormatIndicator = payload_format
        return self.publish(topic, payload, qos, retain, timeout, properties=props)


def prop(received, name, default=None):
    """A property of a Received message (None/default when absent or v3.1.1)."""
    p = received.properties
    if p is None:
        return default
    return getattr(p, name, default)


# ----------------------------------------------------------------------------- publisher side
class _TrackingMqttClient(mqtt.Client):
    """paho 1.6.1 Client that reports every PUBACK / PUBREC / PUBCOMP it reads (packet id and
    reason code) before paho handles it. PUBREC is not visible through paho's public API, and
    on_publish fires for a v5 PUBACK even when its reason code is an error."""

    edgemq_tracker = None

    def _edgemq_note(self, kind):
        t = self.edgemq_tracker
        if t is None:
            return
        try:
            pkt = self._in_packet["packet"]
            mid = struct.unpack("!H", pkt[:2])[0]
            reason = pkt[2] if len(pkt) > 2 else 0
        except Exception:  # unexpected paho internals: fall back to on_publish only
            t.hooks_ok = False
            return
        t._note(kind, mid, reason)

    def _handle_pubackcomp(self, cmd):
        self._edgemq_note(cmd)
        return super()._handle_pubackcomp(cmd)

    def _handle_pubrec(self):
        self._edgemq_note("PUBREC")
        return super()._handle_pubrec()


class TrackingPublisher:
    """A paho publisher that publishes without waiting and records which messages the broker
    acknowledged: QoS 1 when on_publish fired for it (PUBACK) with a success reason code, QoS 2
    as soon as a successful PUBREC arrived (the broker's acknowledgement; PUBCOMP, i.e.
    on_publish, implies it)."""

    def __init__(self, host, port, client_id, version=5, max_inflight=32):
        self.client_id = client_id
        self.version = version
        proto = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        kw = dict(client_id=client_id, protocol=proto, reconnect_on_failure=False)
        if version != 5:
            kw["clean_session"] = True
        self.client = _TrackingMqttClient(**kw)
        self.client.edgemq_tracker = self
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self.host, self.port = host, port
        self.hooks_ok = True
        self._lock = threading.Lock()  # never held while calling into paho (paho calls us under its locks)
        self._cond = threading.Condition(self._lock)
        self.sent = {}  # mid -> (qos, payload)
        self.completed = set()  # mids for which on_publish fired
        self.acks = {}  # (kind, mid) -> reason code
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack_rc = None
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self.connack_rc = rc.value if hasattr(rc, "value") else rc
        self.connected.set()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        self.disconnected.set()

    def _on_publish(self, client, userdata, mid):
        with self._cond:
            self.completed.add(mid)
            self._cond.notify_all()

    def wait_completed(self, count, timeout):
        """Wait until on_publish fired for `count` messages. Returns whether it did."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.completed) >= count, timeout)

    def _note(self, kind, mid, reason):
        with self._lock:
            self.acks.setdefault((kind, mid), reason)

    def connect(self, timeout=TIMEOUT):
        if self.version == 5:
            self.client.connect(self.host, self.port, 60, clean_start=True)
        else:
            self.client.connect(self.host, self.port, 60)
        self.client.loop_start()
        if not self.connected.wait(timeout) or self.connack_rc != 0:
            raise AssertionError("%s: CONNACK missing or refused (%s)" % (self.client_id, self.connack_rc))
        return self

    def publish(self, topic, payload, qos):
        """Queue one PUBLISH (never waits). Returns paho's rc."""
        info = self.client.publish(topic, payload, qos)
        with self._lock:
            self.sent[info.mid] = (qos, payload)
        return info.rc

    def acknowledged(self):
        """{payload: qos} of every message the broker acknowledged."""
        out = {}
        with self._lock:
            for mid, (qos, payload) in self.sent.items():
                if qos == 1:
                    ok = mid in self.completed and self.acks.get(("PUBACK", mid), 0) < 0x80
                elif qos == 2:
                    rec = self.acks.get(("PUBREC", mid))
                    ok = (rec is not None and rec < 0x80) or mid in self.completed
                else:
                    ok = False
                if ok:
                    out[payload] = qos
        return out

    def refused(self):
        """(kind, mid, reason) of acknowledgements carrying an error reason code."""
        with self._lock:
            return sorted((k, m, r) for (k, m), r in self.acks.items() if r >= 0x80)

    def close(self):
        close_paho(self.client, self.disconnected)


# ----------------------------------------------------------------------------- kill point
class Killer:
    """The separate process that SIGKILLs `pid` after `delay` seconds (support/persistence_killer.py)."""

    def __init__(self, pid, delay, ready_timeout=READY_TIMEOUT):
        self.pid = pid
        self.delay = delay
        self.proc = subprocess.Popen([sys.executable, KILLER, str(pid), "%.4f" % delay], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = _LineCollector(self.proc.stdout)
        self.err = _LineCollector(self.proc.stderr)
        try:
            line = self.out.queue.get(timeout=ready_timeout)
        except queue.Empty:
            line = None
        if line != "armed":
            self.abort()
            raise AssertionError("killer did not arm (got %r)\nstderr: %s" % (line, self.err.text()))

    def wait(self, timeout):
        """Wait for the killer to finish; returns its last line ("killed <s>" or "gone")."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.abort()
            raise AssertionError("killer still running after %.1fs" % timeout)
        self.out.join(2)
        self.err.join(2)
        if rc != 0:
            raise AssertionError("killer exited with %s: %s" % (rc, self.err.text()))
        lines = self.out.text().splitlines()
        return lines[-1] if lines else ""

    def abort(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
