// Where state store keys are kept durably. The service holds every key in memory and writes
// through a backend in batches; at start it loads them back. RocksDB in production
// (persistence/rocksdb_backend), memory_backend in tests, a replicated backend later.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "statestore/record.hpp"

namespace edgemq::statestore {

struct mutation {
  std::string key;
  std::optional<key_record> record;  // nullopt: erase
};

class backend {
 public:
  virtual ~backend() = default;
  // Calls `visit` for every stored key. An error (e.g. a corrupt record) stops the load.
  virtual std::error_code load(const std::function<void(std::string key, key_record)>& visit) = 0;
  // Applies the batch atomically and durably under the backend's sync policy.
  virtual std::error_code apply(const std::vector<mutation>& batch) = 0;
  // After a refused batch: checks that writes succeed again (writes nothing a load sees).
  virtual std::error_code probe() { return apply({}); }
  // True if apply waits for the disk (fsync): the engine then gathers requests into one batch per
  // wake-up (group commit). False (no sync, memory): the engine may apply a request on the thread
  // that received it (ADR 0030). Unknown backends say true, the safe default.
  virtual bool syncs() const noexcept { return true; }
  // Group commit in two steps, so that the next batch is executed and written while this one
  // syncs (ADR 0030, "Pipelined group commit"): write_unsynced() applies a batch atomically but
  // makes it durable only once a later sync() returned without error. Called on one thread each
  // (the engine's, the syncer's), possibly at the same time. Defaults: durable at once, nothing
  // left to sync.
  virtual std::error_code write_unsynced(const std::vector<mutation>& batch) { return apply(batch); }
  virtual std::error_code sync() { return {}; }
};

// Keeps encoded records in a map: exercises the same encode/decode path as a real store.
class memory_backend final : public backend {
 public:
  std::error_code load(const std::function<void(std::string, key_record)>& visit) override {
    std::lock_guard g(mu_);
    for (const auto& [k, v] : data_) {
      auto r = decode(v);
      if (!r) return std::make_error_code(std::errc::illegal_byte_sequence);
      visit(k, std::move(*r));
    }
    return {};
  }
  std::error_code apply(const std::vector<mutation>& batch) override {
    std::lock_guard g(mu_);
    for (const auto& m : batch) {
      if (m.record)
        data_[m.key] = encode(*m.record);
      else
        data_.erase(m.key);
    }
    ++batches_;
    return {};
  }
  bool syncs() const noexcept override { return false; }
  std::size_t size() const {
    std::lock_guard g(mu_);
    return data_.size();
  }
  std::size_t batches() const {
    std::lock_guard g(mu_);
    return batches_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> data_;
  std::size_t batches_ = 0;
};

}  // namespace edgemq::statestore
