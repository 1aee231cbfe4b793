// A hash map keyed by std::string that is looked up with a std::string_view, without building a
// std::string per lookup (transparent hashing). Used on per-message paths: trie levels, outbound
// topic aliases.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace edgemq::broker {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class Value>
using string_map = std::unordered_map<std::string, Value, string_hash, std::equal_to<>>;

}  // namespace edgemq::broker
