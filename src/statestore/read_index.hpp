// The keys as last durably stored, readable from any thread: the state store's GET fast path
// (ADR 0030). The engine's service owns the authoritative key map on the writers' side; this is
// a copy written only after a batch is stored (never ahead of the disk), so a worker thread can
// answer a GET without queueing it to the engine.
//
// Sharded by key hash, each shard behind a shared mutex: readers of different keys, and readers
// of one key, do not wait for each other; a writer blocks only the readers of its shard.
// Entries hold the reply as it goes out (the RESP3 bulk string and the version's text), so a
// read copies two short strings and formats nothing.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace edgemq::statestore {

class read_index {
 public:
  struct entry {
    std::string reply;                // RESP3 bulk string of the value
    std::string version;              // the record's HLC as text (__ts of the reply)
    std::uint64_t expires_at_ms = 0;  // 0: never
  };

  void put(std::string_view key, entry e);
  void erase(std::string_view key);
  // Copies the entry of `key` into `out` (its buffers reused). False: no such key.
  bool get(std::string_view key, entry& out) const;
  std::size_t size() const;

 private:
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct shard {
    mutable std::shared_mutex mu;
    std::unordered_map<std::string, entry, hash, std::equal_to<>> keys;
  };
  static constexpr std::size_t shard_count = 64;
  shard& shard_of(std::string_view key) { return shards_[hash{}(key) % shard_count]; }
  const shard& shard_of(std::string_view key) const { return shards_[hash{}(key) % shard_count]; }
  std::array<shard, shard_count> shards_;
};

}  // namespace edgemq::statestore
