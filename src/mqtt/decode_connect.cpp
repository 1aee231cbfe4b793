// CONNECT and CONNACK decoding (both versions).
#include "decode_detail.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::mqtt::detail {

result<packet> decode_connect(std::uint8_t flags, reader& in) {
  if (flags != 0) return reason_code::malformed_packet;
  const auto name = in.utf8();
  const auto level = in.u8();
  if (!in.ok()) return in.error();
  if (name != "MQTT" || (level != 4 && level != 5)) return reason_code::unsupported_protocol_version;
  connect c;
  c.version = static_cast<protocol_version>(level);
  const bool v5 = c.version == protocol_version::v5;
  const auto cf = in.u8();
  c.keep_alive = in.u16();
  if (!in.ok()) return in.error();
  if (cf & 0x01) return reason_code::malformed_packet;  // MQTT-3.1.2-3
  c.clean_start = cf & 0x02;
  const bool will_flag = cf & 0x04;
  const auto will_qos = (cf >> 3) & 0x03;
  const bool will_retain = cf & 0x20;
  const bool password_flag = cf & 0x40;
  const bool username_flag = cf & 0x80;
  if (!will_flag && (will_qos != 0 || will_retain)) return reason_code::malformed_packet;  // MQTT-3.1.2-11/13
  if (will_qos == 3) return reason_code::malformed_packet;                                 // MQTT-3.1.2-12
  if (!v5 && password_flag && !username_flag) return reason_code::malformed_packet;        // MQTT-3.1.2-22 (3.1.1)
  if (v5) c.props = read_properties(in, property_context::connect);
  if (in.ok() && c.props.authentication_data && !c.props.authentication_method)
    return reason_code::protocol_error;  // authentication data without a method (MQTT 3.1.2.11.10)
  c.client_id = std::string(in.utf8());
  if (!in.ok()) return in.error();
  if (!v5 && c.client_id.empty() && !c.clean_start) return reason_code::client_identifier_not_valid;
  if (will_flag) {
    will_message w;
    w.qos = static_cast<qos>(will_qos);
    w.retain = will_retain;
    if (v5) w.props = read_properties(in, property_context::will);
    w.topic = std::string(in.utf8());
    w.payload = std::string(in.binary());
    if (!in.ok()) return in.error();
    if (const auto rc = validate_topic_name(w.topic); rc != reason_code::success) return rc;
    c.will = std::move(w);
  }
  if (username_flag) c.username = std::string(in.utf8());
  if (password_flag) c.password = std::string(in.binary());
  if (!in.ok()) return in.error();
  if (!in.empty()) return reason_code::malformed_packet;
  return packet{std::move(c)};
}

namespace {
reason_code connack_from_v311(std::uint8_t rc) {
  switch (rc) {
    case 0:
      return reason_code::success;
    case 1:
      return reason_code::unsupported_protocol_version;
    case 2:
      return reason_code::client_identifier_not_valid;
    case 3:
      return reason_code::server_unavailable;
    case 4:
      return reason_code::bad_user_name_or_password;
    case 5:
      return reason_code::not_authorized;
    default:
      return reason_code::malformed_packet;
  }
}
}  // namespace

result<packet> decode_connack(std::uint8_t flags, reader& in, protocol_version v) {
  if (flags != 0) return reason_code::malformed_packet;
  connack c;
  const auto ack_flags = in.u8();
  const auto rc = in.u8();
  if (!in.ok()) return in.error();
  if (ack_flags & 0xFE) return reason_code::malformed_packet;
  c.session_present = ack_flags & 0x01;
  if (v == protocol_version::v5) {
    c.code = static_cast<reason_code>(rc);
    if (!valid_reason(packet_type::connack, c.code)) return reason_code::protocol_error;
    c.props = read_properties(in, property_context::connack);
  } else {
    c.code = connack_from_v311(rc);
    if (c.code == reason_code::malformed_packet) return c.code;
  }
  if (!in.ok()) return in.error();
  if (!in.empty()) return reason_code::malformed_packet;
  return packet{std::move(c)};
}

}  // namespace edgemq::mqtt::detail
