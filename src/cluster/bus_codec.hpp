// A broker message as NATS headers + payload (docs/cluster.md "Routing between nodes"): the MQTT 5
// properties a subscriber sees (user properties in order, content type, response topic,
// correlation data, payload format, the expiry left), QoS and retain flag, and the origin (node
// instance, sequence number, publishing client for no-local). libnats-free: the bus copies these
// pairs into a natsMsg. Values are percent-escaped (subject_map.hpp, header_escape).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/message.hpp"

namespace edgemq::cluster {

using header_list = std::vector<std::pair<std::string, std::string>>;

namespace hdr {
constexpr const char* origin = "Em-Origin";  // "<node>.<instance hex>": skips own messages, keys dedup
constexpr const char* seq = "Em-Seq";        // per origin instance, from 1
constexpr const char* client = "Em-Client";  // the publishing client (no-local on other nodes)
constexpr const char* qos = "Em-Qos";
constexpr const char* retain = "Em-Retain";
constexpr const char* format = "Mq-Pfi";
constexpr const char* content_type = "Mq-Ct";
constexpr const char* response_topic = "Mq-Rt";
constexpr const char* correlation = "Mq-Cd";
constexpr const char* expiry = "Mq-Exp";   // seconds left when it left the origin
constexpr const char* user = "Mq-Up";      // one value per user property, "<key>=<value>", in order
constexpr const char* end = "Em-End";      // retained catch-up: the last reply
constexpr const char* topic = "Em-Topic";  // on subjects that are not the topic's (retained, catch-up)
}  // namespace hdr

header_list encode_headers(const broker::message& m, std::string_view origin, std::uint64_t seq,
                           broker::clock::time_point now);

struct decoded {
  broker::message_ptr msg;  // null: the headers were malformed
  std::string origin;
  std::uint64_t seq = 0;
};
// `values(key)` returns every value of header `key`, in order (empty: absent).
decoded decode_message(std::string topic, std::string_view payload,
                       const std::function<std::vector<std::string>(const char* key)>& values,
                       broker::clock::time_point now);

}  // namespace edgemq::cluster
