#include "broker/session_registry.hpp"

#include <algorithm>

#include "broker/topic_tree.hpp"

namespace edgemq::broker {

attach_result session_registry::attach(const std::string& client_id, bool clean_start, std::uint32_t expiry_interval,
                                       std::shared_ptr<link> l, connection_info info) {
  std::lock_guard g(mu_);
  attach_result r;
  auto* store = env_.store.load(std::memory_order_relaxed);
  if (session_ptr existing = find_locked(client_id)) {
    {
      auto sl = existing->lock();
      if (auto* st = existing->state()) {
        r.taken_over = std::move(st->link_);
        st->link_ = nullptr;
        if (st->pending_will_) {
          st->pending_will_.reset();  // a new connection within the will delay (MQTT-3.1.3-9)
          if (store) store->erase_will(client_id);
        }
      }
    }
    if (clean_start) {
      end_locked(existing);
    } else {
      r.s = existing;
      r.session_present = true;
    }
  }
  if (!r.s) {
    r.s = std::make_shared<session>(client_id, env_);
    sessions_.insert(r.s);
  }
  auto sl = r.s->lock();
  const bool was_durable = r.s->durable() != nullptr;
  auto& st = r.s->ensure_state();
  st.link_ = std::move(l);
  st.connection_ = std::move(info);
  st.notified_ = false;
  r.s->expiry_interval_ = expiry_interval;
  r.s->set_online(true);
  if (store) {
    if (expiry_interval != 0) {
      store->save_session(r.s->image_locked(0));
      r.s->persisted_ = true;
    } else if (was_durable || r.s->persisted_) {
      store->erase_session(client_id);  // resumed without expiry: nothing outlives it now
      r.s->persisted_ = false;
    }
  }
  return r;
}

message_ptr session_registry::detach(const session_ptr& s, const link* l, clock::time_point now, message_ptr will,
                                     std::uint32_t will_delay) {
  std::lock_guard g(mu_);
  bool end = false;
  {
    auto sl = s->lock();
    // Ended by a clean-start takeover: the will goes now. Taken over: the new connection owns the
    // session, and a delayed will is cancelled by it (MQTT-3.1.3-9).
    if (s->ended_) return will;
    if (s->current_link() != l) return will_delay == 0 ? will : nullptr;
    auto& st = s->ensure_state();  // there already, but for a detach without a link (released below)
    st.link_ = nullptr;
    s->set_online(false);
    s->disconnected_at_ = now;
    end = s->expiry_interval_ == 0;
    if (will && will_delay > 0 && !end) {
      st.pending_will_ =
          std::make_unique<delayed_will>(delayed_will{std::move(will), now + std::chrono::seconds(will_delay)});
    }
    if (auto* db = s->durable(); db && !end) {
      db->save_session(s->image_locked(wall_now_ms()));
      if (st.pending_will_) db->put_will(s->client_id(), *st.pending_will_->msg, to_wall_ms(st.pending_will_->at, now));
    }
    // Offline with nothing queued, in flight or pending: the session shrinks to its compact form.
    if (!end) s->release_state_if_idle();
  }
  if (end) end_locked(s);
  return will;
}

void session_registry::end_locked(const session_ptr& s, std::vector<due_will>* wills) {
  std::vector<std::string> filters;
  {
    auto sl = s->lock();
    s->ended_ = true;
    s->set_online(false);
    for (auto& [f, rec] : s->subscriptions_) filters.push_back(f);
    s->subscriptions_.clear();
    message_ptr will;
    if (auto* st = s->state(); st && wills && st->pending_will_) will = std::move(st->pending_will_->msg);
    // Its queue, in-flight messages and will (unless passed on above) go with it. A link still
    // there (a detach racing this end) is dropped too: detach() leaves an ended session alone.
    s->release_state();
    if (s->store() && s->persisted_) {
      s->store()->erase_session(s->client_id());  // its messages and will too
      // ... but the will passed on is written back, due now, until it is published (a will
      // without its session is published at a restart).
      if (will) s->store()->put_will(s->client_id(), *will, wall_now_ms());
    }
    if (will) wills->push_back({std::move(will), s->client_id()});
  }
  // The tree lock is never taken with a session lock held (publishers hold tree -> session).
  for (const auto& f : filters) tree_.unsubscribe(f, s.get());
  if (auto it = sessions_.find(std::string_view(s->client_id())); it != sessions_.end() && *it == s)
    sessions_.erase(it);
}

std::size_t session_registry::expire(clock::time_point now, std::vector<due_will>& due_wills,
                                     std::vector<std::string>* expired_ids) {
  std::lock_guard g(mu_);
  std::vector<session_ptr> expired;
  for (const auto& s : sessions_) {
    auto sl = s->lock();
    if (s->current_link()) continue;
    if (auto* st = s->state(); st && st->pending_will_ && st->pending_will_->at <= now) {
      due_wills.push_back({std::move(st->pending_will_->msg), s->client_id()});
      st->pending_will_.reset();
      s->release_state_if_idle();
    }
    if (s->expiry_interval_ == 0xFFFFFFFF) continue;
    if (now - s->disconnected_at_ >= std::chrono::seconds(s->expiry_interval_)) expired.push_back(s);
  }
  for (auto& s : expired) {
    if (expired_ids) expired_ids->push_back(s->client_id());
    end_locked(s, &due_wills);
  }
  bump(env_.stats.sessions_expired, expired.size());  // MQTT-3.1.2-8: the will at session end
  return expired.size();
}

void session_registry::wills_published(const std::vector<due_will>& published) {
  auto* store = env_.store.load(std::memory_order_relaxed);
  if (!store || published.empty()) return;
  // Under the registry mutex: a client that connects meanwhile (attach) and leaves with a new
  // delayed will (detach, put_will) is either seen here or writes after this erase.
  std::lock_guard g(mu_);
  for (const auto& w : published) {
    if (const auto s = find_locked(w.client_id)) {
      auto sl = s->lock();
      if (const auto* st = s->state(); st && st->pending_will_) continue;  // its record is the newer will
    }
    store->erase_will(w.client_id);
  }
}

void session_registry::set_store(durable_store* s) {
  // The sessions read it through their shared environment: those restored before it was set
  // journal to it from now on too.
  std::lock_guard g(mu_);
  env_.store.store(s, std::memory_order_relaxed);
}

session_ptr session_registry::restore(restored_session r, clock::time_point now) {
  return restore(std::move(r), now, wall_now_ms());
}

session_ptr session_registry::restore(restored_session r, clock::time_point now, std::uint64_t wall_ms) {
  auto s = std::make_shared<session>(std::move(r.image.client_id), env_);
  {
    auto sl = s->lock();
    s->expiry_interval_ = r.image.expiry_interval;
    s->persisted_ = true;
    // A session that was connected when the broker stopped counts as disconnected at start-up.
    s->disconnected_at_ = r.image.disconnected_wall_ms ? from_wall_ms(r.image.disconnected_wall_ms, now, wall_ms) : now;
    for (auto& sub : r.image.subscriptions)
      s->subscriptions_.insert_or_assign(sub.filter, subscription_record{sub.options, sub.subscription_id});
    // A state only for a session that has something to put in it.
    for (auto& [stage, entry] : r.messages) {
      auto& st = s->ensure_state();
      auto& [packet_id, d] = entry;
      s->next_seq_ = std::max(s->next_seq_, d.seq + 1);
      if (stage == stored_stage::queued || packet_id == 0) {
        st.queued_bytes_ += d.msg->payload.size() + d.msg->topic.size();
        st.queue_.push_back(std::move(d));
      } else {
        st.inflight_.emplace(packet_id, inflight_message{std::move(d), stage == stored_stage::awaiting_pubcomp
                                                                           ? inflight_stage::awaiting_pubcomp
                                                                           : inflight_stage::awaiting_ack});
      }
    }
    for (auto id : r.inbound_qos2) s->ensure_state().inbound_qos2_.insert(id);
    if (r.will) {
      auto& st = s->ensure_state();
      st.pending_will_ = std::make_unique<delayed_will>(
          delayed_will{std::move(r.will), from_wall_ms(r.will_at_wall_ms, now, wall_ms)});
    }
  }
  for (auto& sub : r.image.subscriptions)
    tree_.subscribe(sub.filter, subscriber{s.get(), sub.options, sub.subscription_id});
  std::lock_guard g(mu_);
  // A session of that id already here is replaced (its id is the key: erased, then inserted).
  if (auto it = sessions_.find(std::string_view(s->client_id())); it != sessions_.end()) sessions_.erase(it);
  sessions_.insert(s);
  return s;
}

session_ptr session_registry::find(const std::string& client_id) const {
  std::lock_guard g(mu_);
  return find_locked(client_id);
}

std::size_t session_registry::size() const {
  std::lock_guard g(mu_);
  return sessions_.size();
}

std::size_t session_registry::connected() const {
  std::lock_guard g(mu_);
  std::size_t n = 0;
  for (const auto& s : sessions_)
    if (s->online()) ++n;
  return n;
}

std::vector<session_registry::client_summary> session_registry::connected_clients(std::string_view prefix,
                                                                                  std::string_view after,
                                                                                  std::size_t limit, bool& more) const {
  std::vector<client_summary> out;
  {
    std::lock_guard g(mu_);
    for (const auto& s : sessions_) {
      const auto& id = s->client_id();
      if (!s->online() || id.compare(0, prefix.size(), prefix) != 0 || (!after.empty() && id <= after)) continue;
      auto sl = s->lock();
      if (!s->current_link()) continue;
      out.push_back({id, s->state()->connection_, s->subscriptions_.size(), s->queued(), s->inflight()});
    }
  }
  // The map is unordered: sort the matches (not the whole registry) for stable pages.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.client_id < b.client_id; });
  more = out.size() > limit;
  if (more) out.resize(limit);
  return out;
}

session_registry::queue_totals session_registry::queues() const {
  queue_totals t;
  std::lock_guard g(mu_);
  for (const auto& s : sessions_) {
    auto sl = s->lock();
    t.queued += s->queued();
    t.queued_bytes += s->queued_bytes();
    t.inflight += s->inflight();
  }
  return t;
}

std::map<std::pair<std::uint32_t, mqtt::protocol_version>, std::size_t> session_registry::connected_by_listener()
    const {
  std::map<std::pair<std::uint32_t, mqtt::protocol_version>, std::size_t> out;
  std::lock_guard g(mu_);
  for (const auto& s : sessions_) {
    if (!s->online()) continue;
    auto sl = s->lock();
    if (const auto* st = s->state(); st && st->link_) ++out[{st->connection_.listener, st->connection_.version}];
  }
  return out;
}

bool session_registry::disconnect(const std::string& client_id, mqtt::reason_code why) {
  std::shared_ptr<link> l;
  if (auto s = find(client_id)) {
    auto sl = s->lock();
    if (auto* st = s->state()) l = st->link_;
  }
  if (!l) return false;
  l->kick(why);  // no lock held: the link only queues the close for the connection's owner
  return true;
}

std::optional<session_registry::session_detail> session_registry::describe(const std::string& client_id) const {
  std::lock_guard g(mu_);
  const auto s = find_locked(client_id);
  if (!s) return std::nullopt;
  auto sl = s->lock();
  const auto* st = s->state();
  session_detail d{client_id,
                   s->current_link() != nullptr,
                   st ? st->connection_ : connection_info{},
                   s->expiry_interval_,
                   {},
                   s->queued(),
                   s->queued_bytes(),
                   s->inflight(),
                   s->will_pending()};
  d.subscriptions.reserve(s->subscriptions_.size());
  for (const auto& [filter, rec] : s->subscriptions_)
    d.subscriptions.push_back({filter, rec.options, rec.subscription_id});
  return d;
}

bool session_registry::end_session(const std::string& client_id, mqtt::reason_code why) {
  return end_or_hand_over(client_id, why, false);
}

bool session_registry::hand_over(const std::string& client_id, mqtt::reason_code why) {
  return end_or_hand_over(client_id, why, true);
}

bool session_registry::end_or_hand_over(const std::string& client_id, mqtt::reason_code why, bool keep_records) {
  std::shared_ptr<link> l;
  {
    std::lock_guard g(mu_);
    const auto s = find_locked(client_id);
    if (!s) return false;
    {
      auto sl = s->lock();
      // Taken, not copied: an ended session must not hold its connection (which holds the
      // session) — detach() leaves an ended session alone, so nobody else would clear it.
      if (auto* st = s->state()) l = std::move(st->link_);
      if (keep_records) s->persisted_ = false;  // end_locked leaves the store alone
    }
    end_locked(s);
  }
  if (l) l->kick(why);  // no lock held: the link only queues the close for the connection's owner
  return true;
}

}  // namespace edgemq::broker
