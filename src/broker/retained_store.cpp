#include "broker/retained_store.hpp"

#include <vector>

#include "broker/durable_store.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::broker {

std::uint64_t retained_store::put(const message_ptr& msg) {
  std::lock_guard g(mu_);
  // $SYS statistics are re-published every few seconds: journaling them would only churn.
  auto* store = msg->topic.starts_with("$SYS/") ? nullptr : store_;
  if (msg->payload.empty()) {
    if (messages_.erase(msg->topic) == 0) return 0;
    return store ? store->erase_retained(msg->topic) : 0;
  }
  messages_.insert_or_assign(msg->topic, msg);
  return store ? store->put_retained(*msg) : 0;
}

void retained_store::restore(const message_ptr& msg) {
  std::lock_guard g(mu_);
  messages_.insert_or_assign(msg->topic, msg);
}

void retained_store::match(std::string_view filter, clock::time_point now,
                           const std::function<void(const message_ptr&)>& visit) {
  std::vector<message_ptr> hits;
  {
    std::lock_guard g(mu_);
    // A filter without wildcards names one topic: no scan needed.
    if (filter.find_first_of("+#") == std::string_view::npos) {
      if (auto it = messages_.find(filter); it != messages_.end()) {
        if (it->second->expired(now)) {
          if (store_) store_->erase_retained(it->first);
          messages_.erase(it);
        } else {
          hits.push_back(it->second);
        }
      }
    } else {
      for (auto it = messages_.begin(); it != messages_.end();) {
        if (it->second->expired(now)) {
          if (store_) store_->erase_retained(it->first);
          it = messages_.erase(it);
          continue;
        }
        if (mqtt::topic_matches(filter, it->first)) hits.push_back(it->second);
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
    if (it->second->expired(now) || !mqtt::topic_matches(filter, it->first)) continue;
    if (out.size() == limit) {
      more = true;
      break;
    }
    out.push_back(it->second);
  }
  return out;
}

bool retained_store::erase(std::string_view topic) {
  std::lock_guard g(mu_);
  auto it = messages_.find(topic);
  if (it == messages_.end()) return false;
  if (store_ && !it->first.starts_with("$SYS/")) store_->erase_retained(it->first);
  messages_.erase(it);
  return true;
}

std::size_t retained_store::size() const {
  std::lock_guard g(mu_);
  return messages_.size();
}

}  // namespace edgemq::broker
