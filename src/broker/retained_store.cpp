#include "broker/retained_store.hpp"

#include <vector>

#include "edgemq/mqtt/topic.hpp"

namespace edgemq::broker {

void retained_store::put(const message_ptr& msg) {
  std::lock_guard g(mu_);
  if (msg->payload.empty()) messages_.erase(msg->topic);
  else messages_.insert_or_assign(msg->topic, msg);
}

void retained_store::match(std::string_view filter, const std::function<void(const message_ptr&)>& visit) const {
  std::vector<message_ptr> hits;
  {
    std::lock_guard g(mu_);
    // A filter without wildcards names one topic: no scan needed.
    if (filter.find_first_of("+#") == std::string_view::npos) {
      if (auto it = messages_.find(filter); it != messages_.end()) hits.push_back(it->second);
    } else {
      for (const auto& [topic, msg] : messages_)
        if (mqtt::topic_matches(filter, topic)) hits.push_back(msg);
    }
  }
  for (const auto& m : hits) visit(m);
}

std::size_t retained_store::size() const {
  std::lock_guard g(mu_);
  return messages_.size();
}

}  // namespace edgemq::broker
