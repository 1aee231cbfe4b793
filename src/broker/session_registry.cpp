#include "broker/session_registry.hpp"

#include "broker/topic_tree.hpp"

namespace edgemq::broker {

attach_result session_registry::attach(const std::string& client_id, bool clean_start, std::uint32_t expiry_interval,
                                       std::shared_ptr<link> l) {
  std::lock_guard g(mu_);
  attach_result r;
  if (auto it = sessions_.find(client_id); it != sessions_.end()) {
    session_ptr existing = it->second;
    {
      auto sl = existing->lock();
      r.taken_over = std::move(existing->link_);
      existing->link_ = nullptr;
    }
    if (clean_start) {
      end_locked(existing);
    } else {
      r.s = existing;
      r.session_present = true;
    }
  }
  if (!r.s) {
    r.s = std::make_shared<session>(client_id, limits_);
    sessions_.emplace(client_id, r.s);
  }
  auto sl = r.s->lock();
  r.s->link_ = std::move(l);
  r.s->notified_ = false;
  r.s->expiry_interval_ = expiry_interval;
  return r;
}

void session_registry::detach(const session_ptr& s, const link* l, clock::time_point now) {
  std::lock_guard g(mu_);
  bool end = false;
  {
    auto sl = s->lock();
    if (s->link_.get() != l || s->ended_) return;  // taken over: the new connection owns it
    s->link_ = nullptr;
    s->disconnected_at_ = now;
    end = s->expiry_interval_ == 0;
  }
  if (end) end_locked(s);
}

void session_registry::end_locked(const session_ptr& s) {
  std::vector<std::string> filters;
  {
    auto sl = s->lock();
    s->ended_ = true;
    for (auto& [f, rec] : s->subscriptions_) filters.push_back(f);
    s->subscriptions_.clear();
    s->queue_.clear();
    s->inflight_.clear();
  }
  // The tree lock is never taken with a session lock held (publishers hold tree -> session).
  for (const auto& f : filters) tree_.unsubscribe(f, s.get());
  if (auto it = sessions_.find(s->client_id()); it != sessions_.end() && it->second == s) sessions_.erase(it);
}

std::size_t session_registry::expire(clock::time_point now) {
  std::lock_guard g(mu_);
  std::vector<session_ptr> expired;
  for (auto& [id, s] : sessions_) {
    auto sl = s->lock();
    if (s->link_ || s->expiry_interval_ == 0xFFFFFFFF) continue;
    if (now - s->disconnected_at_ >= std::chrono::seconds(s->expiry_interval_)) expired.push_back(s);
  }
  for (auto& s : expired) end_locked(s);
  return expired.size();
}

std::size_t session_registry::size() const {
  std::lock_guard g(mu_);
  return sessions_.size();
}

std::size_t session_registry::connected() const {
  std::lock_guard g(mu_);
  std::size_t n = 0;
  for (auto& [id, s] : sessions_) {
    auto sl = s->lock();
    if (s->link_) ++n;
  }
  return n;
}

}  // namespace edgemq::broker
