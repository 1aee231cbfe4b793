"""Routing between the nodes of a cluster over NATS (docs/cluster.md "Routing between nodes", ADR 0028).

Three edgemq nodes over three nats-server (and three etcd) on loopback, shared by the module:
a message published on one node reaches the subscribers of the others once, with its MQTT 5
properties; a node receives only what its subscribers need; a share group spread over the nodes
gets each message once in the whole cluster; retained messages are visible from every node, a
node started later included; no-local holds across nodes; a killed NATS member is survived.

Interest crosses nodes asynchronously (a NATS SUB, then the NATS route), so each test first
publishes probes until every subscriber sees one (a condition polled with a deadline), then
sends what it counts and a final marker."""

import http.client
import json
import queue
import re
import time
import unittest
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from support import openapi
from support.cluster_engines import ClusterEngines, EdgemqCluster, missing_engines
from support.edgemq_harness import EdgemqDaemon
from support.paho_helper import PahoClient

ADMIN_RE = re.compile(r"admin on http://127\.0\.0\.1:(\d+)")
ROUTE_TIMEOUT = 10.0


def admin_port(node):
    m = ADMIN_RE.search(node.ready_line)
    assert m, "no admin endpoint in the ready line: %s" % node.ready_line
    return int(m.group(1))


def admin_get(port, path, validate=True):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read().decode()
        if validate:
            openapi.validate("GET", path, r.status, r.getheader("Content-Type", ""), body)
        return r.status, body
    finally:
        conn.close()


def metric(port, name, labels=""):
    _, text = admin_get(port, "/metrics", validate=False)
    m = re.search(r"^%s%s (\d+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return int(m.group(1)) if m else None


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("not within %.0fs: %s" % (timeout, what))
        time.sleep(0.05)  # polling another process's state: there is no event to await here


@unittest.skipIf(missing_engines(), missing_engines())
class ClusterRoutingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.engines = ClusterEngines().start()
        try:
            cls.cluster = EdgemqCluster(cls.engines, extra_args=["--admin", "http://127.0.0.1:0"])
            cls.cluster.start()
            cls.nodes = cls.cluster.nodes
            cls.admin = [admin_port(n) for n in cls.nodes]
            for p in cls.admin:
                wait_for(lambda p=p: metric(p, "edgemq_cluster_nodes") == 3, 15, "every node sees three nodes")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "cluster", None):
            cls.cluster.stop()
        cls.engines.stop()

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()

    def client(self, node, **kw):
        c = PahoClient("127.0.0.1", self.nodes[node].port, **kw)
        c.connect()
        self.clients.append(c)
        return c

    def unique(self, stem):
        return "%s/%s" % (stem, uuid.uuid4().hex[:10])

    def settle(self, pub, topic, subs):
        """Publishes probes on `topic` until every subscriber in `subs` got one, then drains them."""
        got = set()
        deadline = time.monotonic() + ROUTE_TIMEOUT
        while len(got) < len(subs):
            pub.publish(topic, b"probe")
            step = time.monotonic() + 0.2
            for i, s in enumerate(subs):
                if i in got:
                    continue
                try:
                    if s.messages.get(timeout=max(0.0, step - time.monotonic())).payload == b"probe":
                        got.add(i)
                except queue.Empty:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError("subscriptions did not reach the publishing node within %.0fs" % ROUTE_TIMEOUT)
        marker = topic
        pub.publish(marker, b"settled", qos=1)
        for s in subs:
            while s.get().payload != b"settled":
                pass

    def real(self, sub, marker=None):
        """What `sub` received up to the message "end" (probes left out)."""
        out = []
        while True:
            m = sub.get()
            if m.payload == b"end":
                return out
            if m.payload not in (b"probe", b"settled"):
                out.append(m)

    def test_publish_reaches_subscribers_on_other_nodes_once_with_properties(self):
        base = self.unique("fleet")
        pub = self.client(0)
        plus = self.client(1)
        plus.subscribe(base + "/+/temp", qos=1)
        hashes = self.client(2)
        hashes.subscribe(base + "/#", qos=1)
        hashes.subscribe(base + "/+/temp", qos=1)  # overlaps: still one copy per message
        self.settle(pub, base + "/probe/temp", [plus, hashes])

        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("site", "lyon"), ("site", "paris"), ("k=1", "v 2")]
        props.ContentType = "application/json"
        props.ResponseTopic = base + "/reply"
        props.CorrelationData = b"\x00\x01corr\xff"
        props.PayloadFormatIndicator = 1
        props.MessageExpiryInterval = 300
        for i in range(10):
            pub.publish(base + "/m%d/temp" % i, b"q0-%d" % i, qos=0)
            pub.publish(base + "/m%d/temp" % i, b"q1-%d" % i, qos=1, properties=props)
        pub.publish(base, b"parent", qos=1)  # `#` matches the parent level
        pub.publish(base + "/end/temp", b"end", qos=1)

        want = sorted([b"q0-%d" % i for i in range(10)] + [b"q1-%d" % i for i in range(10)])
        got_plus = self.real(plus, base + "/end/temp")
        self.assertEqual(sorted(m.payload for m in got_plus), want)
        got_hash = self.real(hashes, base + "/end/temp")
        self.assertEqual(sorted(m.payload for m in got_hash), sorted(want + [b"parent"]))
        for m in got_plus + got_hash:
            if m.payload.startswith(b"q1-"):
                self.assertEqual(m.qos, 1)
                p = m.properties
                self.assertEqual(p.UserProperty, [("site", "lyon"), ("site", "paris"), ("k=1", "v 2")])
                self.assertEqual(p.ContentType, "application/json")
                self.assertEqual(p.ResponseTopic, base + "/reply")
                self.assertEqual(p.CorrelationData, b"\x00\x01corr\xff")
                self.assertEqual(p.PayloadFormatIndicator, 1)
                self.assertTrue(0 < p.MessageExpiryInterval <= 300)
            elif m.payload.startswith(b"q0-"):
                self.assertEqual(m.qos, 0)
                self.assertFalse(hasattr(m.properties, "ContentType"))

    def test_a_node_receives_only_what_its_subscribers_need(self):
        base = self.unique("only2")
        pub = self.client(0)
        sub = self.client(1)
        sub.subscribe(base + "/#")
        self.settle(pub, base + "/x", [sub])
        in2, in3 = (metric(self.admin[i], "edgemq_cluster_messages_in_total") for i in (1, 2))
        own3 = metric(self.admin[2], "edgemq_cluster_messages_skipped_total", '{cause="own"}') or 0
        for i in range(50):
            pub.publish(base + "/x", b"%d" % i)
        pub.publish(base + "/x", b"end", qos=1)
        self.assertEqual(len(self.real(sub, base + "/x")), 50)
        self.assertGreaterEqual(metric(self.admin[1], "edgemq_cluster_messages_in_total") - in2, 51)
        # Node 3 has no subscriber there: NATS sent it nothing (not even to skip).
        self.assertEqual(metric(self.admin[2], "edgemq_cluster_messages_in_total"), in3)
        self.assertEqual(metric(self.admin[2], "edgemq_cluster_messages_skipped_total", '{cause="own"}') or 0, own3)

    def test_shared_subscription_over_three_nodes_delivers_each_message_once(self):
        base = self.unique("jobs")
        group = "$share/w%s/%s/#" % (uuid.uuid4().hex[:6], base)
        members = [self.client(i) for i in range(3)]
        for m in members:
            m.subscribe(group, qos=1)
        pub = self.client(0)
        watcher = self.client(2)  # a plain subscriber: tells when the share groups are in place too
        watcher.subscribe(base + "/#", qos=1)
        # Every node's queue subscription must exist before counting: the metric says the node
        # made it; probes then show the route carries it.
        for p in self.admin:
            wait_for(lambda p=p: (metric(p, "edgemq_cluster_nats_subscriptions") or 0) >= 2, 10, "queue subscriptions")
        self.settle(pub, base + "/probe", [watcher])
        for m in members:
            m.drain()
        n = 60
        for i in range(n):
            pub.publish(base + "/job", b"job-%d" % i, qos=1)
        pub.publish(base + "/probe", b"end", qos=1)
        self.real(watcher)
        # Each member drains what it got; the total must be exactly n, each job once.
        got = []
        deadline = time.monotonic() + ROUTE_TIMEOUT
        while len(got) < n and time.monotonic() < deadline:
            for m in members:
                for r in m.drain():
                    if r.payload.startswith(b"job-"):
                        got.append(r.payload)
            time.sleep(0.05)  # the members' own sockets: nothing to await in common
        time.sleep(0.5)  # a duplicate would arrive right after: give it the chance to show
        for m in members:
            got += [r.payload for r in m.drain() if r.payload.startswith(b"job-")]
        self.assertEqual(sorted(got), sorted(b"job-%d" % i for i in range(n)))

    def test_retained_messages_are_visible_from_every_node_and_a_later_node(self):
        topic = self.unique("config")
        pub = self.client(0)
        pub.publish(topic, b"retained-v1", qos=1, retain=True)
        for i in (1, 2):
            wait_for(lambda i=i: topic in admin_get(self.admin[i], "/api/v1/retained?filter=" + topic,
                                                    validate=False)[1], ROUTE_TIMEOUT, "retained on node%d" % (i + 1))
            s = self.client(i)
            s.subscribe(topic, qos=1)
            m = s.get()
            self.assertEqual((m.payload, m.retain), (b"retained-v1", True))
        late = EdgemqDaemon(extra_args=self.engines.node_args("node4", 0))
        late.start()
        try:
            c = PahoClient("127.0.0.1", late.port)
            c.connect()
            try:
                deadline = time.monotonic() + ROUTE_TIMEOUT
                while True:  # the catch-up runs once node4 has connected to NATS
                    c.subscribe(topic, qos=1)
                    try:
                        m = c.get(timeout=0.5)
                        break
                    except AssertionError:
                        c.unsubscribe(topic)
                        if time.monotonic() > deadline:
                            raise
                self.assertEqual((m.payload, m.retain), (b"retained-v1", True))
            finally:
                c.close()
        finally:
            late.stop()

    def test_no_local_holds_across_nodes(self):
        topic = self.unique("chat")
        w = self.client(0)
        x = self.client(1)
        x.subscribe(topic, options=mqtt.SubscribeOptions(qos=1, noLocal=True))
        y = self.client(1)
        y.subscribe(topic, qos=1)
        z = self.client(2)
        z.subscribe(topic, qos=1)
        self.settle(w, topic, [x, y, z])
        for i in range(5):
            x.publish(topic, b"from-x-%d" % i, qos=1)
        x.publish(topic, b"end", qos=1)  # the marker from x too: messages of one publisher stay in order
        self.assertEqual([m.payload for m in self.real(y, topic)], [b"from-x-%d" % i for i in range(5)])
        self.assertEqual([m.payload for m in self.real(z, topic)], [b"from-x-%d" % i for i in range(5)])
        w.publish(topic, b"end", qos=1)
        self.assertEqual(self.real(x, topic), [])  # not its own, not back through NATS either

    def test_status_readiness_and_node_list(self):
        for i, p in enumerate(self.admin):
            code, body = admin_get(p, "/readyz")
            self.assertEqual(code, 200, body)
            self.assertTrue(json.loads(body)["checks"]["cluster"])
            code, body = admin_get(p, "/api/v1/cluster")
            self.assertEqual(code, 200, body)
            st = json.loads(body)
            self.assertEqual(st["node"], "node%d" % (i + 1))
            self.assertTrue(st["nats_connected"])
            self.assertEqual(sorted(n["name"] for n in st["nodes"] if n["up"]), ["node1", "node2", "node3"])
            self.assertEqual(metric(p, "edgemq_cluster_nats_connected"), 1)

    def test_z_nats_member_killed_nodes_reconnect_and_routing_resumes(self):
        # Last (alphabetical order): it takes node1's first NATS server away, then brings it back.
        topic = self.unique("survive")
        pub = self.client(0)
        sub = self.client(2)
        sub.subscribe(topic, qos=1)
        self.settle(pub, topic, [sub])
        reconnects = metric(self.admin[0], "edgemq_cluster_nats_reconnects_total")
        self.engines.kill_nats(0)
        try:
            wait_for(lambda: metric(self.admin[0], "edgemq_cluster_nats_reconnects_total") > reconnects, 15,
                     "node1 reconnects to another NATS server")
            self.settle(pub, topic, [sub])  # routing resumes (probes until one crosses)
            for i in range(20):
                pub.publish(topic, b"after-%d" % i, qos=1)
            pub.publish(topic, b"end", qos=1)
            self.assertEqual([m.payload for m in self.real(sub, topic)], [b"after-%d" % i for i in range(20)])
        finally:
            self.engines.restart_nats(0)


if __name__ == "__main__":
    unittest.main()
