// Services behind reserved topics (the state store, later $CONTROL-style services): a PUBLISH
// to a registered topic is handed to its service instead of being routed (architecture
// principle 9). Registered at start-up, read-only afterwards, so lookups take no lock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/authorizer.hpp"
#include "edgemq/mqtt/packet.hpp"

namespace edgemq::broker {

struct publish_context {
  std::string_view client_id;
  std::uint64_t connection_id;  // unique per network connection
  mqtt::protocol_version version;
  // The client's authorization (null: no policy on its listener), handed to the service so it
  // can check what the request touches (state store keys) on its own thread, without a lookup.
  std::shared_ptr<const client_permissions> permissions;
  // Set by a service that only annotates messages (the IoT Hub telemetry's property bag, a
  // prefix service): the channel then routes the message, as the service left it, as usual
  // (retained, durable, acknowledged once stored) instead of acknowledging it consumed.
  mutable bool route = false;
};

class topic_service {
 public:
  virtual ~topic_service() = default;
  // The service takes the message. Returns success to acknowledge it normally, or an error
  // reason code to disconnect the client with.
  virtual mqtt::reason_code on_publish(const publish_context& ctx, mqtt::publish& p) = 0;
  // A network connection has ended (any state tied to it can go).
  virtual void on_connection_closed(std::string_view client_id, std::uint64_t connection_id) = 0;
};

class reserved_topics {
 public:
  void add(std::string topic, topic_service* s) {
    by_topic_[std::move(topic)] = s;
    remember(s);
  }
  // Every topic starting with `prefix` (the IoT Hub dialect's `$iothub/` and `devices/`). Exact
  // topics win; among prefixes the first added that matches. Few prefixes are expected.
  void add_prefix(std::string prefix, topic_service* s) {
    by_prefix_.emplace_back(std::move(prefix), s);
    remember(s);
  }
  topic_service* find(const std::string& topic) const {
    if (!by_topic_.empty()) {
      auto it = by_topic_.find(topic);
      if (it != by_topic_.end()) return it->second;
    }
    for (const auto& [prefix, s] : by_prefix_)
      if (topic.starts_with(prefix)) return s;
    return nullptr;
  }
  void connection_closed(std::string_view client_id, std::uint64_t connection_id) const {
    for (auto* s : all_) s->on_connection_closed(client_id, connection_id);
  }

 private:
  void remember(topic_service* s) {
    if (std::find(all_.begin(), all_.end(), s) == all_.end()) all_.push_back(s);
  }
  std::unordered_map<std::string, topic_service*> by_topic_;
  std::vector<std::pair<std::string, topic_service*>> by_prefix_;
  std::vector<topic_service*> all_;
};

}  // namespace edgemq::broker
