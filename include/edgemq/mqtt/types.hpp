// Strong types for MQTT protocol fields shared by the codec, the broker and the clients.
// Everything here is I/O-free and usable from any layer.
#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>

namespace edgemq::mqtt {

enum class qos : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

enum class protocol_version : std::uint8_t { v311 = 4, v5 = 5 };

enum class retain_handling : std::uint8_t { send = 0, send_if_new = 1, dont_send = 2 };

enum class packet_type : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
  auth = 15,
};

// MQTT 5 reason codes (OASIS MQTT 5.0, 2.4). The same numeric value can mean different
// things in different packets (0x00 is Success / Normal disconnection / Granted QoS 0);
// the enum names the most common meaning and aliases the rest.
enum class reason_code : std::uint8_t {
  success = 0x00,
  normal_disconnection = 0x00,
  granted_qos_0 = 0x00,
  granted_qos_1 = 0x01,
  granted_qos_2 = 0x02,
  disconnect_with_will = 0x04,
  no_matching_subscribers = 0x10,
  no_subscription_existed = 0x11,
  continue_authentication = 0x18,
  re_authenticate = 0x19,
  unspecified_error = 0x80,
  malformed_packet = 0x81,
  protocol_error = 0x82,
  implementation_specific_error = 0x83,
  unsupported_protocol_version = 0x84,
  client_identifier_not_valid = 0x85,
  bad_user_name_or_password = 0x86,
  not_authorized = 0x87,
  server_unavailable = 0x88,
  server_busy = 0x89,
  banned = 0x8A,
  server_shutting_down = 0x8B,
  bad_authentication_method = 0x8C,
  keep_alive_timeout = 0x8D,
  session_taken_over = 0x8E,
  topic_filter_invalid = 0x8F,
  topic_name_invalid = 0x90,
  packet_identifier_in_use = 0x91,
  packet_identifier_not_found = 0x92,
  receive_maximum_exceeded = 0x93,
  topic_alias_invalid = 0x94,
  packet_too_large = 0x95,
  message_rate_too_high = 0x96,
  quota_exceeded = 0x97,
  administrative_action = 0x98,
  payload_format_invalid = 0x99,
  retain_not_supported = 0x9A,
  qos_not_supported = 0x9B,
  use_another_server = 0x9C,
  server_moved = 0x9D,
  shared_subscriptions_not_supported = 0x9E,
  connection_rate_exceeded = 0x9F,
  maximum_connect_time = 0xA0,
  subscription_identifiers_not_supported = 0xA1,
  wildcard_subscriptions_not_supported = 0xA2,
};

constexpr bool is_error(reason_code rc) noexcept {
  return static_cast<std::uint8_t>(rc) >= 0x80;
}

// A short human-readable name ("malformed packet"); never empty.
std::string_view to_string(reason_code rc) noexcept;
std::string_view to_string(packet_type t) noexcept;

// Reason codes travel across module boundaries as std::error_code in this category.
const std::error_category& reason_category() noexcept;
inline std::error_code make_error_code(reason_code rc) noexcept {
  return {static_cast<int>(rc), reason_category()};
}

// Recovers the reason code from an error produced by this library; anything else maps to
// unspecified_error.
reason_code to_reason_code(const std::error_code& ec) noexcept;

}  // namespace edgemq::mqtt

template <>
struct std::is_error_code_enum<edgemq::mqtt::reason_code> : std::true_type {};
