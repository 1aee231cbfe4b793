#include "cluster/bus_codec.hpp"

#include <charconv>

#include "cluster/subject_map.hpp"

namespace edgemq::cluster {

namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace

header_list encode_headers(const broker::message& m, std::string_view origin, std::uint64_t seq,
                           broker::clock::time_point now) {
  header_list h;
  h.emplace_back(hdr::origin, std::string(origin));
  h.emplace_back(hdr::seq, std::to_string(seq));
  if (!m.origin_client_id.empty()) h.emplace_back(hdr::client, header_escape(m.origin_client_id));
  h.emplace_back(hdr::qos, std::to_string(static_cast<unsigned>(m.qos)));
  if (m.retain) h.emplace_back(hdr::retain, "1");
  if (const auto* p = m.props.ptr()) {
    if (p->payload_format_indicator) h.emplace_back(hdr::format, std::to_string(*p->payload_format_indicator));
    if (p->content_type) h.emplace_back(hdr::content_type, header_escape(*p->content_type));
    if (p->response_topic) h.emplace_back(hdr::response_topic, header_escape(*p->response_topic));
    if (p->correlation_data) h.emplace_back(hdr::correlation, header_escape(*p->correlation_data));
    for (const auto& [k, v] : p->user_properties) h.emplace_back(hdr::user, header_escape(k) + "=" + header_escape(v));
  }
  if (auto left = m.remaining_expiry(now)) h.emplace_back(hdr::expiry, std::to_string(*left));
  return h;
}

decoded decode_message(std::string topic, std::string_view payload,
                       const std::function<std::vector<std::string>(const char* key)>& values,
                       broker::clock::time_point now) {
  decoded d;
  const auto one = [&](const char* key) -> std::optional<std::string> {
    auto v = values(key);
    if (v.empty()) return std::nullopt;
    return std::move(v.front());
  };
  auto m = std::make_shared<broker::message>();
  m->topic = std::move(topic);
  m->payload.assign(payload);
  if (auto o = one(hdr::origin)) d.origin = std::move(*o);
  if (auto s = one(hdr::seq); !s || !parse_number(*s, d.seq)) return d;
  unsigned q = 0;
  if (auto s = one(hdr::qos); !s || !parse_number(*s, q) || q > 2) return d;
  m->qos = static_cast<mqtt::qos>(q);
  m->retain = one(hdr::retain).has_value();
  if (auto c = one(hdr::client)) {
    auto id = header_unescape(*c);
    if (!id) return d;
    m->origin_client_id = std::move(*id);
  }
  mqtt::properties props;
  bool any = false;
  if (auto s = one(hdr::format)) {
    unsigned f = 0;
    if (!parse_number(*s, f) || f > 1) return d;
    props.payload_format_indicator = static_cast<std::uint8_t>(f);
    any = true;
  }
  const auto text = [&](const char* key, std::optional<std::string>& out) {
    auto s = one(key);
    if (!s) return true;
    out = header_unescape(*s);
    any = true;
    return out.has_value();
  };
  if (!text(hdr::content_type, props.content_type) || !text(hdr::response_topic, props.response_topic) ||
      !text(hdr::correlation, props.correlation_data))
    return d;
  for (const auto& up : values(hdr::user)) {
    const auto eq = up.find('=');
    if (eq == std::string::npos) return d;
    auto k = header_unescape(std::string_view(up).substr(0, eq));
    auto v = header_unescape(std::string_view(up).substr(eq + 1));
    if (!k || !v) return d;
    props.user_properties.emplace_back(std::move(*k), std::move(*v));
    any = true;
  }
  if (auto s = one(hdr::expiry)) {
    std::uint32_t left = 0;
    if (!parse_number(*s, left)) return d;
    props.message_expiry_interval = left;
    m->expires_at = now + std::chrono::seconds(left);
    any = true;
  }
  if (any) m->props = std::move(props);
  d.msg = std::move(m);
  return d;
}

}  // namespace edgemq::cluster
