"""Helpers for edgemq's integration tests: the daemon harness, a raw MQTT codec and a
paho-mqtt wrapper. Tests synchronise on events and packets with timeouts, never on sleeps."""
