#include "auth/aio_permissions.hpp"

#include "auth/key_glob.hpp"
#include "auth/topic_cover.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::auth {

void topic_grants::add(std::string filter) {
  const auto wild = filter.find_first_of("+#");
  if (wild == std::string::npos) return void(literal_.insert(std::move(filter)));
  wildcard_.push_back({std::move(filter), wild == 0 ? 0 : wild - 1});
}

bool topic_grants::allows_topic(std::string_view topic) const noexcept {
  if (!literal_.empty() && literal_.contains(topic)) return true;
  for (const auto& w : wildcard_) {
    const std::string_view f = w.filter;
    if (topic.size() < w.prefix || topic.compare(0, w.prefix, f.substr(0, w.prefix)) != 0) continue;
    if (mqtt::topic_matches(f, topic)) return true;
  }
  return false;
}

bool topic_grants::allows_filter(std::string_view filter) const noexcept {
  // A literal filter is covered by an equal literal grant or by any grant matching it as a name.
  if (filter.find_first_of("+#") == std::string_view::npos) return allows_topic(filter);
  for (const auto& w : wildcard_)
    if (filter_covers(w.filter, filter)) return true;
  return false;
}

bool key_grants::allows(std::string_view key) const noexcept {
  if (!exact_.empty() && exact_.contains(key)) return true;
  for (const auto& p : patterns_)
    if (glob_matches(p, key)) return true;
  return false;
}

}  // namespace edgemq::auth
