// What a client may not do: publish to a topic the broker owns (topic_access.hpp), and, with an
// authorization policy, anything its permissions do not grant. Kept apart from the PUBLISH,
// CONNECT and SUBSCRIBE flows, which only call in here.
#include <spdlog/spdlog.h>

#include "broker/client_channel.hpp"
#include "broker/log_safe.hpp"
#include "broker/topic_access.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::broker {

// MQTT 5 QoS 1/2: PUBACK/PUBREC 0x87, so the client learns of the refusal. QoS 0, and 3.1.1
// (which has no refusal code for PUBLISH): acknowledged as usual and dropped, as mosquitto does.
// Never routed, never retained; counted.
void client_channel::deny_publish(const mqtt::publish& p) {
  bump(broker_.stats().publish_denied);
  if (log_) log_->info("client '{}' may not publish to '{}': dropped", log_safe(id()), log_safe(p.topic));
  const auto code = v5() ? mqtt::reason_code::not_authorized : mqtt::reason_code::success;
  if (p.qos == mqtt::qos::at_least_once) send_plain_ack(mqtt::packet_type::puback, p.packet_id, code);
  if (p.qos == mqtt::qos::exactly_once) send_plain_ack(mqtt::packet_type::pubrec, p.packet_id, code);
}

bool client_channel::may_publish_will(std::string_view topic) const {
  return !broker_owned_topic(topic) && (!permissions_ || permissions_->may_publish(topic));
}

// The session's subscriptions were granted to an earlier connection, perhaps under an earlier
// policy or to another user with the same client id: the ones this connection could not make
// now are removed (counted as denied subscriptions, logged), so a reload or a new owner of the
// client id never inherits a grant. Messages they already queued stay queued.
void client_channel::drop_unauthorized_subscriptions() {
  std::vector<std::string> gone;
  {
    auto sl = session_->lock();
    for (const auto& [filter, rec] : session_->subscriptions_) {
      std::string_view plain = filter;
      if (mqtt::is_shared_filter(filter)) {
        std::string_view name;
        parse_shared_filter(filter, name, plain);
      }
      if (!permissions_->may_subscribe(plain)) gone.push_back(filter);
    }
  }
  if (gone.empty()) return;
  for (const auto& f : gone) {
    broker_.subscriptions().unsubscribe(f, session_.get());
    {
      auto sl = session_->lock();
      session_->subscriptions_.erase(f);
    }
    bump(broker_.stats().subscribe_denied);
    if (log_)
      log_->info("client '{}': subscription '{}' of its session is no longer authorized: removed", log_safe(id()),
                 log_safe(f));
  }
  save_subscriptions();
}

}  // namespace edgemq::broker
