// One value type per MQTT control packet; the packet set is a std::variant. The same types
// serve MQTT 3.1.1 and 5: fields that 3.1.1 lacks (reason codes, properties) are ignored
// when encoding for 3.1.1 and left at their defaults when decoding it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "edgemq/mqtt/properties.hpp"
#include "edgemq/mqtt/types.hpp"

namespace edgemq::mqtt {

struct will_message {
  std::string topic;
  std::string payload;
  mqtt::qos qos = qos::at_most_once;
  bool retain = false;
  properties props;
  bool operator==(const will_message&) const = default;
};

struct connect {
  protocol_version version = protocol_version::v5;
  bool clean_start = true;
  std::uint16_t keep_alive = 60;
  std::string client_id;
  std::optional<will_message> will;
  std::optional<std::string> username;
  std::optional<std::string> password;
  properties props;
  bool operator==(const connect&) const = default;
};

// For 3.1.1 the reason code is mapped to a CONNACK return code (0..5) when encoding.
struct connack {
  bool session_present = false;
  reason_code code = reason_code::success;
  properties props;
  bool operator==(const connack&) const = default;
};

struct publish {
  std::string topic;
  std::string payload;
  mqtt::qos qos = qos::at_most_once;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;  // 0 for QoS 0
  properties props;
  bool operator==(const publish&) const = default;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share one layout.
template <packet_type Type>
struct basic_ack {
  static constexpr packet_type type = Type;
  std::uint16_t packet_id = 0;
  reason_code code = reason_code::success;
  properties props;
  bool operator==(const basic_ack&) const = default;
};
using puback = basic_ack<packet_type::puback>;
using pubrec = basic_ack<packet_type::pubrec>;
using pubrel = basic_ack<packet_type::pubrel>;
using pubcomp = basic_ack<packet_type::pubcomp>;

struct subscribe_options {
  mqtt::qos qos = qos::at_most_once;
  bool no_local = false;
  bool retain_as_published = false;
  mqtt::retain_handling retain_handling = retain_handling::send;
  bool operator==(const subscribe_options&) const = default;
};

struct subscription {
  std::string filter;
  subscribe_options options;
  bool operator==(const subscription&) const = default;
};

struct subscribe {
  std::uint16_t packet_id = 0;
  std::vector<subscription> entries;
  properties props;
  bool operator==(const subscribe&) const = default;
};

// For 3.1.1 the codes are mapped to 0x00..0x02 or 0x80 when encoding.
struct suback {
  std::uint16_t packet_id = 0;
  std::vector<reason_code> codes;
  properties props;
  bool operator==(const suback&) const = default;
};

struct unsubscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters;
  properties props;
  bool operator==(const unsubscribe&) const = default;
};

// 3.1.1 UNSUBACK has no payload: codes are dropped on encode and empty on decode.
struct unsuback {
  std::uint16_t packet_id = 0;
  std::vector<reason_code> codes;
  properties props;
  bool operator==(const unsuback&) const = default;
};

struct pingreq {
  bool operator==(const pingreq&) const = default;
};
struct pingresp {
  bool operator==(const pingresp&) const = default;
};

struct disconnect {
  reason_code code = reason_code::normal_disconnection;
  properties props;
  bool operator==(const disconnect&) const = default;
};

// MQTT 5 only.
struct auth {
  reason_code code = reason_code::success;
  properties props;
  bool operator==(const auth&) const = default;
};

using packet = std::variant<connect, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe, suback, unsubscribe,
                            unsuback, pingreq, pingresp, disconnect, auth>;

packet_type type_of(const packet& p) noexcept;

}  // namespace edgemq::mqtt
