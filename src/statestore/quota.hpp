// The state store's quota rule (statestore.max_keys, statestore.max_bytes), shared by the
// single-node service and the cluster's etcd store so that both refuse the same SETs with
// err::quota. Pure: the caller says what the store holds.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace edgemq::statestore {

struct quota_limits {
  std::size_t max_keys = 1'000'000;
  std::size_t max_bytes = std::size_t{1} << 30;  // keys + values
};

// What a store holds: its keys, and the bytes of their keys and values.
struct quota_usage {
  std::size_t keys = 0;
  std::size_t bytes = 0;

  // One key and its value as the quota counts them.
  static constexpr std::size_t entry_bytes(std::string_view key, std::string_view value) noexcept {
    return key.size() + value.size();
  }
};

// Whether a SET of `key` to `value` is refused: it adds a key to a store that already holds
// max_keys, or it would take keys + values over max_bytes. `usage` is the store before the SET,
// `replaced` the value the key holds now (nullopt: the SET creates the key). Overwriting a key
// is never refused for the count, only for the bytes.
constexpr bool quota_exceeded(const quota_limits& lim, const quota_usage& usage, std::string_view key,
                              std::string_view value, std::optional<std::string_view> replaced) noexcept {
  const std::size_t old_bytes = replaced ? quota_usage::entry_bytes(key, *replaced) : 0;
  // Clamped: a caller's view may lag the key it read (the cluster's), never wrap around.
  const std::size_t others = usage.bytes > old_bytes ? usage.bytes - old_bytes : 0;
  return (!replaced && usage.keys >= lim.max_keys) || others + quota_usage::entry_bytes(key, value) > lim.max_bytes;
}

}  // namespace edgemq::statestore
