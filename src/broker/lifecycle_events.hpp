// Lifecycle events as messages (docs/dataflows.md, "Lifecycle events"): the broker publishes a
// JSON message when a client connects, disconnects, subscribes or unsubscribes, and when a session
// expires, on reserved topics under $edgemq/events/ that clients may subscribe to (their
// authorization policy permitting) but never publish to. Dataflows route them like telemetry.
//
// Cheap when nobody listens: each event first asks the subscription index whether any filter
// matches its topic and builds nothing when none does. Nothing here is on the publish path.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgemq/mqtt/types.hpp"

namespace edgemq::broker {

class broker;

// The root of the events; filters rooted here are the only ones under $edgemq a client may use.
constexpr std::string_view events_prefix = "$edgemq/events";

// True when `filter` (without any $share/<group>/ prefix) is "$edgemq/events" or below it.
bool events_filter(std::string_view filter);

// A client id as one topic level: '%', '/', '+' and '#' are percent-encoded (%25, %2F, %2B, %23)
// so that an id cannot add levels or wildcards to the event's topic.
std::string event_topic_level(std::string_view client_id);

// Who an event is about, as the connection knows it.
struct event_client {
  std::string_view client_id;
  const std::optional<std::string>* username = nullptr;  // only a vouched-for one (principal)
  std::string_view listener;                             // the listener's name ("mqtt://127.0.0.1:1883")
  mqtt::protocol_version version = mqtt::protocol_version::v5;
};

struct event_filter {
  std::string_view filter;
  mqtt::reason_code code;  // SUBACK / UNSUBACK code (granted QoS, or why not)
};

class lifecycle_events {
 public:
  explicit lifecycle_events(broker& b) : broker_(b) {}

  void connected(const event_client& c, bool clean_start, bool session_present);
  // `code`: the DISCONNECT's reason code, or the one the broker closed with; nullopt when the
  // connection just ended (socket closed, no DISCONNECT). `reason`: the same in words.
  void disconnected(const event_client& c, std::optional<mqtt::reason_code> code, std::string_view reason);
  void subscribed(const event_client& c, const std::vector<event_filter>& filters);
  void unsubscribed(const event_client& c, const std::vector<event_filter>& filters);
  void session_expired(std::string_view client_id);

  // Events published since start (counted only when someone listened).
  std::uint64_t published() const noexcept { return published_.load(std::memory_order_relaxed); }

 private:
  bool on() const;
  // The topic of an event about `client_id` if anyone listens, else empty (then nothing is built).
  std::string listened_topic(std::string_view kind, std::string_view client_id) const;
  void emit(std::string topic, std::string payload);

  broker& broker_;
  std::atomic<std::uint64_t> published_{0};
};

}  // namespace edgemq::broker
