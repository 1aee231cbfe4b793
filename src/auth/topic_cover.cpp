#include "auth/topic_cover.hpp"

namespace edgemq::auth {
namespace {

// The level starting at `pos` and where the next one starts (npos after the last).
std::string_view level_at(std::string_view s, std::size_t pos, std::size_t& next) noexcept {
  const auto slash = s.find('/', pos);
  next = slash == std::string_view::npos ? std::string_view::npos : slash + 1;
  return s.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
}

}  // namespace

bool filter_covers(std::string_view allowed, std::string_view requested) noexcept {
  // MQTT-4.7.2-1: a filter starting with a wildcard matches no `$`-topic, so it covers none.
  if (!requested.empty() && requested.front() == '$' && !allowed.empty() &&
      (allowed.front() == '+' || allowed.front() == '#'))
    return false;
  std::size_t a = 0, r = 0;
  while (true) {
    std::size_t a_next = 0, r_next = 0;
    const auto al = level_at(allowed, a, a_next);
    if (al == "#") return true;  // the rest, whatever it is (also nothing: "a/#" matches "a")
    const auto rl = level_at(requested, r, r_next);
    if (rl == "#") return false;  // only "#" covers "#"
    if (al != "+" && (rl == "+" || al != rl)) return false;
    const bool a_last = a_next == std::string_view::npos;
    const bool r_last = r_next == std::string_view::npos;
    if (r_last) return a_last || allowed.substr(a_next) == "#";
    if (a_last) return false;
    a = a_next;
    r = r_next;
  }
}

}  // namespace edgemq::auth
