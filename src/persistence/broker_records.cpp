#include "persistence/broker_records.hpp"

#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace edgemq::persistence {
namespace {

void put_uint(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xFF));
}
void put_str(std::string& out, std::string_view s) {
  put_uint(out, s.size(), 4);
  out.append(s);
}

struct reader {
  std::string_view& s;
  bool ok = true;
  std::uint64_t uint(int bytes) {
    if (s.size() < static_cast<std::size_t>(bytes)) return fail();
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<std::uint8_t>(s[static_cast<std::size_t>(i)]);
    s.remove_prefix(static_cast<std::size_t>(bytes));
    return v;
  }
  std::string str() {
    const auto n = uint(4);
    if (!ok || n > s.size()) return fail(), std::string();
    std::string v(s.substr(0, n));
    s.remove_prefix(n);
    return v;
  }
  std::uint64_t fail() {
    ok = false;
    s = {};
    return 0;
  }
};

std::string keyed(char kind, std::string_view id) {
  std::string k(1, kind);
  k.append(id);
  return k;
}

std::uint8_t options_byte(const mqtt::subscribe_options& o) {
  return static_cast<std::uint8_t>(static_cast<std::uint8_t>(o.qos) | (o.no_local ? 0x04 : 0) |
                                   (o.retain_as_published ? 0x08 : 0) |
                                   (static_cast<std::uint8_t>(o.retain_handling) << 4));
}

// Nullopt for bytes no SUBSCRIBE could have granted (QoS 3, retain handling 3, reserved bits):
// such a record is corrupt, not a subscription to restore.
std::optional<mqtt::subscribe_options> options_from(std::uint8_t b) {
  if ((b & 0x03) == 0x03 || ((b >> 4) & 0x03) == 0x03 || (b & 0xC0) != 0) return std::nullopt;
  mqtt::subscribe_options o;
  o.qos = static_cast<mqtt::qos>(b & 0x03);
  o.no_local = b & 0x04;
  o.retain_as_published = b & 0x08;
  o.retain_handling = static_cast<mqtt::retain_handling>((b >> 4) & 0x03);
  return o;
}

}  // namespace

std::string session_key(std::string_view c) {
  return keyed('S', c);
}
std::string retained_key(std::string_view t) {
  return keyed('R', t);
}
std::string will_key(std::string_view c) {
  return keyed('W', c);
}
std::string client_range_begin(char kind, std::string_view c) {
  return keyed(kind, c) + std::string(1, '\0');
}
std::string client_range_end(char kind, std::string_view c) {
  return keyed(kind, c) + std::string(1, '\1');
}
std::string message_key(std::string_view c, std::uint64_t seq) {
  auto k = client_range_begin('M', c);
  put_uint(k, seq, 8);
  return k;
}
std::string qos2_key(std::string_view c, std::uint16_t id) {
  auto k = client_range_begin('Q', c);
  put_uint(k, id, 2);
  return k;
}

std::optional<std::string> encode_message(const broker::message& m, std::uint64_t expires_wall_ms) {
  std::string out;
  put_uint(out, expires_wall_ms, 8);
  put_str(out, m.origin_client_id);
  mqtt::publish p;
  p.topic = m.topic;
  p.payload = m.payload;
  p.qos = m.qos;
  p.retain = m.retain;
  p.packet_id = m.qos == mqtt::qos::at_most_once ? 0 : 1;
  p.props = m.props.get();
  std::string packet;
  // Only a message at the very limit of max_packet_size can fail here (a 3.1.1 PUBLISH whose
  // MQTT 5 form is one byte longer than a packet may be): refused, so that it is never
  // acknowledged as stored while its record could not be read back.
  if (mqtt::encode(p, mqtt::protocol_version::v5, packet)) return std::nullopt;
  put_str(out, packet);
  return out;
}

std::optional<std::pair<broker::message, std::uint64_t>> decode_message(std::string_view& in) {
  reader r{in};
  const auto expires = r.uint(8);
  auto origin = r.str();
  const auto packet = r.str();
  if (!r.ok) return std::nullopt;
  const auto f = mqtt::parse_frame({reinterpret_cast<const std::uint8_t*>(packet.data()), packet.size()}, 1u << 28);
  if (f.status != mqtt::frame_status::complete) return std::nullopt;
  auto decoded = mqtt::decode(f.value.header, f.value.body, mqtt::protocol_version::v5);
  if (!decoded || !std::holds_alternative<mqtt::publish>(*decoded)) return std::nullopt;
  auto& p = std::get<mqtt::publish>(*decoded);
  broker::message m;
  m.topic = std::move(p.topic);
  m.payload = std::move(p.payload);
  m.qos = p.qos;
  m.retain = p.retain;
  if (p.props != mqtt::properties{}) m.props = std::move(p.props);
  m.origin_client_id = std::move(origin);
  return std::make_pair(std::move(m), expires);
}

std::string encode_session(const broker::session_image& s) {
  std::string out(1, static_cast<char>(broker_record_format));
  put_uint(out, s.expiry_interval, 4);
  put_uint(out, s.disconnected_wall_ms, 8);
  put_uint(out, s.subscriptions.size(), 4);
  for (const auto& sub : s.subscriptions) {
    put_str(out, sub.filter);
    put_uint(out, options_byte(sub.options), 1);
    put_uint(out, sub.subscription_id, 4);
  }
  return out;
}

std::optional<broker::session_image> decode_session(std::string_view in) {
  reader r{in};
  if (r.uint(1) != broker_record_format) return std::nullopt;
  broker::session_image s;
  s.expiry_interval = static_cast<std::uint32_t>(r.uint(4));
  s.disconnected_wall_ms = r.uint(8);
  const auto n = r.uint(4);
  for (std::uint64_t i = 0; r.ok && i < n; ++i) {
    broker::stored_subscription sub;
    sub.filter = r.str();
    const auto options = options_from(static_cast<std::uint8_t>(r.uint(1)));
    if (!options) return std::nullopt;
    sub.options = *options;
    sub.subscription_id = static_cast<std::uint32_t>(r.uint(4));
    s.subscriptions.push_back(std::move(sub));
  }
  if (!r.ok || !in.empty()) return std::nullopt;
  return s;
}

std::optional<std::string> encode_delivery(broker::stored_stage stage, std::uint16_t packet_id,
                                           const broker::delivery& d, std::uint64_t expires_wall_ms) {
  std::string out(1, static_cast<char>(broker_record_format));
  put_uint(out, static_cast<std::uint8_t>(stage), 1);
  put_uint(out, packet_id, 2);
  put_uint(out, static_cast<std::uint8_t>(d.qos), 1);
  put_uint(out, d.retain ? 1 : 0, 1);
  put_uint(out, d.subscription_ids.size(), 2);
  for (auto id : d.subscription_ids) put_uint(out, id, 4);
  auto message = encode_message(*d.msg, expires_wall_ms);
  if (!message) return std::nullopt;
  return out += *message;
}

std::optional<stored_delivery> decode_delivery(std::string_view in) {
  reader r{in};
  if (r.uint(1) != broker_record_format) return std::nullopt;
  stored_delivery sd;
  sd.stage = static_cast<broker::stored_stage>(r.uint(1));
  sd.packet_id = static_cast<std::uint16_t>(r.uint(2));
  sd.d.qos = static_cast<mqtt::qos>(r.uint(1));
  sd.d.retain = r.uint(1) != 0;
  const auto n = r.uint(2);
  for (std::uint64_t i = 0; r.ok && i < n; ++i) sd.d.subscription_ids.push_back(static_cast<std::uint32_t>(r.uint(4)));
  if (!r.ok || static_cast<std::uint8_t>(sd.stage) > 2 || static_cast<std::uint8_t>(sd.d.qos) > 2) return std::nullopt;
  auto m = decode_message(in);
  if (!m || !in.empty()) return std::nullopt;
  sd.expires_wall_ms = m->second;
  sd.d.msg = std::make_shared<broker::message>(std::move(m->first));
  return sd;
}

std::optional<record_kind> record_kind_of(std::string_view key) {
  if (key.empty()) return std::nullopt;
  switch (key[0]) {
    case 'S':
      return record_kind::session;
    case 'M':
      return record_kind::message;
    case 'Q':
      return record_kind::inbound_qos2;
    case 'R':
      return record_kind::retained;
    case 'W':
      return record_kind::will;
    default:
      return std::nullopt;
  }
}

namespace {

// "<kind><client>\0<number of `bytes` bytes>": the client and the number, or false.
bool split_client_key(std::string_view key, std::size_t bytes, std::string& client, std::uint64_t& number) {
  if (key.size() < 2 + bytes || key[key.size() - bytes - 1] != '\0') return false;
  client.assign(key.substr(1, key.size() - bytes - 2));
  std::string_view tail = key.substr(key.size() - bytes);
  number = reader{tail}.uint(static_cast<int>(bytes));
  return true;
}

bool format_ok(std::string_view value) {
  return !value.empty() && static_cast<std::uint8_t>(value[0]) == broker_record_format;
}

std::optional<timed_message> decode_timed(std::string_view in) {
  auto m = decode_message(in);
  if (!m) return std::nullopt;
  return timed_message{std::move(m->first), m->second};
}

}  // namespace

std::optional<std::string> encode_retained_record(const broker::message& m, std::uint64_t expires_wall_ms) {
  auto message = encode_message(m, expires_wall_ms);
  if (!message) return std::nullopt;
  return std::string(1, static_cast<char>(broker_record_format)) + *message;
}

std::optional<timed_message> decode_retained_record(std::string_view value) {
  if (!format_ok(value)) return std::nullopt;
  return decode_timed(value.substr(1));
}

std::optional<broker::session_image> decode_session_record(std::string_view key, std::string_view value) {
  if (key.empty()) return std::nullopt;
  auto s = decode_session(value);
  if (s) s->client_id = std::string(key.substr(1));
  return s;
}

std::optional<message_record> decode_message_record(std::string_view key, std::string_view value) {
  message_record r;
  std::uint64_t seq = 0;
  if (!split_client_key(key, 8, r.client_id, seq)) return std::nullopt;
  auto d = decode_delivery(value);
  if (!d) return std::nullopt;
  r.delivery = std::move(*d);
  r.delivery.d.seq = seq;
  return r;
}

std::string encode_qos2_record() {
  return std::string(1, static_cast<char>(broker_record_format));
}

std::optional<qos2_record> decode_qos2_record(std::string_view key, std::string_view value) {
  qos2_record r;
  std::uint64_t id = 0;
  if (!format_ok(value) || !split_client_key(key, 2, r.client_id, id)) return std::nullopt;
  r.packet_id = static_cast<std::uint16_t>(id);
  return r;
}

std::optional<std::string> encode_will_record(const broker::message& will, std::uint64_t at_wall_ms,
                                              std::uint64_t expires_wall_ms) {
  auto message = encode_message(will, expires_wall_ms);
  if (!message) return std::nullopt;
  std::string v(1, static_cast<char>(broker_record_format));
  put_uint(v, at_wall_ms, 8);
  return v += *message;
}

std::optional<will_record> decode_will_record(std::string_view key, std::string_view value) {
  if (key.empty() || !format_ok(value)) return std::nullopt;
  value.remove_prefix(1);
  reader r{value};
  will_record w;
  w.at_wall_ms = r.uint(8);
  if (!r.ok) return std::nullopt;
  auto m = decode_timed(value);
  if (!m) return std::nullopt;
  w.client_id = std::string(key.substr(1));
  w.will = std::move(*m);
  return w;
}

broker::message_ptr to_message(timed_message m, broker::clock::time_point steady_at, std::uint64_t wall_at) {
  if (m.expires_wall_ms) m.msg.expires_at = broker::from_wall_ms(m.expires_wall_ms, steady_at, wall_at);
  return std::make_shared<broker::message>(std::move(m.msg));
}

}  // namespace edgemq::persistence
