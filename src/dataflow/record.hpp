// One message on its way through a dataflow: what a source produced, what the transformation
// changes and what a sink sends. A plain value: it is written to the disk buffer between the
// source and the sink (runtime), so everything a sink needs must be in here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace edgemq::dataflow {

using user_properties = std::vector<std::pair<std::string, std::string>>;

struct record {
  std::string topic;           // the source topic (MQTT) or key (Kafka); a template's ${inputTopic.N} reads it
  std::string payload;         // bytes; JSON when the transformation touched it
  user_properties properties;  // MQTT 5 user properties, in order
  std::optional<std::string> content_type;
  std::optional<std::string> response_topic;
  std::optional<std::string> correlation_data;
  std::optional<std::uint32_t> message_expiry_s;
  std::uint8_t qos = 1;  // as received
  bool retain = false;
  std::uint64_t timestamp_ms = 0;  // wall clock when the source received it
  // Set by the runtime: the record's position in its dataflow's buffer (0: not buffered yet).
  std::uint64_t seq = 0;
};

}  // namespace edgemq::dataflow
