// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK decoding (both versions).
#include "decode_detail.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::mqtt::detail {

result<packet> decode_subscribe(std::uint8_t flags, reader& in, protocol_version v) {
  if (flags != fixed_header_flags(packet_type::subscribe)) return reason_code::malformed_packet;  // MQTT-3.8.1-1
  subscribe s;
  s.packet_id = in.u16();
  if (v == protocol_version::v5) s.props = read_properties(in, property_context::subscribe);
  if (!in.ok()) return in.error();
  if (s.packet_id == 0) return reason_code::protocol_error;
  while (!in.empty()) {
    subscription e;
    const auto filter = in.utf8();
    const auto opts = in.u8();
    if (!in.ok()) return in.error();
    const std::uint8_t reserved_mask = v == protocol_version::v5 ? 0xC0 : 0xFC;
    if (opts & reserved_mask) return reason_code::malformed_packet;  // MQTT-3.8.3-5
    // Maximum QoS 3: a Protocol Error in MQTT 5 (3.8.3.1), malformed in 3.1.1 (MQTT-3-8.3-4).
    if ((opts & 0x03) == 3)
      return v == protocol_version::v5 ? reason_code::protocol_error : reason_code::malformed_packet;
    e.options.qos = static_cast<qos>(opts & 0x03);
    if (v == protocol_version::v5) {
      e.options.no_local = opts & 0x04;
      e.options.retain_as_published = opts & 0x08;
      const auto rh = (opts >> 4) & 0x03;
      if (rh == 3) return reason_code::protocol_error;
      e.options.retain_handling = static_cast<retain_handling>(rh);
    }
    if (const auto rc = validate_topic_filter(filter); rc != reason_code::success) return rc;
    e.filter.assign(filter);
    s.entries.push_back(std::move(e));
  }
  if (s.entries.empty()) return reason_code::protocol_error;  // MQTT-3.8.3-2
  return packet{std::move(s)};
}

result<packet> decode_unsubscribe(std::uint8_t flags, reader& in, protocol_version v) {
  if (flags != fixed_header_flags(packet_type::unsubscribe)) return reason_code::malformed_packet;  // MQTT-3.10.1-1
  unsubscribe u;
  u.packet_id = in.u16();
  if (v == protocol_version::v5) u.props = read_properties(in, property_context::unsubscribe);
  if (!in.ok()) return in.error();
  if (u.packet_id == 0) return reason_code::protocol_error;
  while (!in.empty()) {
    const auto filter = in.utf8();
    if (!in.ok()) return in.error();
    if (const auto rc = validate_topic_filter(filter); rc != reason_code::success) return rc;
    u.filters.emplace_back(filter);
  }
  if (u.filters.empty()) return reason_code::protocol_error;  // MQTT-3.10.3-2
  return packet{std::move(u)};
}

namespace {
template <class Ack>
result<packet> decode_sub_ack(std::uint8_t flags, reader& in, protocol_version v, packet_type t, property_context ctx) {
  if (flags != 0) return reason_code::malformed_packet;
  Ack a;
  a.packet_id = in.u16();
  if (v == protocol_version::v5) a.props = read_properties(in, ctx);
  if (!in.ok()) return in.error();
  if (a.packet_id == 0) return reason_code::protocol_error;
  while (!in.empty()) {
    auto rc = static_cast<reason_code>(in.u8());
    if (v == protocol_version::v5) {
      if (!valid_reason(t, rc)) return reason_code::protocol_error;
    } else {
      const auto raw = static_cast<std::uint8_t>(rc);
      if (raw > 2 && raw != 0x80) return reason_code::protocol_error;
      if (raw == 0x80) rc = reason_code::unspecified_error;
    }
    a.codes.push_back(rc);
  }
  if (t == packet_type::suback && a.codes.empty()) return reason_code::protocol_error;
  if (t == packet_type::unsuback && v == protocol_version::v5 && a.codes.empty()) return reason_code::protocol_error;
  return packet{std::move(a)};
}
}  // namespace

result<packet> decode_suback(std::uint8_t flags, reader& in, protocol_version v) {
  return decode_sub_ack<suback>(flags, in, v, packet_type::suback, property_context::suback);
}

result<packet> decode_unsuback(std::uint8_t flags, reader& in, protocol_version v) {
  if (v != protocol_version::v5) {
    if (flags != 0) return reason_code::malformed_packet;
    unsuback a;
    a.packet_id = in.u16();
    if (!in.ok()) return in.error();
    if (a.packet_id == 0) return reason_code::protocol_error;
    if (!in.empty()) return reason_code::malformed_packet;
    return packet{std::move(a)};
  }
  return decode_sub_ack<unsuback>(flags, in, v, packet_type::unsuback, property_context::unsuback);
}

}  // namespace edgemq::mqtt::detail
