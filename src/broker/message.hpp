// An application message as routed by the broker: immutable once published, shared by every
// subscriber it is delivered to (one payload buffer, however large the fan-out).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "edgemq/mqtt/packet.hpp"

namespace edgemq::broker {

using clock = std::chrono::steady_clock;

struct message {
  std::string topic;
  std::string payload;
  mqtt::qos qos = mqtt::qos::at_most_once;
  bool retain = false;
  // Properties forwarded to subscribers (topic alias and subscription identifiers removed).
  mqtt::properties props;
  std::string origin_client_id;
};

using message_ptr = std::shared_ptr<const message>;

// One message on its way to one session, with the QoS and retain flag it is delivered with.
struct delivery {
  message_ptr msg;
  mqtt::qos qos = mqtt::qos::at_most_once;
  bool retain = false;
  std::vector<std::uint32_t> subscription_ids;
};

}  // namespace edgemq::broker
