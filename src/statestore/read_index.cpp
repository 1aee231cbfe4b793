#include "statestore/read_index.hpp"

#include <mutex>

namespace edgemq::statestore {

void read_index::put(std::string_view key, entry e) {
  auto& s = shard_of(key);
  std::unique_lock g(s.mu);
  if (auto it = s.keys.find(key); it != s.keys.end())
    it->second = std::move(e);
  else
    s.keys.emplace(std::string(key), std::move(e));
}

void read_index::erase(std::string_view key) {
  auto& s = shard_of(key);
  std::unique_lock g(s.mu);
  if (auto it = s.keys.find(key); it != s.keys.end()) s.keys.erase(it);
}

bool read_index::get(std::string_view key, entry& out) const {
  const auto& s = shard_of(key);
  std::shared_lock g(s.mu);
  auto it = s.keys.find(key);
  if (it == s.keys.end()) return false;
  out.reply.assign(it->second.reply);
  out.version.assign(it->second.version);
  out.expires_at_ms = it->second.expires_at_ms;
  return true;
}

std::size_t read_index::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::shared_lock g(s.mu);
    n += s.keys.size();
  }
  return n;
}

}  // namespace edgemq::statestore
