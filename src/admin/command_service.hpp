// Device commands over MQTT 5 request/response (docs/operations.md, "Device commands"): a
// command is published to the device's command topic with Response Topic = the broker's
// private command_reply_topic (topic_access.hpp), fresh Correlation Data and Message Expiry =
// the timeout; the device's PUBLISH to the reply topic is consumed here (a reserved topic, never
// routed) and completes the waiting request. Only the addressed client can answer its command:
// a reply from another client id, or with unknown correlation data, is ignored.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "admin/router.hpp"
#include "broker/broker.hpp"

namespace edgemq::admin {

class command_service final : public broker::topic_service {
 public:
  // Registers the reply topic with `core` (before the listeners start).
  explicit command_service(broker::broker& core);

  // Publishes the request. `done` is called at most once, on the thread of the connection that
  // answered. The returned function forgets the request (the caller timed out); calling it after
  // `done` is harmless.
  std::function<void()> start(command_request r, std::function<void(command_reply)> done);

  mqtt::reason_code on_publish(const broker::publish_context& ctx, mqtt::publish& p) override;
  void on_connection_closed(std::string_view, std::uint64_t) override {}

  std::size_t pending() const;

 private:
  struct waiting {
    std::string client_id;
    std::function<void(command_reply)> done;
  };
  broker::broker& core_;
  std::string nonce_;  // random per process: correlation data cannot be guessed across restarts
  mutable std::mutex mu_;
  std::uint64_t next_ = 0;
  std::unordered_map<std::string, waiting> waiting_;  // by correlation data
};

}  // namespace edgemq::admin
