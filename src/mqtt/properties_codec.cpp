// Property blocks: allow-list per packet, value checks, duplicates, canonical encoding order.
#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/topic.hpp"
#include "wire.hpp"

namespace edgemq::mqtt {
namespace {

constexpr std::uint16_t bit(property_context c) {
  return static_cast<std::uint16_t>(1u << static_cast<unsigned>(c));
}
using pc = property_context;
constexpr std::uint16_t k_message = bit(pc::publish) | bit(pc::will);
constexpr std::uint16_t k_reason =
    bit(pc::connack) | bit(pc::puback) | bit(pc::suback) | bit(pc::unsuback) | bit(pc::disconnect) | bit(pc::auth);

std::uint16_t allowed_mask(property_id id) noexcept {
  switch (id) {
    case property_id::payload_format_indicator:
    case property_id::message_expiry_interval:
    case property_id::content_type:
    case property_id::response_topic:
    case property_id::correlation_data:
      return k_message;
    case property_id::subscription_identifier:
      return bit(pc::publish) | bit(pc::subscribe);
    case property_id::session_expiry_interval:
      return bit(pc::connect) | bit(pc::connack) | bit(pc::disconnect);
    case property_id::assigned_client_identifier:
    case property_id::server_keep_alive:
    case property_id::response_information:
    case property_id::maximum_qos:
    case property_id::retain_available:
    case property_id::wildcard_subscription_available:
    case property_id::subscription_identifier_available:
    case property_id::shared_subscription_available:
      return bit(pc::connack);
    case property_id::authentication_method:
    case property_id::authentication_data:
      return bit(pc::connect) | bit(pc::connack) | bit(pc::auth);
    case property_id::request_problem_information:
    case property_id::request_response_information:
      return bit(pc::connect);
    case property_id::will_delay_interval:
      return bit(pc::will);
    case property_id::server_reference:
      return bit(pc::connack) | bit(pc::disconnect);
    case property_id::reason_string:
      return k_reason;
    case property_id::receive_maximum:
    case property_id::topic_alias_maximum:
    case property_id::maximum_packet_size:
      return bit(pc::connect) | bit(pc::connack);
    case property_id::topic_alias:
      return bit(pc::publish);
    case property_id::user_property:
      return 0xFFFF;
  }
  return 0;  // unknown identifier
}

template <class T, class V>
void set_once(detail::reader& in, std::optional<T>& field, V value) {
  if (field)
    in.fail(reason_code::protocol_error);  // MQTT 2.2.2.2: only user properties repeat
  else
    field = static_cast<T>(value);
}

void set_flag(detail::reader& in, std::optional<std::uint8_t>& field, std::uint8_t value) {
  if (value > 1)
    in.fail(reason_code::protocol_error);
  else
    set_once(in, field, value);
}

}  // namespace

bool property_allowed(property_id id, property_context ctx) noexcept {
  return allowed_mask(id) & bit(ctx);
}

namespace detail {

properties read_properties(reader& in, property_context ctx) noexcept {
  properties p;
  const std::uint32_t len = in.varint();
  if (!in.ok()) return p;
  if (len > in.remaining()) {
    in.fail(reason_code::malformed_packet);
    return p;
  }
  reader block(in.bytes(len));
  while (!block.empty() && block.ok()) {
    const std::uint32_t raw_id = block.varint();
    if (!block.ok()) break;
    const auto id = static_cast<property_id>(raw_id);
    if (raw_id > 0x7F || !(allowed_mask(id) & bit(ctx))) {
      block.fail(reason_code::malformed_packet);
      break;
    }
    switch (id) {
      case property_id::payload_format_indicator:
        set_flag(block, p.payload_format_indicator, block.u8());
        break;
      case property_id::message_expiry_interval:
        set_once(block, p.message_expiry_interval, block.u32());
        break;
      case property_id::content_type:
        set_once(block, p.content_type, block.utf8());
        break;
      case property_id::response_topic: {
        const auto t = block.utf8();
        if (const auto rc = validate_topic_name(t); block.ok() && rc != reason_code::success) block.fail(rc);
        set_once(block, p.response_topic, t);
        break;
      }
      case property_id::correlation_data:
        set_once(block, p.correlation_data, block.binary());
        break;
      case property_id::subscription_identifier: {
        const auto v = block.varint();
        if (block.ok() && v == 0)
          block.fail(reason_code::protocol_error);
        else if (ctx == pc::subscribe && !p.subscription_identifiers.empty())
          block.fail(reason_code::protocol_error);
        else
          p.subscription_identifiers.push_back(v);
        break;
      }
      case property_id::session_expiry_interval:
        set_once(block, p.session_expiry_interval, block.u32());
        break;
      case property_id::assigned_client_identifier:
        set_once(block, p.assigned_client_identifier, block.utf8());
        break;
      case property_id::server_keep_alive:
        set_once(block, p.server_keep_alive, block.u16());
        break;
      case property_id::authentication_method:
        set_once(block, p.authentication_method, block.utf8());
        break;
      case property_id::authentication_data:
        set_once(block, p.authentication_data, block.binary());
        break;
      case property_id::request_problem_information:
        set_flag(block, p.request_problem_information, block.u8());
        break;
      case property_id::will_delay_interval:
        set_once(block, p.will_delay_interval, block.u32());
        break;
      case property_id::request_response_information:
        set_flag(block, p.request_response_information, block.u8());
        break;
      case property_id::response_information:
        set_once(block, p.response_information, block.utf8());
        break;
      case property_id::server_reference:
        set_once(block, p.server_reference, block.utf8());
        break;
      case property_id::reason_string:
        set_once(block, p.reason_string, block.utf8());
        break;
      case property_id::receive_maximum: {
        const auto v = block.u16();
        if (block.ok() && v == 0) block.fail(reason_code::protocol_error);
        set_once(block, p.receive_maximum, v);
        break;
      }
      case property_id::topic_alias_maximum:
        set_once(block, p.topic_alias_maximum, block.u16());
        break;
      case property_id::topic_alias: {
        const auto v = block.u16();
        if (block.ok() && v == 0) block.fail(reason_code::topic_alias_invalid);
        set_once(block, p.topic_alias, v);
        break;
      }
      case property_id::maximum_qos:
        set_flag(block, p.maximum_qos, block.u8());
        break;
      case property_id::retain_available:
        set_flag(block, p.retain_available, block.u8());
        break;
      case property_id::user_property: {
        const auto k = block.utf8();
        const auto v = block.utf8();
        if (block.ok()) p.user_properties.emplace_back(k, v);
        break;
      }
      case property_id::maximum_packet_size: {
        const auto v = block.u32();
        if (block.ok() && v == 0) block.fail(reason_code::protocol_error);
        set_once(block, p.maximum_packet_size, v);
        break;
      }
      case property_id::wildcard_subscription_available:
        set_flag(block, p.wildcard_subscription_available, block.u8());
        break;
      case property_id::subscription_identifier_available:
        set_flag(block, p.subscription_identifier_available, block.u8());
        break;
      case property_id::shared_subscription_available:
        set_flag(block, p.shared_subscription_available, block.u8());
        break;
    }
  }
  if (!block.ok()) in.fail(block.error());
  return p;
}

namespace {

// Visits every present property in ascending id order; `emit(id, kind, value...)` style is
// avoided for speed of writing: two small functions share this walk through a template.
template <class Sink>
void walk(const properties& p, Sink&& s) {
  if (p.payload_format_indicator) s.byte(property_id::payload_format_indicator, *p.payload_format_indicator);
  if (p.message_expiry_interval) s.u32(property_id::message_expiry_interval, *p.message_expiry_interval);
  if (p.content_type) s.str(property_id::content_type, *p.content_type);
  if (p.response_topic) s.str(property_id::response_topic, *p.response_topic);
  if (p.correlation_data) s.str(property_id::correlation_data, *p.correlation_data);
  for (auto id : p.subscription_identifiers) s.var(property_id::subscription_identifier, id);
  if (p.session_expiry_interval) s.u32(property_id::session_expiry_interval, *p.session_expiry_interval);
  if (p.assigned_client_identifier) s.str(property_id::assigned_client_identifier, *p.assigned_client_identifier);
  if (p.server_keep_alive) s.u16(property_id::server_keep_alive, *p.server_keep_alive);
  if (p.authentication_method) s.str(property_id::authentication_method, *p.authentication_method);
  if (p.authentication_data) s.str(property_id::authentication_data, *p.authentication_data);
  if (p.request_problem_information) s.byte(property_id::request_problem_information, *p.request_problem_information);
  if (p.will_delay_interval) s.u32(property_id::will_delay_interval, *p.will_delay_interval);
  if (p.request_response_information)
    s.byte(property_id::request_response_information, *p.request_response_information);
  if (p.response_information) s.str(property_id::response_information, *p.response_information);
  if (p.server_reference) s.str(property_id::server_reference, *p.server_reference);
  if (p.reason_string) s.str(property_id::reason_string, *p.reason_string);
  if (p.receive_maximum) s.u16(property_id::receive_maximum, *p.receive_maximum);
  if (p.topic_alias_maximum) s.u16(property_id::topic_alias_maximum, *p.topic_alias_maximum);
  if (p.topic_alias) s.u16(property_id::topic_alias, *p.topic_alias);
  if (p.maximum_qos) s.byte(property_id::maximum_qos, *p.maximum_qos);
  if (p.retain_available) s.byte(property_id::retain_available, *p.retain_available);
  for (const auto& [k, v] : p.user_properties) s.pair(property_id::user_property, k, v);
  if (p.maximum_packet_size) s.u32(property_id::maximum_packet_size, *p.maximum_packet_size);
  if (p.wildcard_subscription_available)
    s.byte(property_id::wildcard_subscription_available, *p.wildcard_subscription_available);
  if (p.subscription_identifier_available)
    s.byte(property_id::subscription_identifier_available, *p.subscription_identifier_available);
  if (p.shared_subscription_available)
    s.byte(property_id::shared_subscription_available, *p.shared_subscription_available);
}

struct size_sink {
  std::size_t n = 0;
  void byte(property_id, std::uint8_t) { n += 2; }
  void u16(property_id, std::uint16_t) { n += 3; }
  void u32(property_id, std::uint32_t) { n += 5; }
  void var(property_id, std::uint32_t v) { n += 1 + varint_size(v); }
  void str(property_id, const std::string& s) { n += 3 + s.size(); }
  void pair(property_id, const std::string& k, const std::string& v) { n += 5 + k.size() + v.size(); }
};

struct fit_sink {
  bool ok = true;
  void byte(property_id, std::uint8_t) {}
  void u16(property_id, std::uint16_t) {}
  void u32(property_id, std::uint32_t) {}
  void var(property_id, std::uint32_t v) { ok = ok && v <= max_remaining_length; }
  void str(property_id, const std::string& s) { ok = ok && s.size() <= max_field_length; }
  void pair(property_id, const std::string& k, const std::string& v) {
    ok = ok && k.size() <= max_field_length && v.size() <= max_field_length;
  }
};

struct write_sink {
  std::string& out;
  void id(property_id i) { put_u8(out, static_cast<std::uint8_t>(i)); }
  void byte(property_id i, std::uint8_t v) {
    id(i);
    put_u8(out, v);
  }
  void u16(property_id i, std::uint16_t v) {
    id(i);
    put_u16(out, v);
  }
  void u32(property_id i, std::uint32_t v) {
    id(i);
    put_u32(out, v);
  }
  void var(property_id i, std::uint32_t v) {
    id(i);
    write_varint(v, out);
  }
  void str(property_id i, const std::string& s) {
    id(i);
    put_string(out, s);
  }
  void pair(property_id i, const std::string& k, const std::string& v) {
    id(i);
    put_string(out, k);
    put_string(out, v);
  }
};

}  // namespace

std::size_t properties_size(const properties& props) noexcept {
  size_sink s;
  walk(props, s);
  return s.n;
}

bool properties_fit(const properties& props) noexcept {
  fit_sink s;
  walk(props, s);
  return s.ok;
}

void write_properties(std::string& out, const properties& props) {
  write_varint(static_cast<std::uint32_t>(properties_size(props)), out);
  write_properties_body(out, props);
}

void write_properties_body(std::string& out, const properties& props, std::optional<std::uint32_t> message_expiry) {
  if (!message_expiry) return walk(props, write_sink{out});
  write_sink s{out};
  // The forwarded interval is what is left of it (MQTT-3.3.2-6); written first, ids ascend.
  if (props.payload_format_indicator) s.byte(property_id::payload_format_indicator, *props.payload_format_indicator);
  s.u32(property_id::message_expiry_interval, *message_expiry);
  struct skip_first_two {
    write_sink& s;
    void byte(property_id i, std::uint8_t v) {
      if (i != property_id::payload_format_indicator) s.byte(i, v);
    }
    void u16(property_id i, std::uint16_t v) { s.u16(i, v); }
    void u32(property_id i, std::uint32_t v) {
      if (i != property_id::message_expiry_interval) s.u32(i, v);
    }
    void var(property_id i, std::uint32_t v) { s.var(i, v); }
    void str(property_id i, const std::string& v) { s.str(i, v); }
    void pair(property_id i, const std::string& k, const std::string& v) { s.pair(i, k, v); }
  };
  walk(props, skip_first_two{s});
}

}  // namespace detail
}  // namespace edgemq::mqtt
