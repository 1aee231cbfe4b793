// What an in-process state store watcher was told, in order, with a deadline to wait for the
// n-th call: shared by the engine's and the cluster store's watch tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "statestore/store.hpp"

namespace edgemq::statestore::testing {

class watch_recorder {
 public:
  explicit watch_recorder(std::chrono::milliseconds deadline = std::chrono::seconds(10)) : deadline_(deadline) {}

  store::watch_callback callback() {
    return [this](std::optional<std::string> v) {
      std::lock_guard g(mu_);
      seen_.push_back(std::move(v));
      cv_.notify_all();
    };
  }
  bool wait_for(std::size_t n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, deadline_, [&] { return seen_.size() >= n; });
  }
  std::vector<std::optional<std::string>> seen() {
    std::lock_guard g(mu_);
    return seen_;
  }

 private:
  std::chrono::milliseconds deadline_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::optional<std::string>> seen_;
};

}  // namespace edgemq::statestore::testing
