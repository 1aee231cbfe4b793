#include "cluster/bus_codec.hpp"

#include <limits>

namespace edgemq::cluster {

namespace {

namespace f1 {
constexpr std::uint8_t qos_mask = 0x03, retain = 0x04, client = 0x08, format = 0x10, content_type = 0x20,
                       response_topic = 0x40, correlation = 0x80;
}
namespace f2 {
constexpr std::uint8_t expiry = 0x01, user = 0x02, topic = 0x04, end = 0x08, confirm = 0x10, known = 0x1F;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

// Reads from an untrusted buffer: every read checks what is left; any failure sticks.
struct reader {
  std::string_view in;
  bool ok = true;

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (in.empty()) break;
      const auto b = static_cast<std::uint8_t>(in.front());
      in.remove_prefix(1);
      if (shift == 63 && b > 1) break;  // more than 64 bits
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  std::uint8_t byte() {
    if (in.empty()) {
      ok = false;
      return 0;
    }
    const auto b = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    return b;
  }
  std::string_view bytes() {
    const auto n = varint();
    if (!ok || n > in.size()) {
      ok = false;
      return {};
    }
    const auto s = in.substr(0, n);
    in.remove_prefix(n);
    return s;
  }
};

}  // namespace

void encode_envelope(std::string& out, const broker::message& m, std::string_view origin, std::uint64_t seq,
                     broker::clock::time_point now, bool with_topic, bool confirm) {
  const auto* p = m.props.ptr();
  const auto left = m.remaining_expiry(now);
  std::uint8_t a = static_cast<std::uint8_t>(static_cast<unsigned>(m.qos) & f1::qos_mask);
  std::uint8_t b = 0;
  if (m.retain) a |= f1::retain;
  if (!m.origin_client_id.empty()) a |= f1::client;
  if (p) {
    if (p->payload_format_indicator) a |= f1::format;
    if (p->content_type) a |= f1::content_type;
    if (p->response_topic) a |= f1::response_topic;
    if (p->correlation_data) a |= f1::correlation;
    if (!p->user_properties.empty()) b |= f2::user;
  }
  if (left) b |= f2::expiry;
  if (with_topic) b |= f2::topic;
  if (confirm) b |= f2::confirm;

  out.clear();
  out.reserve(16 + origin.size() + m.origin_client_id.size() + (with_topic ? m.topic.size() + 2 : 0) +
              m.payload.size());
  out.push_back(static_cast<char>(envelope_magic));
  out.push_back(static_cast<char>(envelope_version));
  out.push_back(static_cast<char>(a));
  out.push_back(static_cast<char>(b));
  put_varint(out, seq);
  put_string(out, origin);
  if (a & f1::client) put_string(out, m.origin_client_id);
  if (a & f1::format) out.push_back(static_cast<char>(*p->payload_format_indicator));
  if (a & f1::content_type) put_string(out, *p->content_type);
  if (a & f1::response_topic) put_string(out, *p->response_topic);
  if (a & f1::correlation) put_string(out, *p->correlation_data);
  if (b & f2::expiry) put_varint(out, *left);
  if (b & f2::user) {
    put_varint(out, p->user_properties.size());
    for (const auto& [k, v] : p->user_properties) {
      put_string(out, k);
      put_string(out, v);
    }
  }
  if (with_topic) put_string(out, m.topic);
  out.append(m.payload);
}

std::string encode_end_marker(std::string_view origin) {
  std::string out;
  out.push_back(static_cast<char>(envelope_magic));
  out.push_back(static_cast<char>(envelope_version));
  out.push_back(0);
  out.push_back(static_cast<char>(f2::end));
  put_varint(out, 0);
  put_string(out, origin);
  return out;
}

decoded decode_envelope(std::optional<std::string> subject_topic, std::string_view data,
                        broker::clock::time_point now) {
  decoded d;
  reader r{data};
  if (r.byte() != envelope_magic || r.byte() != envelope_version) return d;
  const auto a = r.byte();
  const auto b = r.byte();
  if (!r.ok || (b & ~f2::known) || (a & f1::qos_mask) > 2) return d;
  d.seq = r.varint();
  const auto origin = r.bytes();
  if (!r.ok) return d;
  d.origin.assign(origin);
  d.confirm = (b & f2::confirm) != 0;
  if (b & f2::end) {
    d.end = true;
    return d;
  }
  auto m = std::make_shared<broker::message>();
  m->qos = static_cast<mqtt::qos>(a & f1::qos_mask);
  m->retain = (a & f1::retain) != 0;
  if (a & f1::client) m->origin_client_id.assign(r.bytes());
  mqtt::properties props;
  bool any = false;
  if (a & f1::format) {
    const auto v = r.byte();
    if (v > 1) return d;
    props.payload_format_indicator = v;
    any = true;
  }
  const auto text = [&](std::uint8_t bit, std::optional<std::string>& out) {
    if (!(a & bit)) return;
    out.emplace(r.bytes());
    any = true;
  };
  text(f1::content_type, props.content_type);
  text(f1::response_topic, props.response_topic);
  text(f1::correlation, props.correlation_data);
  if (b & f2::expiry) {
    const auto left = r.varint();
    if (left > std::numeric_limits<std::uint32_t>::max()) return d;
    props.message_expiry_interval = static_cast<std::uint32_t>(left);
    m->expires_at = now + std::chrono::seconds(left);
    any = true;
  }
  if (b & f2::user) {
    const auto n = r.varint();
    if (!r.ok || n > r.in.size() / 2) return d;  // each pair takes at least two bytes
    props.user_properties.reserve(n);
    for (std::uint64_t i = 0; i < n && r.ok; ++i) {
      const auto k = r.bytes();
      const auto v = r.bytes();
      props.user_properties.emplace_back(std::string(k), std::string(v));
    }
    any = true;
  }
  if (b & f2::topic)
    m->topic.assign(r.bytes());
  else if (subject_topic)
    m->topic = std::move(*subject_topic);
  else
    return d;  // no topic anywhere
  if (!r.ok) return d;
  m->payload.assign(r.in);
  if (any) m->props = std::move(props);
  d.msg = std::move(m);
  return d;
}

}  // namespace edgemq::cluster
