// An application message as routed by the broker: immutable once published, shared by every
// subscriber it is delivered to (one payload buffer, however large the fan-out).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgemq/mqtt/packet.hpp"

namespace edgemq::broker {

using clock = std::chrono::steady_clock;

// A message's properties, on the heap only when there are any: most messages carry none, and an
// empty mqtt::properties is ~500 bytes (a million retained messages would hold half a gigabyte
// of them). Reads see an empty value when there are none.
class message_props {
 public:
  message_props() = default;
  message_props(const message_props& o) : p_(o.p_ ? std::make_unique<mqtt::properties>(*o.p_) : nullptr) {}
  message_props& operator=(const message_props& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<mqtt::properties>(*o.p_) : nullptr;
    return *this;
  }
  message_props(message_props&&) noexcept = default;
  message_props& operator=(message_props&&) noexcept = default;
  message_props& operator=(mqtt::properties v) {
    p_ = std::make_unique<mqtt::properties>(std::move(v));
    return *this;
  }

  const mqtt::properties& get() const noexcept { return p_ ? *p_ : none(); }
  const mqtt::properties* operator->() const noexcept { return &get(); }
  mqtt::properties& mut() {
    if (!p_) p_ = std::make_unique<mqtt::properties>();
    return *p_;
  }
  // Null when there are none (the encoder then skips them).
  const mqtt::properties* ptr() const noexcept { return p_.get(); }
  void reset() noexcept { p_.reset(); }

 private:
  static const mqtt::properties& none() noexcept {
    static const mqtt::properties empty{};
    return empty;
  }
  std::unique_ptr<mqtt::properties> p_;
};

struct message {
  std::string topic;
  std::string payload;
  mqtt::qos qos = mqtt::qos::at_most_once;
  bool retain = false;
  // Properties forwarded to subscribers (topic alias and subscription identifiers removed).
  message_props props;
  std::string origin_client_id;
  // From the Message Expiry Interval at publish time; never delivered after it (MQTT-3.3.2-5).
  std::optional<clock::time_point> expires_at;

  bool expired(clock::time_point now) const noexcept { return expires_at && *expires_at <= now; }
  // Whole seconds left, rounded up, for the forwarded Message Expiry Interval (MQTT-3.3.2-6).
  std::optional<std::uint32_t> remaining_expiry(clock::time_point now) const noexcept {
    if (!expires_at) return std::nullopt;
    const auto left = std::chrono::ceil<std::chrono::seconds>(*expires_at - now).count();
    return static_cast<std::uint32_t>(left < 1 ? 1 : left);
  }
};

struct share_group;

using message_ptr = std::shared_ptr<const message>;

// One message on its way to one session, with the QoS and retain flag it is delivered with.
struct delivery {
  message_ptr msg;
  mqtt::qos qos = mqtt::qos::at_most_once;
  bool retain = false;
  std::vector<std::uint32_t> subscription_ids;
  // Set when delivered through a shared subscription: if this session goes away before the
  // message is acknowledged, it goes to another member of the group.
  std::shared_ptr<share_group> share;
  // Its record in the durable store (0: not persisted: QoS 0, or a session without expiry).
  std::uint64_t seq = 0;
};

}  // namespace edgemq::broker
