#include "edgemq/statestore/hlc.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace edgemq::statestore {

std::string hlc::to_string() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%015llu:%05llu:", static_cast<unsigned long long>(wall_ms),
                static_cast<unsigned long long>(counter));
  return buf + node;
}

std::optional<hlc> hlc::parse(std::string_view text) {
  const auto a = text.find(':');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = text.find(':', a + 1);
  if (b == std::string_view::npos || text.find(':', b + 1) != std::string_view::npos) return std::nullopt;
  const auto num = [](std::string_view s, std::uint64_t& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  hlc h;
  if (!num(text.substr(0, a), h.wall_ms) || !num(text.substr(a + 1, b - a - 1), h.counter)) return std::nullopt;
  h.node = std::string(text.substr(b + 1));
  return h;
}

hlc hlc_clock::tick(std::uint64_t now_ms, const hlc* seen) {
  const std::uint64_t seen_ms = seen ? seen->wall_ms : 0;
  const std::uint64_t ms = std::max({last_.wall_ms, seen_ms, now_ms});
  std::uint64_t counter = 0;
  if (ms == last_.wall_ms) counter = last_.counter + 1;
  if (seen && ms == seen_ms) counter = std::max(counter, seen->counter + 1);
  last_.wall_ms = ms;
  last_.counter = counter;
  return last_;
}

}  // namespace edgemq::statestore
