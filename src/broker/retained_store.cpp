#include "broker/retained_store.hpp"

#include <vector>

#include "edgemq/mqtt/topic.hpp"

namespace edgemq::broker {

void retained_store::put(const message_ptr& msg) {
  std::lock_guard g(mu_);
  if (msg->payload.empty()) messages_.erase(msg->topic);
  else messages_.insert_or_assign(msg->topic, msg);
}

void retained_store::match(std::string_view filter, clock::time_point now,
                           const std::function<void(const message_ptr&)>& visit) {
  std::vector<message_ptr> hits;
  {
    std::lock_guard g(mu_);
    // A filter without wildcards names one topic: no scan needed.
    if (filter.find_first_of("+#") == std::string_view::npos) {
      if (auto it = messages_.find(filter); it != messages_.end()) {
        if (it->second->expired(now)) messages_.erase(it);
        else hits.push_back(it->second);
      }
    } else {
      for (auto it = messages_.begin(); it != messages_.end();) {
        if (it->second->expired(now)) {
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

std::size_t retained_store::size() const {
  std::lock_guard g(mu_);
  return messages_.size();
}

}  // namespace edgemq::broker
