#include "broker/retained_store.hpp"

#include <cstring>
#include <new>
#include <vector>

#include "broker/durable_store.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::broker {

void retained_entry::deleter::operator()(retained_entry* e) const noexcept {
  e->~retained_entry();
  ::operator delete(e);
}

static_assert(sizeof(retained_entry) == 24, "the header ADR 0032 counts on");

retained_entry::ptr retained_entry::make(const message& m) {
  const auto origin = std::string_view(m.origin_client_id).substr(0, 0xFFFF);
  void* mem = ::operator new(sizeof(retained_entry) + m.topic.size() + origin.size() + m.payload.size());
  ptr e(new (mem) retained_entry());
  e->props_ = m.props;
  if (m.expires_at) {
    e->has_expiry_ = 1;
    e->expires_ = m.expires_at->time_since_epoch().count();
  }
  e->payload_len_ = static_cast<std::uint32_t>(m.payload.size());
  e->qos_ = static_cast<std::uint32_t>(m.qos) & 3u;
  e->retain_ = m.retain ? 1 : 0;
  e->topic_len_ = static_cast<std::uint16_t>(m.topic.size());
  e->origin_len_ = static_cast<std::uint16_t>(origin.size());
  char* p = e->chars();
  std::memcpy(p, m.topic.data(), m.topic.size());
  std::memcpy(p + m.topic.size(), origin.data(), origin.size());
  std::memcpy(p + m.topic.size() + origin.size(), m.payload.data(), m.payload.size());
  return e;
}

message_ptr retained_entry::to_message() const {
  auto m = std::make_shared<message>();
  const char* p = chars();
  m->topic.assign(p, topic_len_);
  m->origin_client_id.assign(p + topic_len_, origin_len_);
  m->payload.assign(p + topic_len_ + origin_len_, payload_len_);
  m->qos = static_cast<mqtt::qos>(qos_);
  m->retain = retain_ != 0;
  m->props = props_;
  if (has_expiry_) m->expires_at = clock::time_point(clock::duration(expires_));
  return m;
}

void retained_store::set_locked(retained_entry::ptr e) {
  // Start-up and most publishes append in topic order: try the end first.
  const auto hint = messages_.end();
  if (messages_.empty() || std::prev(hint)->e->topic() < e->topic()) {
    messages_.emplace_hint(hint, slot{std::move(e)});
    return;
  }
  if (auto it = messages_.find(e->topic()); it != messages_.end())
    it->e = std::move(e);  // same topic: same place
  else
    messages_.insert(slot{std::move(e)});
}

std::uint64_t retained_store::put(const message_ptr& msg) {
  std::lock_guard g(mu_);
  // $SYS statistics are re-published every few seconds: journaling them would only churn.
  auto* store = msg->topic.starts_with("$SYS/") ? nullptr : store_;
  if (msg->payload.empty()) {
    auto it = messages_.find(std::string_view(msg->topic));
    if (it == messages_.end()) return 0;
    messages_.erase(it);
    return store ? store->erase_retained(msg->topic) : 0;
  }
  set_locked(retained_entry::make(*msg));
  return store ? store->put_retained(*msg) : 0;
}

void retained_store::restore(const message& msg) {
  auto e = retained_entry::make(msg);  // outside the lock
  std::lock_guard g(mu_);
  set_locked(std::move(e));
}

void retained_store::match(std::string_view filter, clock::time_point now,
                           const std::function<void(const message_ptr&)>& visit) {
  std::vector<message_ptr> hits;  // made under the lock, visited outside it
  {
    std::lock_guard g(mu_);
    // A filter without wildcards names one topic: no scan needed.
    if (filter.find_first_of("+#") == std::string_view::npos) {
      if (auto it = messages_.find(filter); it != messages_.end()) {
        if (it->e->expired(now)) {
          if (store_) store_->erase_retained(std::string(it->e->topic()));
          messages_.erase(it);
        } else {
          hits.push_back(it->e->to_message());
        }
      }
    } else {
      for (auto it = messages_.begin(); it != messages_.end();) {
        if (it->e->expired(now)) {
          if (store_) store_->erase_retained(std::string(it->e->topic()));
          it = messages_.erase(it);
          continue;
        }
        if (mqtt::topic_matches(filter, it->e->topic())) hits.push_back(it->e->to_message());
        ++it;
      }
    }
  }
  for (const auto& m : hits) visit(m);
}

std::vector<message_ptr> retained_store::list(std::string_view filter, std::string_view after, std::size_t limit,
                                              clock::time_point now, bool& more) const {
  std::vector<message_ptr> out;
  more = false;
  std::lock_guard g(mu_);
  // The map is ordered by topic: start after the cursor and stop one past the page.
  for (auto it = after.empty() ? messages_.begin() : messages_.upper_bound(after); it != messages_.end(); ++it) {
    if (it->e->expired(now) || !mqtt::topic_matches(filter, it->e->topic())) continue;
    if (out.size() == limit) {
      more = true;
      break;
    }
    out.push_back(it->e->to_message());
  }
  return out;
}

bool retained_store::erase(std::string_view topic) {
  std::lock_guard g(mu_);
  auto it = messages_.find(topic);
  if (it == messages_.end()) return false;
  if (store_ && !topic.starts_with("$SYS/")) store_->erase_retained(std::string(topic));
  messages_.erase(it);
  return true;
}

std::size_t retained_store::size() const {
  std::lock_guard g(mu_);
  return messages_.size();
}

}  // namespace edgemq::broker
