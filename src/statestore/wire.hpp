// What a state store puts on and takes off the broker, whichever store it is (the single-node
// engine or the cluster's etcd store): the request read from a PUBLISH to the request topic, the
// reply published to its Response Topic, a KEYNOTIFY notification delivered to its client, and
// the mapping of operator requests (the admin API) to RESP3 requests and back.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "broker/broker.hpp"
#include "statestore/service.hpp"
#include "statestore/store.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::statestore {

struct incoming {
  request req;
  std::string response_topic;
  std::string correlation_data;
};

// A request published to the request topic. `refusal`: a response topic into the store's own
// namespace is refused with a disconnect (as the AIO store does); nullopt with `refusal` success:
// ignored (needs MQTT 5, QoS 1, Response Topic and Correlation Data).
std::optional<incoming> read_request(const broker::publish_context& ctx, mqtt::publish& p, mqtt::reason_code& refusal,
                                     spdlog::logger* log);

// Publishes the reply to a request through `br`.
void publish_reply(broker::broker& br, const std::string& response_topic, const std::string& correlation_data,
                   response resp);

// Delivers a KEYNOTIFY notification to its client's session (once, whatever its subscriptions).
void deliver_notification(broker::broker& br, notification n);

// The RESP3 request an operator get/put/del stands for ($admin, with the broker's clock as __ts);
// list has none.
request operator_request_as(const store::operator_request& r, std::uint64_t now_ms);
// The operator's answer to the reply of that request (`failed`: the change was not stored).
store::operator_reply operator_reply_from(const store::operator_request& r, const response& resp, bool failed);

}  // namespace edgemq::statestore
