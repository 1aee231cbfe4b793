"""paho-mqtt (1.6.1, v1 callback API) wrapped so tests wait on events and queues with
timeouts instead of sleeping."""

import itertools
import queue
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from support.constants import CLIENT_TIMEOUT

TIMEOUT = CLIENT_TIMEOUT
_ids = itertools.count(1)


def close_paho(client, disconnected):
    """DISCONNECT if still connected, wait for on_disconnect (`disconnected`, an Event), and
    stop the network loop whatever happens."""
    try:
        if client.is_connected():
            client.disconnect()
            disconnected.wait(TIMEOUT)
    finally:
        client.loop_stop()


class Received:
    def __init__(self, msg):
        self.topic = msg.topic
        self.payload = bytes(msg.payload)
        self.qos = msg.qos
        self.retain = bool(msg.retain)
        self.mid = msg.mid
        self.properties = getattr(msg, "properties", None)

    def __repr__(self):
        return "<msg %s qos=%d retain=%s %r>" % (self.topic, self.qos, self.retain, self.payload)


class PahoClient:
    """One paho client with its network loop in a thread. Never reconnects by itself."""

    def __init__(self, host, port, client_id=None, version=5, clean=True, keepalive=60, session_expiry=None,
                 will=None, transport="tcp"):
        self.host, self.port = host, port
        self.version = version
        self.v5 = version == 5
        if client_id is None:
            client_id = "paho-%d-%s" % (next(_ids), uuid.uuid4().hex[:8])
        self.client_id = client_id
        self.clean = clean
        self.keepalive = keepalive
        self.session_expiry = session_expiry
        proto = mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311
        kwargs = dict(client_id=client_id, protocol=proto, reconnect_on_failure=False, transport=transport)
        if not self.v5:
            kwargs["clean_session"] = clean
        self.client = mqtt.Client(**kwargs)
        if will is not None:
            self.client.will_set(will["topic"], will.get("payload", b""), will.get("qos", 0), will.get("retain", False))
        self.messages = queue.Queue()
        self.subacks = {}
        self.unsubacks = {}
        self.connected = threading.Event()
        self.connack = None
        self.disconnected = threading.Event()
        self.disconnect_rc = None
        self._lock = threading.Condition()
        c = self.client
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.on_unsubscribe = self._on_unsubscribe
        c.on_disconnect = self._on_disconnect

    # ----------------------------------------------------------------- callbacks
    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self.connack = {"flags": flags, "rc": rc, "properties": properties}
        self.connected.set()

    def _on_message(self, client, userdata, msg):
        self.messages.put(Received(msg))

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        with self._lock:
            self.subacks[mid] = granted
            self._lock.notify_all()

    def _on_unsubscribe(self, client, userdata, mid, *rest):
        with self._lock:
            self.unsubacks[mid] = rest
            self._lock.notify_all()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        self.disconnect_rc = rc
        self.disconnected.set()

    # ----------------------------------------------------------------- actions
    def connect(self, timeout=TIMEOUT, expect_success=True):
        self.connected.clear()
        if self.v5:
            props = None
            if self.session_expiry is not None:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = self.session_expiry
            self.client.connect(self.host, self.port, self.keepalive, clean_start=self.clean, properties=props)
        else:
            self.client.connect(self.host, self.port, self.keepalive)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            raise AssertionError("%s: no CONNACK within %.1fs" % (self.client_id, timeout))
        if expect_success:
            rc = self.connack["rc"]
            if (rc.value if hasattr(rc, "value") else rc) != 0:
                raise AssertionError("%s: CONNACK refused: %s" % (self.client_id, rc))
        return self.connack

    @property
    def session_present(self):
        return bool(self.connack["flags"].get("session present"))

    def subscribe(self, topic, qos=0, timeout=TIMEOUT, options=None, properties=None):
        """Subscribe and wait for SUBACK; returns the list of granted QoS / reason codes as ints.
        MQTT 5: `options` (SubscribeOptions, default: just `qos`) and `properties` may be given."""
        if self.v5:
            opts = options if options is not None else mqtt.SubscribeOptions(qos=qos)
            rc, mid = self.client.subscribe(topic, options=opts, properties=properties)
        else:
            rc, mid = self.client.subscribe(topic, qos)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError("subscribe(%r) failed locally: %s" % (topic, rc))
        with self._lock:
            if not self._lock.wait_for(lambda: mid in self.subacks, timeout):
                raise AssertionError("%s: no SUBACK for %r within %.1fs" % (self.client_id, topic, timeout))
            granted = self.subacks.pop(mid)
        return [g.value if hasattr(g, "value") else g for g in granted]

    def unsubscribe(self, topic, timeout=TIMEOUT):
        rc, mid = self.client.unsubscribe(topic)
        with self._lock:
            if not self._lock.wait_for(lambda: mid in self.unsubacks, timeout):
                raise AssertionError("%s: no UNSUBACK for %r" % (self.client_id, topic))
            return self.unsubacks.pop(mid)

    def publish(self, topic, payload, qos=0, retain=False, timeout=TIMEOUT, properties=None):
        """Publish and wait until paho considers it complete (PUBACK/PUBCOMP for QoS 1/2)."""
        info = self.client.publish(topic, payload, qos, retain, properties=properties)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise AssertionError("%s: publish to %r (QoS %d) not completed within %.1fs" % (self.client_id, topic, qos,
                                                                                           timeout))
        return info

    def get(self, timeout=TIMEOUT):
        """The next received message (AssertionError on timeout)."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("%s: no message within %.1fs" % (self.client_id, timeout)) from None

    def collect_until(self, topic, timeout=TIMEOUT):
        """Every message received up to and including the first one on `topic` (a marker).

        Beware: paho hands an incoming QoS 2 message to on_message only when its PUBREL
        arrives, so a QoS 0/1 marker can overtake QoS 2 messages sent before it. When QoS 2
        deliveries are involved, subscribe to and publish the marker at QoS 2 as well."""
        out = []
        while True:
            m = self.get(timeout)
            out.append(m)
            if m.topic == topic:
                return out

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def disconnect(self, timeout=TIMEOUT):
        self.client.disconnect()
        self.disconnected.wait(timeout)
        self.client.loop_stop()

    def close(self):
        close_paho(self.client, self.disconnected)

    def drop(self):
        """Close the socket without DISCONNECT (an abnormal disconnection)."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()
