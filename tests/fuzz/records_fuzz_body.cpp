// The broker's durable records (persistence/broker_records): what the decoders accept survives
// encode + decode unchanged, and every record the encoders write decodes to what was written.
#include <string>

#include "fuzz_bodies.hpp"
#include "fuzz_support.hpp"
#include "persistence/broker_records.hpp"

namespace edgemq::fuzz {
namespace {

namespace b = broker;
namespace p = persistence;

constexpr std::string_view topic_chars = "abcxyz019/_-$";
constexpr std::string_view filter_chars = "abcxyz019/_-$+#";

bool same_session(const b::session_image& x, const b::session_image& y) {  // client_id lives in the key
  if (x.expiry_interval != y.expiry_interval || x.disconnected_wall_ms != y.disconnected_wall_ms ||
      x.subscriptions.size() != y.subscriptions.size())
    return false;
  for (std::size_t i = 0; i < x.subscriptions.size(); ++i) {
    const auto& s = x.subscriptions[i];
    const auto& t = y.subscriptions[i];
    if (s.filter != t.filter || !(s.options == t.options) || s.subscription_id != t.subscription_id) return false;
  }
  return true;
}

bool same_message(const b::message& x, const b::message& y) {
  return x.topic == y.topic && x.payload == y.payload && x.qos == y.qos && x.retain == y.retain &&
         x.origin_client_id == y.origin_client_id && x.props.get() == y.props.get();
}

bool same_delivery(const p::stored_delivery& x, const p::stored_delivery& y) {
  return x.stage == y.stage && x.packet_id == y.packet_id && x.expires_wall_ms == y.expires_wall_ms &&
         x.d.qos == y.d.qos && x.d.retain == y.d.retain && x.d.subscription_ids == y.d.subscription_ids &&
         same_message(*x.d.msg, *y.d.msg);
}

// Raw bytes read as a stored record: an accepted record re-encodes to one that decodes the same.
void raw(std::string_view in) {
  if (const auto s = p::decode_session(in)) {
    const auto enc = p::encode_session(*s);
    check(enc.size() == in.size());
    const auto again = p::decode_session(enc);
    check(again && same_session(*s, *again));
  }
  if (const auto d = p::decode_delivery(in)) {
    // A record that decoded was encodable once: re-encoding must succeed.
    const auto enc = p::encode_delivery(d->stage, d->packet_id, d->d, d->expires_wall_ms);
    check(enc.has_value());
    const auto again = p::decode_delivery(*enc);
    check(again && same_delivery(*d, *again));
  }
  std::string_view rest = in;
  if (const auto m = p::decode_message(rest)) {
    check(rest.size() < in.size());
    const auto enc = p::encode_message(m->first, m->second);
    check(enc.has_value());
    std::string_view e = *enc;
    const auto again = p::decode_message(e);
    check(again && e.empty() && again->second == m->second && same_message(m->first, again->first));
  }
}

b::message make_message(byte_source& src) {
  b::message m;
  m.topic = "t/" + src.text(topic_chars, 40);
  m.payload = src.bytes(64);
  m.qos = static_cast<mqtt::qos>(src.byte() % 3);
  m.retain = src.flag();
  m.origin_client_id = src.bytes(24);
  if (src.flag()) {
    mqtt::properties pr;
    if (src.flag()) pr.payload_format_indicator = 0;
    if (src.flag()) pr.message_expiry_interval = static_cast<std::uint32_t>(src.uint(4));
    if (src.flag()) pr.content_type = src.text(topic_chars, 16);
    if (src.flag()) pr.response_topic = "r/" + src.text(topic_chars, 16);
    if (src.flag()) pr.correlation_data = src.bytes(16);
    for (int n = src.byte() % 3; n > 0; --n)
      pr.user_properties.emplace_back(src.text(topic_chars, 8), src.text(topic_chars, 8));
    m.props = std::move(pr);
  }
  return m;
}

// Records built from the bytes: decode(encode(x)) == x for each kind.
void structured(byte_source& src) {
  b::session_image s;
  s.expiry_interval = static_cast<std::uint32_t>(src.uint(4));
  s.disconnected_wall_ms = src.uint(8);
  for (int n = src.byte() % 6; n > 0; --n) {
    b::stored_subscription sub;
    sub.filter = src.text(filter_chars, 40);
    sub.options.qos = static_cast<mqtt::qos>(src.byte() % 3);
    sub.options.no_local = src.flag();
    sub.options.retain_as_published = src.flag();
    sub.options.retain_handling = static_cast<mqtt::retain_handling>(src.byte() % 3);
    sub.subscription_id = static_cast<std::uint32_t>(src.uint(4));
    s.subscriptions.push_back(std::move(sub));
  }
  const auto s2 = p::decode_session(p::encode_session(s));
  check(s2 && same_session(s, *s2));

  const auto m = make_message(src);
  const auto expires = src.uint(8);
  const auto enc = p::encode_message(m, expires);
  check(enc.has_value());
  std::string_view e = *enc;
  const auto m2 = p::decode_message(e);
  check(m2 && e.empty() && m2->second == expires && same_message(m, m2->first));

  p::stored_delivery d;
  d.stage = static_cast<b::stored_stage>(src.byte() % 3);
  d.packet_id = static_cast<std::uint16_t>(src.uint(2));
  d.d.qos = static_cast<mqtt::qos>(src.byte() % 3);
  d.d.retain = src.flag();
  for (int n = src.byte() % 4; n > 0; --n) d.d.subscription_ids.push_back(static_cast<std::uint32_t>(src.uint(4)));
  d.d.msg = std::make_shared<b::message>(make_message(src));
  d.expires_wall_ms = src.uint(8);
  const auto denc = p::encode_delivery(d.stage, d.packet_id, d.d, d.expires_wall_ms);
  check(denc.has_value());
  const auto d2 = p::decode_delivery(*denc);
  check(d2 && same_delivery(d, *d2));
}

}  // namespace

void records_one_input(const std::uint8_t* data, std::size_t size) {
  raw(as_text(data, size));
  byte_source src(data, size);
  structured(src);
}

}  // namespace edgemq::fuzz
