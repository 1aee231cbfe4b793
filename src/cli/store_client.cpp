#include "cli/store_client.hpp"

#include <algorithm>
#include <chrono>

#include "edgemq/statestore/protocol.hpp"

namespace edgemq::cli {

namespace resp3 = statestore::resp3;

namespace {

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// HLC node ids cannot contain ':' (the field separator).
std::string node_id(std::string id) {
  std::replace(id.begin(), id.end(), ':', '_');
  return id.empty() ? std::string("edgemq-cli") : id;
}

const std::string* user_property(const mqtt::publish& m, std::string_view name) {
  for (const auto& [k, v] : m.props.user_properties)
    if (k == name) return &v;
  return nullptr;
}

std::optional<std::string> unhex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::mt19937_64 seeded() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd(), static_cast<unsigned>(wall_ms())};
  return std::mt19937_64(seq);
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  static auto rng = seeded();
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto b = static_cast<unsigned>(rng() & 0xFF);
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0xF]);
  }
  return out;
}

store_client::store_client(session& s, deadline d)
    : s_(s),
      // The Go SDK's form: the hex client id keeps the topic valid whatever the id contains.
      response_topic_("clients/" + statestore::hex_upper(s.client_id()) + "/" + std::string(statestore::request_topic) +
                      "/response"),
      notify_prefix_(std::string(statestore::reserved_response_prefix) + "/" + statestore::hex_upper(s.client_id()) +
                     std::string(statestore::notify_infix)),
      clock_(node_id(s.client_id())),
      rng_(seeded()) {
  s_.subscribe(response_topic_, d);
}

store_reply store_client::invoke(const std::vector<std::string_view>& parts,
                                 const std::optional<std::string>& fencing_token, deadline d) {
  std::string correlation(16, '\0');
  for (std::size_t i = 0; i < correlation.size(); i += 8) {
    const auto r = rng_();
    for (std::size_t j = 0; j < 8; ++j) correlation[i + j] = static_cast<char>((r >> (8 * j)) & 0xFF);
  }
  mqtt::publish req;
  req.topic = std::string(statestore::request_topic);
  req.payload = resp3::request(parts);
  req.props.response_topic = response_topic_;
  req.props.correlation_data = correlation;
  req.props.content_type = "application/octet-stream";
  req.props.payload_format_indicator = 0;
  if (d) {
    const auto left = std::chrono::ceil<std::chrono::seconds>(*d - steady::now()).count();
    req.props.message_expiry_interval = static_cast<std::uint32_t>(std::max<std::int64_t>(left, 1));
  }
  auto& up = req.props.user_properties;
  up.emplace_back(statestore::prop::source_id, s_.client_id());
  up.emplace_back(statestore::prop::protocol_version, statestore::protocol_version);
  up.emplace_back(statestore::prop::timestamp, clock_.tick(wall_ms()).to_string());
  if (fencing_token) up.emplace_back(statestore::prop::fencing_token, *fencing_token);
  s_.publish(std::move(req), d);

  for (;;) {
    auto m = s_.receive(d);
    if (!m) throw cli_error(exit_failure, "timed out waiting for the state store's reply");
    if (m->topic != response_topic_ || m->props.correlation_data != correlation) {
      if (auto n = as_notification(*m)) pending_.push_back(std::move(*n));
      continue;  // a late reply to an earlier request, or a stray message: not ours
    }
    const auto* stat = user_property(*m, statestore::prop::status);
    if (!stat) throw cli_error(exit_failure, "the state store's reply has no __stat");
    if (*stat != statestore::status_ok) {
      std::string why = "the state store answered with status " + *stat;
      if (const auto* msg = user_property(*m, statestore::prop::status_message)) why += ": " + *msg;
      throw cli_error(exit_failure, why);
    }
    auto parsed = resp3::parse_reply(m->payload);
    if (!parsed) throw cli_error(exit_failure, "the state store's reply is not valid RESP3");
    store_reply out;
    out.value = std::move(*parsed);
    if (const auto* ts = user_property(*m, statestore::prop::timestamp)) {
      out.version = *ts;
      // Fold the store's clock into ours so that our next __ts is later than this version.
      if (auto h = statestore::hlc::parse(*ts)) clock_.tick(wall_ms(), &*h);
    }
    return out;
  }
}

void store_client::watch(std::string_view key, deadline d) {
  s_.subscribe(notify_prefix_ + statestore::hex_upper(key), d);
  auto r = invoke({"KEYNOTIFY", key}, std::nullopt, d);
  if (r.value.type == resp3::reply::kind::error)
    throw cli_error(exit_service_error, "state store error: " + r.value.text);
  if (r.value.type != resp3::reply::kind::simple || r.value.text != "OK")
    throw cli_error(exit_failure, "unexpected reply to KEYNOTIFY");
}

std::optional<key_notification> store_client::as_notification(const mqtt::publish& m) const {
  if (!m.topic.starts_with(notify_prefix_)) return std::nullopt;
  auto key = unhex(std::string_view(m.topic).substr(notify_prefix_.size()));
  auto parsed = resp3::parse_reply(m.payload);
  const auto* ts = user_property(m, statestore::prop::timestamp);
  if (!key || !parsed || parsed->type != resp3::reply::kind::array || !ts) return std::nullopt;
  const auto& items = parsed->items;
  key_notification n;
  n.key = std::move(*key);
  n.version = *ts;
  if (items.size() == 4 && items[0] == "NOTIFY" && items[1] == "SET" && items[2] == "VALUE") {
    n.op = key_notification::kind::set;
    n.value = items[3];
    return n;
  }
  if (items.size() == 2 && items[0] == "NOTIFY" && items[1] == "DELETE") {
    n.op = key_notification::kind::del;
    return n;
  }
  return std::nullopt;
}

std::optional<key_notification> store_client::next_notification(deadline d) {
  for (;;) {
    if (!pending_.empty()) {
      auto n = std::move(pending_.front());
      pending_.pop_front();
      return n;
    }
    auto m = s_.receive(d);
    if (!m) return std::nullopt;
    if (auto n = as_notification(*m)) return n;
  }
}

}  // namespace edgemq::cli
