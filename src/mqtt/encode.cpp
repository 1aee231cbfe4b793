// Encoding of every packet for both versions. Bodies are built in a per-thread scratch buffer
// so the remaining length is known before the fixed header is written.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "edgemq/mqtt/codec.hpp"
#include "wire.hpp"

namespace edgemq::mqtt {
namespace {

using namespace detail;

std::uint8_t v311_connack_code(reason_code rc) {
  switch (rc) {
    case reason_code::success:
      return 0;
    case reason_code::unsupported_protocol_version:
      return 1;
    case reason_code::client_identifier_not_valid:
      return 2;
    case reason_code::bad_user_name_or_password:
      return 4;
    case reason_code::not_authorized:
    case reason_code::banned:
      return 5;
    default:
      return 3;  // server unavailable: the closest 3.1.1 has for everything else
  }
}

std::uint8_t v311_suback_code(reason_code rc) {
  const auto raw = static_cast<std::uint8_t>(rc);
  return raw <= 2 ? raw : 0x80;
}

bool v5(protocol_version v) {
  return v == protocol_version::v5;
}

void body_of(const connect& c, std::string& b) {
  put_string(b, "MQTT");
  put_u8(b, static_cast<std::uint8_t>(c.version));
  std::uint8_t flags = 0;
  if (c.clean_start) flags |= 0x02;
  if (c.will) {
    flags |= 0x04 | static_cast<std::uint8_t>(static_cast<std::uint8_t>(c.will->qos) << 3);
    if (c.will->retain) flags |= 0x20;
  }
  if (c.password) flags |= 0x40;
  if (c.username) flags |= 0x80;
  put_u8(b, flags);
  put_u16(b, c.keep_alive);
  if (v5(c.version)) write_properties(b, c.props);
  put_string(b, c.client_id);
  if (c.will) {
    if (v5(c.version)) write_properties(b, c.will->props);
    put_string(b, c.will->topic);
    put_string(b, c.will->payload);
  }
  if (c.username) put_string(b, *c.username);
  if (c.password) put_string(b, *c.password);
}

void body_of(const connack& c, protocol_version v, std::string& b) {
  put_u8(b, c.session_present ? 1 : 0);
  if (v5(v)) {
    put_u8(b, static_cast<std::uint8_t>(c.code));
    write_properties(b, c.props);
  } else {
    put_u8(b, v311_connack_code(c.code));
  }
}

void publish_head_body(const publish& p, protocol_version v, std::string& b) {
  put_string(b, p.topic);
  if (p.qos != qos::at_most_once) put_u16(b, p.packet_id);
  if (v5(v)) write_properties(b, p.props);
}

}  // namespace

void encode_plain_ack(packet_type type, std::uint16_t packet_id, reason_code code, protocol_version v,
                      std::string& out) {
  const bool with_code = v5(v) && code != reason_code::success;  // short form, MQTT 5 3.4.2.1
  // One append of the 4 or 5 bytes (every QoS 1 message costs one of these each way).
  const char ack[5] = {static_cast<char>((static_cast<std::uint8_t>(type) << 4) | fixed_header_flags(type)),
                       static_cast<char>(with_code ? 3 : 2), static_cast<char>(packet_id >> 8),
                       static_cast<char>(packet_id & 0xFF), static_cast<char>(code)};
  out.append(ack, with_code ? 5 : 4);
}

namespace {

template <packet_type T>
void body_of(const basic_ack<T>& a, protocol_version v, std::string& b) {
  put_u16(b, a.packet_id);
  if (!v5(v)) return;
  const bool has_props = a.props != properties{};
  if (a.code == reason_code::success && !has_props) return;  // short form, MQTT 5 3.4.2.1
  put_u8(b, static_cast<std::uint8_t>(a.code));
  if (has_props) write_properties(b, a.props);
}

void body_of(const subscribe& s, protocol_version v, std::string& b) {
  put_u16(b, s.packet_id);
  if (v5(v)) write_properties(b, s.props);
  for (const auto& e : s.entries) {
    put_string(b, e.filter);
    std::uint8_t o = static_cast<std::uint8_t>(e.options.qos);
    if (v5(v)) {
      if (e.options.no_local) o |= 0x04;
      if (e.options.retain_as_published) o |= 0x08;
      o |= static_cast<std::uint8_t>(static_cast<std::uint8_t>(e.options.retain_handling) << 4);
    }
    put_u8(b, o);
  }
}

template <class Ack>
void sub_ack_body(const Ack& a, protocol_version v, std::string& b, bool is_suback) {
  put_u16(b, a.packet_id);
  if (v5(v)) {
    write_properties(b, a.props);
    for (auto rc : a.codes) put_u8(b, static_cast<std::uint8_t>(rc));
  } else if (is_suback) {
    for (auto rc : a.codes) put_u8(b, v311_suback_code(rc));
  }
}

void body_of(const unsubscribe& u, protocol_version v, std::string& b) {
  put_u16(b, u.packet_id);
  if (v5(v)) write_properties(b, u.props);
  for (const auto& f : u.filters) put_string(b, f);
}

template <class P>
void reason_body(const P& p, protocol_version v, std::string& b) {
  if (!v5(v)) return;
  const bool has_props = p.props != properties{};
  if (p.code == reason_code::success && !has_props) return;  // remaining length 0 form
  put_u8(b, static_cast<std::uint8_t>(p.code));
  if (has_props) write_properties(b, p.props);
}

std::uint8_t header_of(const packet& p) {
  return static_cast<std::uint8_t>((static_cast<std::uint8_t>(type_of(p)) << 4) | fixed_header_flags(type_of(p)));
}

std::uint8_t publish_header(const publish& p) {
  std::uint8_t h = 0x30 | static_cast<std::uint8_t>(static_cast<std::uint8_t>(p.qos) << 1);
  if (p.dup) h |= 0x08;
  if (p.retain) h |= 0x01;
  return h;
}

std::string& scratch() {
  thread_local std::string s;
  s.clear();
  return s;
}

}  // namespace

namespace {

bool fits(std::string_view s) {
  return s.size() <= max_field_length;
}

// Every length-prefixed field of `p` that `v` carries fits its two bytes (the payload of a
// PUBLISH has no prefix: only the remaining length bounds it; 3.1.1 carries no properties).
bool fields_fit(const packet& p, protocol_version v) {
  return std::visit(
      [v](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        bool ok = true;
        if constexpr (std::is_same_v<T, connect>) {
          const bool with_props = v5(x.version);  // CONNECT is written for its own version
          ok = (!with_props || properties_fit(x.props)) && fits(x.client_id) && (!x.username || fits(*x.username)) &&
               (!x.password || fits(*x.password));
          if (x.will)
            ok = ok && fits(x.will->topic) && fits(x.will->payload) && (!with_props || properties_fit(x.will->props));
        } else if constexpr (requires { x.props; }) {
          ok = !v5(v) || properties_fit(x.props);
        }
        if constexpr (std::is_same_v<T, publish>) {
          ok = ok && fits(x.topic);
        } else if constexpr (std::is_same_v<T, subscribe>) {
          for (const auto& e : x.entries) ok = ok && fits(e.filter);
        } else if constexpr (std::is_same_v<T, unsubscribe>) {
          for (const auto& f : x.filters) ok = ok && fits(f);
        }
        return ok;
      },
      p);
}

}  // namespace

std::error_code encode(const packet& p, protocol_version v, std::string& out) {
  if (!fields_fit(p, v)) return reason_code::malformed_packet;
  std::string& b = scratch();
  std::uint8_t header = header_of(p);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, connect>)
          body_of(x, b);
        else if constexpr (std::is_same_v<T, connack>)
          body_of(x, v, b);
        else if constexpr (std::is_same_v<T, publish>) {
          header = publish_header(x);
          publish_head_body(x, v, b);
          b.append(x.payload);
        } else if constexpr (std::is_same_v<T, subscribe>)
          body_of(x, v, b);
        else if constexpr (std::is_same_v<T, suback>)
          sub_ack_body(x, v, b, true);
        else if constexpr (std::is_same_v<T, unsubscribe>)
          body_of(x, v, b);
        else if constexpr (std::is_same_v<T, unsuback>)
          sub_ack_body(x, v, b, false);
        else if constexpr (std::is_same_v<T, pingreq> || std::is_same_v<T, pingresp>) {
        } else if constexpr (std::is_same_v<T, disconnect> || std::is_same_v<T, auth>)
          reason_body(x, v, b);
        else
          body_of(x, v, b);  // the four publish acks
      },
      p);
  if (b.size() > max_remaining_length) return reason_code::packet_too_large;
  put_u8(out, header);
  write_varint(static_cast<std::uint32_t>(b.size()), out);
  out.append(b);
  return {};
}

namespace {
// The body size without the payload; false when a field of `h` does not fit (see encode()).
bool head_body_size(const publish_head& h, protocol_version v, std::size_t& body, std::size_t& props_len) {
  if (!fits(h.topic)) return false;
  body = 2 + h.topic.size();
  if (h.qos != qos::at_most_once) body += 2;
  props_len = 0;
  if (v5(v)) {
    if (h.props) {
      if (!properties_fit(*h.props)) return false;
      props_len = properties_size(*h.props);
      if (h.message_expiry && !h.props->message_expiry_interval) props_len += 5;
    } else if (h.message_expiry) {
      props_len += 5;
    }
    if (h.topic_alias) props_len += 3;
    for (auto id : h.subscription_ids) {
      if (id > max_remaining_length) return false;
      props_len += 1 + varint_size(id);
    }
    body += varint_size(static_cast<std::uint32_t>(std::min<std::size_t>(props_len, max_remaining_length))) + props_len;
  }
  return true;
}
}  // namespace

result<std::size_t> encoded_size(const publish_head& h, protocol_version v) {
  std::size_t body = 0, props_len = 0;
  if (!head_body_size(h, v, body, props_len)) return make_error_code(reason_code::malformed_packet);
  body += h.payload_size;
  if (body > max_remaining_length) return make_error_code(reason_code::packet_too_large);
  return 1 + varint_size(static_cast<std::uint32_t>(body)) + body;
}

std::error_code encode_publish_head(const publish_head& h, protocol_version v, std::string& out) {
  std::size_t body = 0, props_len = 0;
  if (!head_body_size(h, v, body, props_len)) return reason_code::malformed_packet;
  if (body + h.payload_size > max_remaining_length) return reason_code::packet_too_large;
  std::uint8_t header = 0x30 | static_cast<std::uint8_t>(static_cast<std::uint8_t>(h.qos) << 1);
  if (h.dup) header |= 0x08;
  if (h.retain) header |= 0x01;
  // The fixed part (header, length, topic, packet id, properties length) has a known size: one
  // resize and plain stores, not a capacity check per byte (it runs once per delivery;
  // docs/adr/0031-routing-close-to-the-limit.md).
  const auto remaining = static_cast<std::uint32_t>(body + h.payload_size);
  const std::size_t fixed = 1 + varint_size(remaining) + 2 + h.topic.size() + (h.qos != qos::at_most_once ? 2 : 0) +
                            (v5(v) ? varint_size(static_cast<std::uint32_t>(props_len)) : 0);
  const std::size_t at = out.size();
  out.resize(at + fixed);
  auto* p = reinterpret_cast<std::uint8_t*>(out.data() + at);
  const auto varint = [&p](std::uint32_t value) {
    do {
      std::uint8_t b = value & 0x7F;
      value >>= 7;
      if (value) b |= 0x80;
      *p++ = b;
    } while (value);
  };
  *p++ = header;
  varint(remaining);
  *p++ = static_cast<std::uint8_t>(h.topic.size() >> 8);
  *p++ = static_cast<std::uint8_t>(h.topic.size() & 0xFF);
  if (!h.topic.empty()) std::memcpy(p, h.topic.data(), h.topic.size());
  p += h.topic.size();
  if (h.qos != qos::at_most_once) {
    *p++ = static_cast<std::uint8_t>(h.packet_id >> 8);
    *p++ = static_cast<std::uint8_t>(h.packet_id & 0xFF);
  }
  if (!v5(v)) return {};
  varint(static_cast<std::uint32_t>(props_len));
  if (h.props)
    write_properties_body(out, *h.props, h.message_expiry);
  else if (h.message_expiry) {
    put_u8(out, static_cast<std::uint8_t>(property_id::message_expiry_interval));
    put_u32(out, *h.message_expiry);
  }
  if (h.topic_alias) {
    put_u8(out, static_cast<std::uint8_t>(property_id::topic_alias));
    put_u16(out, h.topic_alias);
  }
  for (auto id : h.subscription_ids) {
    put_u8(out, static_cast<std::uint8_t>(property_id::subscription_identifier));
    write_varint(id, out);
  }
  return {};
}

}  // namespace edgemq::mqtt
