#include "dataflow/endpoints/publish_record.hpp"

#include <chrono>

namespace edgemq::dataflow {

record record_from_publish(mqtt::publish&& p) {
  record r;
  r.topic = std::move(p.topic);
  r.payload = std::move(p.payload);
  r.properties = std::move(p.props.user_properties);
  r.content_type = std::move(p.props.content_type);
  r.response_topic = std::move(p.props.response_topic);
  r.correlation_data = std::move(p.props.correlation_data);
  r.message_expiry_s = p.props.message_expiry_interval;
  r.qos = static_cast<std::uint8_t>(p.qos);
  r.retain = p.retain;
  r.timestamp_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  return r;
}

}  // namespace edgemq::dataflow
