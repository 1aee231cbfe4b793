"""MQTT 5.0 section 3.1.3.2.2: Will Delay Interval.

BEING IMPLEMENTED: these tests describe work in progress (today the Will Delay Interval is
treated as 0) and are expected to fail until it lands.

All scenarios run at once from setUpClass: four clients with wills connect, their connections
are dropped together, one of them reconnects at once; a watcher subscribed to every will
topic records when each will arrives, for WINDOW seconds, and a marker published afterwards
closes the record. The tests then check the record. (The window is the delays themselves.)

Statements checked (wording from the OASIS MQTT Version 5.0 standard):

[MQTT-3.1.2-8] The Will Message MUST be published after the Network Connection is
    subsequently closed and either the Will Delay Interval has elapsed or the Session ends,
    unless the Will Message has been deleted by the Server on receipt of a DISCONNECT packet
    with Reason Code 0x00 (Normal disconnection) or a new Network Connection for the ClientID
    is opened before the Will Delay Interval has elapsed.
[MQTT-3.1.3-9] If a new Network Connection to this Session is made before the Will Delay
    Interval has passed, the Server MUST NOT send the Will Message.
"""

import time
import unittest

from _support import ScenarioCase, Client, PUBLISH, P_SESSION_EXPIRY, P_WILL_DELAY, raw

WINDOW = 3.0


class WillDelayTest(ScenarioCase):
    config = {"mqtt": {"connect_timeout_ms": 300}}

    @classmethod
    def _scenario(cls):
        base = "wd-%d" % cls.port
        cls.base = base
        watcher = cls._client(base + "-watcher")
        watcher.subscribe([(base + "/#", 1)])
        scenarios = {
            # name: (will delay, session expiry, reconnect at once)
            "reconnected": (2, 60, True),
            "delay-elapsed": (1, 60, False),
            "session-ends-first": (30, 1, False),
            "no-session": (5, 0, False),
        }
        clients = {}
        for name, (delay, expiry, _) in scenarios.items():
            will = {"topic": base + "/" + name, "payload": name.encode(), "qos": 1,
                    "properties": [(P_WILL_DELAY, delay)]}
            clients[name] = cls._client(base + "-" + name, will=will, properties=[(P_SESSION_EXPIRY, expiry)])
        t0 = time.monotonic()
        for c in clients.values():
            c.close()
        for name, (_, expiry, reconnect) in scenarios.items():
            if reconnect:
                c = cls._client(base + "-" + name, clean=False, properties=[(P_SESSION_EXPIRY, expiry)])
        cls.arrivals = {}
        while time.monotonic() - t0 < WINDOW:
            try:
                p = watcher.recv(timeout=max(0.01, WINDOW - (time.monotonic() - t0)))
            except TimeoutError:
                break
            if p.type == PUBLISH:
                watcher.ack(p)
                cls.arrivals.setdefault(p.payload.decode(), []).append(time.monotonic() - t0)
        marker = cls._client(base + "-marker")
        marker.publish(base + "/marker", b"marker", qos=1)
        for p in watcher.until_payload(b"marker"):
            if p.type == PUBLISH:
                cls.arrivals.setdefault(p.payload.decode(), []).append(time.monotonic() - t0)

    def test_MQTT_3_1_3_9_no_will_after_reconnecting_within_the_delay(self):
        self.assertNotIn("reconnected", self.arrivals, "will sent although the client came back within the delay")

    def test_MQTT_3_1_2_8_will_published_after_the_delay(self):
        times = self.arrivals.get("delay-elapsed")
        self.assertIsNotNone(times, "will with a 1 s delay not published within %.1fs" % WINDOW)
        self.assertEqual(len(times), 1)
        self.assertGreaterEqual(times[0], 0.9, "will published %.2fs after the close, before its 1 s delay" % times[0])

    def test_MQTT_3_1_2_8_will_published_when_the_session_ends_first(self):
        times = self.arrivals.get("session-ends-first")
        self.assertIsNotNone(times, "session expiring after 1 s did not publish its will (delay 30 s)")
        self.assertEqual(len(times), 1)
        self.assertGreaterEqual(times[0], 0.9, "published %.2fs after the close, before the session ended" % times[0])

    def test_MQTT_3_1_2_8_will_published_at_once_when_the_session_ends_with_the_connection(self):
        times = self.arrivals.get("no-session")
        self.assertIsNotNone(times, "will not published")
        self.assertLess(times[0], 1.0, "published %.2fs after the close" % times[0])


if __name__ == "__main__":
    unittest.main()
