#include "cluster/session_records.hpp"

#include "persistence/broker_records.hpp"

namespace edgemq::cluster {
namespace {

std::string hex(std::string_view raw) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (const unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 0xF];
  }
  return out;
}

armed_will armed_from(persistence::will_record w, broker::clock::time_point now) {
  auto m = std::make_shared<broker::message>(std::move(w.will.msg));
  if (m->props->message_expiry_interval)  // counts from its publication
    m->expires_at = now + std::chrono::seconds(*m->props->message_expiry_interval);
  return {std::move(m), static_cast<std::uint32_t>(w.at_wall_ms & 0xFFFFFFFF)};
}

}  // namespace

std::optional<armed_will> decode_armed_will(std::string_view client_id, std::string_view value,
                                            broker::clock::time_point now) {
  auto w = persistence::decode_will_record(persistence::will_key(client_id), value);
  if (!w || w->client_id != client_id || !(w->at_wall_ms & armed_will_flag)) return std::nullopt;
  return armed_from(std::move(*w), now);
}

std::string session_owner_key(std::string_view root, std::string_view client_id) {
  return std::string(root) + "o/" + hex(client_id);
}

std::string session_records_prefix(std::string_view root, std::string_view client_id) {
  return std::string(root) + "s/" + hex(client_id) + "/";
}

decoded_session decode_session_records(std::string_view client_id,
                                       const std::vector<std::pair<std::string, std::string>>& records,
                                       broker::clock::time_point now, std::uint64_t wall) {
  using namespace persistence;
  decoded_session out;
  broker::session_registry::restored_session s;
  bool have_image = false;
  for (const auto& [key, value] : records) {
    const auto kind = record_kind_of(key);
    bool ok = false;
    switch (kind.value_or(record_kind::retained)) {
      case record_kind::session:
        if (auto img = decode_session_record(key, value); img && img->client_id == client_id) {
          s.image = std::move(*img);
          have_image = ok = true;
        }
        break;
      case record_kind::message:
        if (auto r = decode_message_record(key, value); r && r->client_id == client_id) {
          ok = true;
          auto& sd = r->delivery;
          if (sd.expires_wall_ms && sd.expires_wall_ms <= wall) break;  // expired meanwhile: dropped
          if (sd.expires_wall_ms)
            std::const_pointer_cast<broker::message>(sd.d.msg)->expires_at =
                broker::from_wall_ms(sd.expires_wall_ms, now, wall);
          s.messages.push_back({sd.stage, {sd.packet_id, std::move(sd.d)}});
        }
        break;
      case record_kind::inbound_qos2:
        if (auto r = decode_qos2_record(key, value); r && r->client_id == client_id) {
          s.inbound_qos2.push_back(r->packet_id);
          ok = true;
        }
        break;
      case record_kind::will:
        if (auto w = decode_will_record(key, value); w && w->client_id == client_id) {
          if (w->at_wall_ms & armed_will_flag) {
            auto a = armed_from(std::move(*w), now);
            out.armed_will = std::move(a.will);
            out.armed_delay_s = a.delay_s;
          } else {
            s.will = to_message(std::move(w->will), now, wall);
            s.will_at_wall_ms = w->at_wall_ms;
          }
          ok = true;
        }
        break;
      case record_kind::retained:
        break;  // never under a session's prefix
    }
    if (!ok) ++out.unreadable;
  }
  if (!have_image) {  // records without their session record: nothing to resume
    // ... but a will written back when its session ended, until it was published
    // (session_registry::end_locked): due now.
    if (s.will) out.due_will = std::move(s.will);
    return out;
  }
  // Messages in the order they were queued (range reads return key order, which is seq order,
  // but the caller may have merged several reads).
  std::stable_sort(s.messages.begin(), s.messages.end(),
                   [](const auto& a, const auto& b) { return a.second.second.seq < b.second.second.seq; });
  const auto& img = s.image;
  // A session whose connection was still open when its node died counts as disconnected now.
  const bool ended = img.expiry_interval != 0xFFFFFFFF && img.disconnected_wall_ms &&
                     img.disconnected_wall_ms + std::uint64_t{img.expiry_interval} * 1000 <= wall;
  if (ended) {
    out.expired = true;
    out.due_will = std::move(s.will);
    return out;
  }
  if (s.will && s.will_at_wall_ms <= wall) {
    out.due_will = std::move(s.will);
    s.will.reset();
  }
  out.session = std::move(s);
  return out;
}

}  // namespace edgemq::cluster
