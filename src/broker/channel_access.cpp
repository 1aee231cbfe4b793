// What a client may never do, whatever it is authorized for: publish to a topic the broker owns
// (topic_access.hpp). Kept apart from the PUBLISH flow, which only calls in here.
#include <spdlog/spdlog.h>

#include "broker/client_channel.hpp"
#include "broker/log_safe.hpp"

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

}  // namespace edgemq::broker
