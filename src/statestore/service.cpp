#include "statestore/service.hpp"

#include <algorithm>
#include <charconv>

#include "edgemq/mqtt/codec.hpp"
#include "edgemq/statestore/resp3.hpp"
#include "statestore/command.hpp"
#include "statestore/quota.hpp"

namespace edgemq::statestore {

std::size_t notification_topic_size(std::string_view client_id, std::string_view key) {
  return reserved_response_prefix.size() + 1 + 2 * client_id.size() + notify_infix.size() + 2 * key.size();
}

std::string notification_topic(std::string_view client_id, std::string_view key) {
  std::string topic(reserved_response_prefix);
  topic += '/';
  topic += hex_upper(client_id);
  topic += notify_infix;
  topic += hex_upper(key);
  return topic;
}

service::service(service_limits lim, std::function<std::uint64_t()> wall_ms, key_authorizer auth)
    : limits_(std::move(lim)), wall_ms_(std::move(wall_ms)), auth_(std::move(auth)), clock_(limits_.node_id) {}

std::error_code service::load(backend& b, effects& fx) {
  const auto now = wall_ms_();
  hlc newest{0, 0, limits_.node_id};
  auto ec = b.load([&](std::string key, key_record r) {
    if (r.version > newest) newest = r.version;
    if (r.expires_at_ms && *r.expires_at_ms <= now) {  // expired while we were down
      fx.writes.push_back({key, std::nullopt});
      return;
    }
    bytes_ += key.size() + r.value.size();
    track_expiry(key, r);
    keys_.emplace(std::move(key), std::move(r));
  });
  // Versions handed out after a restart stay above every stored one, even if the wall clock
  // went backwards.
  clock_.tick(now, &newest);
  return ec;
}

response service::execute(const request& r, effects& fx) {
  auto resp = dispatch(r, fx);
  // .NET refuses a SET reply without __ts, errors included: give those the store's current time.
  if (!resp.version) {
    if (is_set_request(r.payload)) resp.version = clock_.last().to_string();
  }
  return resp;
}

response service::dispatch(const request& r, effects& fx) {
  auto parsed = parse_command(r, wall_ms_(), limits_.max_clock_skew_ms, auth_, stats_.denied);
  if (auto* refused = std::get_if<response>(&parsed)) return std::move(*refused);
  const auto& c = std::get<command>(parsed);
  const hlc* ts = c.ts ? &*c.ts : nullptr;
  const hlc* ft = c.ft ? &*c.ft : nullptr;
  switch (c.op) {
    case command::verb::set:
      return set(r, c, ts, ft, fx);
    case command::verb::get:
      return get(c.key, fx);
    case command::verb::del:
      return del(r, c.key, std::nullopt, ts, ft, fx);
    case command::verb::vdel:
      return del(r, c.key, std::string_view(c.value), ts, ft, fx);
    case command::verb::keynotify:
    case command::verb::keynotify_stop:
      return keynotify(r, c);
  }
  return {resp3::error(err::unknown), std::nullopt};
}

response service::set(const request& r, const command& c, const hlc* ts, const hlc* ft, effects& fx) {
  using cond = command::condition;
  const auto condition = c.cond;
  const auto& px = c.px;
  const std::string& key = c.key;
  const std::string_view value = c.value;
  key_record* existing = find_live(key, fx);

  // Fencing (1.5): a protected key needs a token at least as new as the one protecting it.
  if (existing && existing->fencing_token) {
    if (!ft) return {resp3::error(err::ft_required), clock_.last().to_string()};
    if (*ft < *existing->fencing_token) return {resp3::error(err::ft_lower), clock_.last().to_string()};
  }
  // Every SET reply carries a version, the :-1 "not applied" too (.NET requires it).
  if ((condition == cond::nx && existing) || (condition == cond::nex && existing && existing->value != value))
    return {resp3::integer(-1), clock_.tick(wall_ms_(), ts).to_string()};

  const std::size_t new_bytes = quota_usage::entry_bytes(key, value);
  const std::size_t old_bytes = existing ? quota_usage::entry_bytes(key, existing->value) : 0;
  if (quota_exceeded({limits_.max_keys, limits_.max_bytes}, {keys_.size(), bytes_}, key, value,
                     existing ? std::optional<std::string_view>(existing->value) : std::nullopt))
    return {resp3::error(err::quota), clock_.last().to_string()};

  const auto now = wall_ms_();
  key_record rec;
  rec.value = std::string(value);
  rec.version = clock_.tick(now, ts);
  if (existing && existing->fencing_token)
    rec.fencing_token = std::max(*existing->fencing_token, *ft);
  else if (ft)
    rec.fencing_token = *ft;
  if (px) rec.expires_at_ms = now + *px;
  if (existing) {
    untrack_expiry(key, *existing);
    ++stats_.modifications;
  } else {
    ++stats_.insertions;
  }
  bytes_ = bytes_ - old_bytes + new_bytes;
  track_expiry(key, rec);
  fx.writes.push_back({key, rec});
  if (watches_.contains(key))  // the notification is encoded only when someone watches
    notify(key, resp3::request({"NOTIFY", "SET", "VALUE", value}), rec.version, fx);
  const auto version = rec.version.to_string();
  if (journal_on_) remember(key, existing ? std::optional<key_record>(std::move(*existing)) : std::nullopt);
  keys_.insert_or_assign(key, std::move(rec));
  return {resp3::ok(), version};
}

response service::get(std::string_view key, effects& fx) {
  ++stats_.retrievals;
  key_record* rec = find_live(key, fx);
  if (!rec) return {resp3::null_bulk(), std::nullopt};  // a miss carries no version
  return {resp3::bulk(rec->value), rec->version.to_string()};
}

response service::del(const request& r, std::string_view key_view, const std::optional<std::string_view>& expected,
                      const hlc* ts, const hlc* ft, effects& fx) {
  const std::string key(key_view);
  key_record* rec = find_live(key, fx);
  if (!rec) return {resp3::integer(0), clock_.tick(wall_ms_(), ts).to_string()};
  if (rec->fencing_token) {
    if (!ft) return {resp3::error(err::ft_required), std::nullopt};
    if (*ft < *rec->fencing_token) return {resp3::error(err::ft_lower), std::nullopt};
  }
  if (expected && rec->value != *expected) return {resp3::integer(-1), clock_.tick(wall_ms_(), ts).to_string()};
  const auto version = clock_.tick(wall_ms_(), ts);
  erase(key, version, fx);
  return {resp3::integer(1), version.to_string()};
}

response service::keynotify(const request& r, const command& c) {
  ++stats_.keynotify_requests;
  const std::string& key = c.key;
  if (c.op == command::verb::keynotify_stop) {
    auto it = watches_.find(key);
    if (it == watches_.end() || !it->second.contains(r.client_id)) return {resp3::integer(0), std::nullopt};
    const auto conn = it->second[r.client_id];
    it->second.erase(r.client_id);
    if (it->second.empty()) watches_.erase(it);
    watches_by_connection_[conn].erase({key, r.client_id});
    return {resp3::ok(), std::nullopt};
  }
  // Notifications go to a topic built from the client id and the key: one that MQTT cannot carry
  // is refused here, not sent wrapped or silently dropped later.
  if (notification_topic_size(r.client_id, key) > mqtt::max_field_length)
    return {resp3::error(err::notify_too_long), std::nullopt};
  auto& by_client = watches_[key];
  if (auto old = by_client.find(r.client_id); old != by_client.end() && old->second != r.connection_id)
    watches_by_connection_[old->second].erase({key, r.client_id});
  by_client[r.client_id] = r.connection_id;
  watches_by_connection_[r.connection_id].insert({key, r.client_id});
  return {resp3::ok(), std::nullopt};
}

void service::connection_closed(std::uint64_t connection_id) {
  auto it = watches_by_connection_.find(connection_id);
  if (it == watches_by_connection_.end()) return;
  for (const auto& [key, client] : it->second) {
    auto w = watches_.find(key);
    if (w == watches_.end()) continue;
    if (auto c = w->second.find(client); c != w->second.end() && c->second == connection_id) w->second.erase(c);
    if (w->second.empty()) watches_.erase(w);
  }
  watches_by_connection_.erase(it);
}

const key_record* service::peek(std::string_view key) const {
  auto it = keys_.find(std::string(key));
  return it == keys_.end() ? nullptr : &it->second;
}

key_record* service::find_live(std::string_view key_view, effects& fx) {
  const std::string key(key_view);
  auto it = keys_.find(key);
  if (it == keys_.end()) return nullptr;
  if (it->second.expires_at_ms && *it->second.expires_at_ms <= wall_ms_()) {  // exact to the ms
    erase(key, clock_.tick(wall_ms_()), fx);
    return nullptr;
  }
  return &it->second;
}

void service::erase(const std::string& key, const hlc& version, effects& fx) {
  auto it = keys_.find(key);
  if (it == keys_.end()) return;
  untrack_expiry(key, it->second);
  bytes_ -= key.size() + it->second.value.size();
  if (journal_on_) remember(key, std::move(it->second));
  keys_.erase(it);
  ++stats_.deletions;
  fx.writes.push_back({key, std::nullopt});
  notify(key, resp3::request({"NOTIFY", "DELETE"}), version, fx);
}

void service::remember(const std::string& key, std::optional<key_record> previous) {
  journal_.emplace_back(key, std::move(previous));
}

void service::keep_oldest_changes(std::size_t n) {
  journal_.erase(journal_.begin(), journal_.begin() + static_cast<std::ptrdiff_t>(std::min(n, journal_.size())));
}

void service::undo_changes() {
  undo_changes_since(0);
}

void service::undo_changes_since(std::size_t mark) {
  // Newest first, so a key changed twice ends with the record it had before the batch.
  for (auto it = journal_.rbegin();
       it != journal_.rend() - static_cast<std::ptrdiff_t>(std::min(mark, journal_.size())); ++it) {
    auto& [key, previous] = *it;
    if (auto cur = keys_.find(key); cur != keys_.end()) {
      untrack_expiry(key, cur->second);
      bytes_ -= key.size() + cur->second.value.size();
      keys_.erase(cur);
    }
    if (previous) {
      bytes_ += key.size() + previous->value.size();
      track_expiry(key, *previous);
      keys_.emplace(key, std::move(*previous));
    }
  }
  journal_.resize(std::min(mark, journal_.size()));
}

void service::notify(const std::string& key, const std::string& payload, const hlc& version, effects& fx) {
  auto it = watches_.find(key);
  if (it == watches_.end()) return;
  const auto v = version.to_string();
  for (const auto& [client, conn] : it->second) {
    fx.notifications.push_back({client, key, payload, v});
    ++stats_.notifications;
  }
}

void service::expire(effects& fx) {
  const auto now = wall_ms_();
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    const std::string key = expiries_.begin()->second;
    erase(key, clock_.tick(now), fx);  // removes the expiries_ entry too
  }
}

std::optional<std::uint64_t> service::next_expiry_ms() const {
  if (expiries_.empty()) return std::nullopt;
  return expiries_.begin()->first;
}

void service::track_expiry(const std::string& key, const key_record& r) {
  if (r.expires_at_ms) expiries_.emplace(*r.expires_at_ms, key);
}

void service::untrack_expiry(const std::string& key, const key_record& r) {
  if (!r.expires_at_ms) return;
  auto [a, b] = expiries_.equal_range(*r.expires_at_ms);
  for (auto it = a; it != b; ++it)
    if (it->second == key) {
      expiries_.erase(it);
      return;
    }
}

std::vector<std::pair<std::string, const key_record*>> service::list(std::string_view prefix, std::string_view after,
                                                                     std::size_t limit, bool& more) const {
  std::vector<std::pair<std::string, const key_record*>> out;
  const auto now = wall_ms_();
  for (const auto& [key, rec] : keys_) {
    if (!key.starts_with(prefix) || (!after.empty() && key <= after)) continue;
    if (rec.expires_at_ms && *rec.expires_at_ms <= now) continue;  // expired, not yet swept
    out.emplace_back(key, &rec);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  more = out.size() > limit;
  if (more) out.resize(limit);
  return out;
}

}  // namespace edgemq::statestore
