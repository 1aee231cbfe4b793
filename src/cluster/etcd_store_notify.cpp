// Changes told to their watchers: KEYNOTIFY registrations, the node's one etcd watch on the store's
// keys, and in-process watches (etcd_store_impl.hpp).
#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cluster/etcd_store_impl.hpp"
#include "cluster/etcd_watch_stream.hpp"
#include "edgemq/mqtt/codec.hpp"
#include "statestore/wire.hpp"

namespace edgemq::cluster {

// ------------------------------------------------------------------ KEYNOTIFY
response etcd_store::impl::keynotify_stop(const statestore::request& r, const std::string& key) {
  std::lock_guard g(mu_);
  ++stats_.keynotify_requests;
  auto it = keynotify_.find(key);
  if (it == keynotify_.end() || !it->second.contains(r.client_id)) return {resp3::integer(0), std::nullopt};
  const auto conn = it->second[r.client_id].connection;
  it->second.erase(r.client_id);
  if (it->second.empty()) keynotify_.erase(it);
  by_connection_[conn].erase({key, r.client_id});
  return {resp3::ok(), std::nullopt};
}

// Registers at once (changes seen from now on are held), then reads the current revision R
// linearizably: changes after R are the watcher's, the held ones up to R are not.
bool etcd_store::impl::keynotify(const std::shared_ptr<op>& o, std::function<void()> resume) {
  const auto& r = o->j.req;
  const auto& key = o->cmd.key;
  {
    std::lock_guard g(mu_);
    ++stats_.keynotify_requests;
  }
  if (statestore::notification_topic_size(r.client_id, key) > mqtt::max_field_length) {
    finish(o, {resp3::error(err::notify_too_long), std::nullopt}, false);
    return false;
  }
  {
    std::lock_guard g(mu_);
    auto& by_client = keynotify_[key];
    auto existing = by_client.find(r.client_id);
    if (existing != by_client.end() && existing->second.min_revision != pending_revision) {
      // Already watching: only the connection changes.
      if (existing->second.connection != r.connection_id)
        by_connection_[existing->second.connection].erase({key, r.client_id});
      existing->second.connection = r.connection_id;
      by_connection_[r.connection_id].insert({key, r.client_id});
      finish(o, {resp3::ok(), std::nullopt}, false);
      return false;
    }
    auto& reg = by_client[r.client_id];
    reg.connection = r.connection_id;
    by_connection_[r.connection_id].insert({key, r.client_id});
  }
  call("/v3/kv/range", json{{"key", etcd_client::b64(v_key(key))}, {"count_only", true}},
       [self = shared_from_this(), o, resume = std::move(resume)](const etcd_error& e, json answer) {
         const auto& key = o->cmd.key;
         const auto& client = o->j.req.client_id;
         std::vector<change> held;
         {
           std::lock_guard g(self->mu_);
           auto k = self->keynotify_.find(key);
           auto reg = k == self->keynotify_.end() ? decltype(k->second.end()){} : k->second.find(client);
           if (k != self->keynotify_.end() && reg != k->second.end() && reg->second.min_revision == pending_revision) {
             if (e) {
               self->by_connection_[reg->second.connection].erase({key, client});
               k->second.erase(reg);
               if (k->second.empty()) self->keynotify_.erase(k);
             } else {
               reg->second.min_revision = json_int(answer.value("header", json::object()), "revision") + 1;
               for (auto& ch : reg->second.held)
                 if (ch.revision >= reg->second.min_revision) held.push_back(std::move(ch));
               reg->second.held.clear();
             }
           }
         }
         if (e) {
           self->finish(o, self->unavailable_reply(e, false), true);
           return resume();
         }
         self->finish(o, {resp3::ok(), std::nullopt}, false);
         for (auto& ch : held) self->send_notification(client, ch);
         resume();
       });
  return true;
}

void etcd_store::impl::send_notification(const std::string& client, const change& ch) {
  statestore::notification n;
  n.client_id = client;
  n.key = ch.key;
  n.version = ch.version;
  n.payload = ch.value ? resp3::request({"NOTIFY", "SET", "VALUE", *ch.value}) : resp3::request({"NOTIFY", "DELETE"});
  {
    std::lock_guard g(mu_);
    ++stats_.notifications;
  }
  statestore::deliver_notification(broker_, std::move(n));
}

void etcd_store::impl::connection_closed(std::uint64_t connection_id) {
  std::lock_guard g(mu_);
  auto it = by_connection_.find(connection_id);
  if (it == by_connection_.end()) return;
  for (const auto& [key, client] : it->second) {
    auto w = keynotify_.find(key);
    if (w == keynotify_.end()) continue;
    if (auto c = w->second.find(client); c != w->second.end() && c->second.connection == connection_id)
      w->second.erase(c);
    if (w->second.empty()) keynotify_.erase(w);
  }
  by_connection_.erase(it);
}

// ------------------------------------------------------------------ the node's watch
void etcd_store::impl::on_watch_events(const json& events) {
  healthy_.store(true);
  mirror(events);
  const std::string vp = opts_.prefix + "v/", mp = opts_.prefix + "m/";
  std::map<std::pair<std::string, std::int64_t>, std::optional<hlc>> versions;  // from ss/m/ puts
  for (const auto& e : events) {
    const auto& kv = e.value("kv", json::object());
    auto key = etcd_client::unb64(kv.value("key", ""));
    if (!key.starts_with(mp) || e.value("type", "PUT") != "PUT") continue;
    key_state st;
    decode_meta(etcd_client::unb64(kv.value("value", "")), st);
    versions[{key.substr(mp.size()), json_int(kv, "mod_revision")}] = st.version;
  }
  std::vector<change> changes;
  for (const auto& e : events) {
    const auto& kv = e.value("kv", json::object());
    auto key = etcd_client::unb64(kv.value("key", ""));
    if (!key.starts_with(vp)) continue;
    change ch;
    ch.key = key.substr(vp.size());
    ch.revision = json_int(kv, "mod_revision");
    std::optional<hlc> version;
    if (e.value("type", "PUT") == "PUT") {
      ch.value = etcd_client::unb64(kv.value("value", ""));
      if (auto it = versions.find({ch.key, ch.revision}); it != versions.end()) version = it->second;
    }
    observe(version);
    ch.version = version ? version->to_string() : tick().to_string();  // a deletion has no stored version
    changes.push_back(std::move(ch));
  }
  std::int64_t last = 0;
  for (const auto& e : events) last = std::max(last, json_int(e.value("kv", json::object()), "mod_revision"));
  if (changes.empty()) return release_waiters(last);
  std::vector<std::pair<std::string, const change*>> to_send;
  {
    std::lock_guard g(mu_);
    for (auto& ch : changes) {
      auto it = keynotify_.find(ch.key);
      if (it == keynotify_.end()) continue;
      for (auto& [client, reg] : it->second) {
        if (reg.min_revision == pending_revision)
          reg.held.push_back(ch);
        else if (ch.revision >= reg.min_revision)
          to_send.emplace_back(client, &ch);
      }
    }
  }
  for (const auto& [client, ch] : to_send) send_notification(client, *ch);
  {
    std::lock_guard g(watch_mu_);
    for (auto& [id, w] : watchers_)
      for (const auto& ch : changes) {
        if (ch.key != w.key) continue;
        if (w.min_revision == pending_revision)
          w.held.push_back(ch);
        else if (ch.revision >= w.min_revision)
          w.changed(ch.value);
      }
  }
  release_waiters(last);
}

void etcd_store::impl::on_watch_error(const etcd_error& e) {
  if (e.code == etcd_error::kind::unavailable) {
    healthy_.store(false);
    if (log_) log_->warn("state store: {} (resuming)", e.message);
  } else {
    // Compacted past the last revision seen: changes in between cannot be told, and the view
    // (the quota's count) may have missed some: it is read again.
    if (log_)
      log_->error("state store: {}; KEYNOTIFY resumes from now, changes in the gap are not notified", e.message);
    {
      std::lock_guard g(mu_);
      reload_view_ = true;
      reload_at_ = std::chrono::steady_clock::now();
    }
    ticker_cv_.notify_all();
  }
}

// The node's watch, from `revision` (0: now).
void etcd_store::impl::start_watch(std::int64_t revision) {
  std::weak_ptr<impl> weak = shared_from_this();
  node_watch_ = client_->watch(
      opts_.prefix, etcd_client::prefix_end(opts_.prefix), revision,
      [weak](const json& events, std::int64_t) {
        if (auto self = weak.lock()) self->on_watch_events(events);
      },
      [weak](const etcd_error& e) {
        if (auto self = weak.lock()) self->on_watch_error(e);
      });
}

// Reads every key and watches from there (the ticker, never with mu_ held): at start when etcd
// could not be read, and after a watch that could not resume. The old watch is cancelled first,
// so that no change is applied or notified twice.
void etcd_store::impl::reload_view() {
  if (node_watch_) client_->cancel_watch(node_watch_);
  node_watch_ = 0;
  const auto revision = load_view();
  if (!revision) {
    std::lock_guard g(mu_);
    reload_view_ = true;
    reload_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    return;
  }
  start_watch(revision + 1);
  release_waiters(revision);
}

// ------------------------------------------------------------------ in-process watches
void etcd_store::impl::first_read(watch_id id) {
  std::string key;
  {
    std::lock_guard g(watch_mu_);
    auto it = watchers_.find(id);
    if (it == watchers_.end()) return;
    key = it->second.key;
  }
  call("/v3/kv/txn", read_txn(key), [self = shared_from_this(), id](const etcd_error& e, json answer) {
    if (e) {
      std::lock_guard g(self->mu_);
      self->watch_retries_.push_back(id);  // the ticker tries again
      return;
    }
    const auto st = self->parse_state(answer);
    const auto rev = json_int(answer.value("header", json::object()), "revision");
    std::lock_guard g(self->watch_mu_);
    auto it = self->watchers_.find(id);
    if (it == self->watchers_.end()) return;
    auto& w = it->second;
    w.min_revision = rev + 1;
    w.changed(st.live(self->wall_ms_()) ? std::optional<std::string>(st.value) : std::nullopt);
    for (const auto& ch : w.held)
      if (ch.revision > rev) w.changed(ch.value);
    w.held.clear();
  });
}

}  // namespace edgemq::cluster
