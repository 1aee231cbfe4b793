// A hash map keyed by std::string that is looked up with a std::string_view, without building a
// std::string per lookup (transparent hashing). Used on per-message paths: trie levels, outbound
// topic aliases.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace edgemq::broker {

// A multiply-and-fold hash over 8-byte words, inline: topic levels are short ("sensors", "t42"),
// and std::hash's out-of-line byte loop was ~6% of a routed message's instructions (3 levels
// hashed per PUBLISH; docs/adr/0031-routing-close-to-the-limit.md). Not seeded, like std::hash:
// no weaker against crafted collisions than before.
inline std::size_t hash_string(std::string_view s) noexcept {
  constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
  const char* p = s.data();
  std::size_t n = s.size();
  std::uint64_t h = (n + 1) * k;
  const auto mix = [&](std::uint64_t w) {
    h = (h ^ w) * k;
    h ^= h >> 32;
  };
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    mix(w);
  }
  if (n >= 4) {  // two overlapping 4-byte reads cover 4..7 bytes
    std::uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    mix(static_cast<std::uint64_t>(a) << 32 | b);
  } else if (n > 0) {
    const auto c = [&](std::size_t i) { return static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])); };
    mix(c(0) << 16 | c(n / 2) << 8 | c(n - 1));
  }
  return static_cast<std::size_t>(h);
}

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return hash_string(s); }
};

template <class Value>
using string_map = std::unordered_map<std::string, Value, string_hash, std::equal_to<>>;

}  // namespace edgemq::broker
