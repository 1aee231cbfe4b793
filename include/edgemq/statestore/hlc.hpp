// Hybrid logical clock timestamps in the format the AIO SDKs use:
// "{wall clock ms}:{counter}:{node id}", written zero-padded ("%015d:%05d:%s"), read padded or
// not. Ordered by time, then counter, then node id.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgemq::statestore {

struct hlc {
  std::uint64_t wall_ms = 0;
  std::uint64_t counter = 0;
  std::string node;

  std::string to_string() const;
  static std::optional<hlc> parse(std::string_view text);

  auto operator<=>(const hlc& o) const {
    if (auto c = wall_ms <=> o.wall_ms; c != 0) return c;
    if (auto c = counter <=> o.counter; c != 0) return c;
    return node.compare(o.node) <=> 0;
  }
  bool operator==(const hlc&) const = default;
};

// The store's clock: every version it hands out is greater than the last one and than the
// timestamp of the request it answers.
class hlc_clock {
 public:
  explicit hlc_clock(std::string node) : last_{0, 0, std::move(node)} {}
  // A new version at wall time `now_ms`, after `seen` (the request's timestamp), if any.
  hlc tick(std::uint64_t now_ms, const hlc* seen = nullptr);
  const hlc& last() const noexcept { return last_; }

 private:
  hlc last_;
};

}  // namespace edgemq::statestore
