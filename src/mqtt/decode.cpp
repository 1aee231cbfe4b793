// Dispatch by packet type plus the small packets: PUBLISH, the acks, PING, DISCONNECT, AUTH.
#include <algorithm>
#include <initializer_list>

#include "decode_detail.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::mqtt {
namespace detail {

namespace {
bool in(std::initializer_list<std::uint8_t> set, reason_code rc) {
  return std::find(set.begin(), set.end(), static_cast<std::uint8_t>(rc)) != set.end();
}
}  // namespace

bool valid_reason(packet_type t, reason_code rc) noexcept {
  switch (t) {
    case packet_type::connack:
      return in({0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F},
                rc);
    case packet_type::puback:
    case packet_type::pubrec:
      return in({0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}, rc);
    case packet_type::pubrel:
    case packet_type::pubcomp:
      return in({0x00, 0x92}, rc);
    case packet_type::suback:
      return in({0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2}, rc);
    case packet_type::unsuback:
      return in({0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91}, rc);
    case packet_type::disconnect:
      return in({0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
                 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2},
                rc);
    case packet_type::auth:
      return in({0x00, 0x18, 0x19}, rc);
    default:
      return false;
  }
}

result<packet> decode_publish(std::uint8_t flags, reader& in, protocol_version v) {
  publish p;
  bool props_set = false;
  if (const auto rc = decode_publish_into(flags, in, v, p, props_set); rc != reason_code::success) return rc;
  return packet{std::move(p)};
}

reason_code decode_publish_into(std::uint8_t flags, reader& in, protocol_version v, publish& p, bool& props_set) {
  p.packet_id = 0;
  p.dup = flags & 0x08;
  const auto q = (flags >> 1) & 0x03;
  if (q == 3) return reason_code::malformed_packet;  // MQTT-3.3.1-4
  p.qos = static_cast<qos>(q);
  if (p.dup && p.qos == qos::at_most_once) return reason_code::malformed_packet;  // MQTT-3.3.1-2
  p.retain = flags & 0x01;
  // The topic's UTF-8 is checked once, by validate_topic_name; invalid UTF-8 fails the read
  // as reader::utf8() would.
  const auto topic = in.binary();
  const auto topic_rc = validate_topic_name(topic);
  if (topic_rc == reason_code::malformed_packet) in.fail(topic_rc);
  if (p.qos != qos::at_most_once) p.packet_id = in.u16();
  // Most PUBLISH packets carry no property (length byte 0): keep the reused value's empty
  // properties instead of building and moving in a new one.
  if (v != protocol_version::v5 || in.peek() == 0) {
    if (v == protocol_version::v5) in.u8();
    if (props_set) p.props = properties{};
    props_set = false;
  } else {
    p.props = read_properties(in, property_context::publish);
    props_set = true;
  }
  if (!in.ok()) return in.error();
  if (p.qos != qos::at_most_once && p.packet_id == 0) return reason_code::protocol_error;  // MQTT-2.2.1-3
  if (!(topic.empty() && p.props.topic_alias) && topic_rc != reason_code::success) return topic_rc;
  p.topic.assign(topic);  // assign: reuses the capacity of a recycled `p`
  p.payload.assign(in.rest());
  return reason_code::success;
}

namespace {

template <class Ack>
result<packet> decode_ack(std::uint8_t flags, reader& in, protocol_version v) {
  if (flags != fixed_header_flags(Ack::type)) return reason_code::malformed_packet;  // MQTT-3.6.1-1 and 2.1.3
  Ack a;
  a.packet_id = in.u16();
  if (!in.ok()) return in.error();
  if (a.packet_id == 0) return reason_code::protocol_error;
  if (v == protocol_version::v5 && !in.empty()) {
    a.code = static_cast<reason_code>(in.u8());
    if (!valid_reason(Ack::type, a.code)) return reason_code::protocol_error;
    if (!in.empty()) a.props = read_properties(in, property_context::puback);
  }
  if (!in.ok()) return in.error();
  if (!in.empty()) return reason_code::malformed_packet;
  return packet{std::move(a)};
}

template <class Ping>
result<packet> decode_empty(std::uint8_t flags, reader& in) {
  if (flags != 0 || !in.empty()) return reason_code::malformed_packet;
  return packet{Ping{}};
}

template <class P, packet_type T, property_context Ctx>
result<packet> decode_reason_only(std::uint8_t flags, reader& in, protocol_version v) {
  if (flags != 0) return reason_code::malformed_packet;
  P p;
  if (v != protocol_version::v5) {
    if (!in.empty()) return reason_code::malformed_packet;
    return packet{std::move(p)};
  }
  if (!in.empty()) {
    p.code = static_cast<reason_code>(in.u8());
    if (!valid_reason(T, p.code)) return reason_code::protocol_error;
    if (!in.empty()) p.props = read_properties(in, Ctx);
  }
  if (!in.ok()) return in.error();
  if (!in.empty()) return reason_code::malformed_packet;
  return packet{std::move(p)};
}

}  // namespace
}  // namespace detail

bool decode_plain_ack(std::uint8_t header, std::span<const std::uint8_t> body, protocol_version v,
                      std::uint16_t& packet_id, reason_code& code) noexcept {
  const auto type = static_cast<packet_type>(header >> 4);
  if (type != packet_type::puback && type != packet_type::pubrec && type != packet_type::pubrel &&
      type != packet_type::pubcomp)
    return false;
  if ((header & 0x0F) != detail::fixed_header_flags(type)) return false;  // MQTT-3.6.1-1, 2.1.3
  const bool v5 = v == protocol_version::v5;
  // id | id + reason | id + reason + empty property length
  if (!(body.size() == 2 || (v5 && body.size() == 3) || (v5 && body.size() == 4 && body[3] == 0))) return false;
  packet_id = static_cast<std::uint16_t>((body[0] << 8) | body[1]);
  code = body.size() > 2 ? static_cast<reason_code>(body[2]) : reason_code::success;
  return packet_id != 0 && detail::valid_reason(type, code);
}

reason_code decode_publish(std::uint8_t header, std::span<const std::uint8_t> body, protocol_version v, publish& out,
                           bool& props_set) {
  detail::reader in(body);
  return detail::decode_publish_into(header & 0x0F, in, v, out, props_set);
}

result<packet> decode(std::uint8_t header, std::span<const std::uint8_t> body, protocol_version v) {
  using namespace detail;
  reader in(body);
  const std::uint8_t flags = header & 0x0F;
  switch (static_cast<packet_type>(header >> 4)) {
    case packet_type::connect:
      return decode_connect(flags, in);
    case packet_type::connack:
      return decode_connack(flags, in, v);
    case packet_type::publish:
      return decode_publish(flags, in, v);
    case packet_type::puback:
      return decode_ack<puback>(flags, in, v);
    case packet_type::pubrec:
      return decode_ack<pubrec>(flags, in, v);
    case packet_type::pubrel:
      return decode_ack<pubrel>(flags, in, v);
    case packet_type::pubcomp:
      return decode_ack<pubcomp>(flags, in, v);
    case packet_type::subscribe:
      return decode_subscribe(flags, in, v);
    case packet_type::suback:
      return decode_suback(flags, in, v);
    case packet_type::unsubscribe:
      return decode_unsubscribe(flags, in, v);
    case packet_type::unsuback:
      return decode_unsuback(flags, in, v);
    case packet_type::pingreq:
      return decode_empty<pingreq>(flags, in);
    case packet_type::pingresp:
      return decode_empty<pingresp>(flags, in);
    case packet_type::disconnect:
      return decode_reason_only<disconnect, packet_type::disconnect, property_context::disconnect>(flags, in, v);
    case packet_type::auth:
      if (v != protocol_version::v5) return reason_code::malformed_packet;
      return decode_reason_only<auth, packet_type::auth, property_context::auth>(flags, in, v);
    default:
      return reason_code::malformed_packet;  // type 0 is reserved
  }
}

}  // namespace edgemq::mqtt
