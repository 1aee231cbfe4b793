// Broker-wide limits and feature switches; defaults live here and nowhere else.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "edgemq/mqtt/types.hpp"

namespace edgemq::broker {

struct limits {
  std::uint32_t max_packet_size = 1024 * 1024;  // whole packet, inbound and advertised
  std::uint16_t receive_maximum = 1024;         // inbound QoS 1/2 in flight per client
  std::uint16_t max_inflight = 100;             // outbound QoS 1/2 in flight per client (cap)
  std::uint16_t topic_alias_maximum = 64;       // inbound aliases per connection
  mqtt::qos maximum_qos = mqtt::qos::exactly_once;
  bool retain_available = true;
  bool wildcard_subscription_available = true;
  bool subscription_identifiers_available = true;
  bool shared_subscription_available = true;
  // Response Information for clients that request it: this prefix + the client id (MQTT 4.10).
  std::string response_information_prefix = "response/";
  std::uint16_t max_keep_alive = 0;                 // 0: accept what the client asks
  std::size_t max_queued_messages = 1000;           // per session, offline or backlogged
  std::size_t max_queued_bytes = 16 * 1024 * 1024;  // per session
  bool queue_qos0_offline = false;
  std::size_t max_output_bytes = 1024 * 1024;     // stop reading a client whose acks pile up
  std::uint32_t max_session_expiry = 0xFFFFFFFF;  // seconds
  std::chrono::milliseconds connect_timeout{10000};
  // Longer client ids are refused (CONNACK 0x85 / 0x02): ids end up in topics built from them
  // (the state store's notification topic carries the id in hex), in the store and in logs.
  std::size_t max_client_id_length = 256;
  // Lifecycle events on $edgemq/events/... (lifecycle_events.hpp); `events.enabled` in the config.
  bool lifecycle_events = true;
};

}  // namespace edgemq::broker
