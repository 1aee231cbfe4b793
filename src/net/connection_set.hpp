// Live connections, so shutdown can tell each of them to go and wait until they have.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "edgemq/mqtt/types.hpp"

namespace edgemq::net {

class closable {
 public:
  virtual ~closable() = default;
  virtual void shutdown(mqtt::reason_code why) = 0;  // thread-safe
  virtual void abort() = 0;  // only once every worker thread has stopped (nobody else can hold it)
};

class connection_set {
 public:
  void add(const std::shared_ptr<closable>& c) {
    std::lock_guard g(mu_);
    live_.emplace(c.get(), c);
  }
  void remove(const closable* c) {
    std::lock_guard g(mu_);
    live_.erase(c);
    if (live_.empty()) empty_.notify_all();
  }
  // Waits until every connection is gone or `deadline`; returns how many are left.
  std::size_t wait_empty(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock g(mu_);
    empty_.wait_until(g, deadline, [&] { return live_.empty(); });
    return live_.size();
  }
  std::size_t size() const {
    std::lock_guard g(mu_);
    return live_.size();
  }
  void shutdown_all(mqtt::reason_code why) {
    for (auto& c : snapshot()) c->shutdown(why);
  }
  void abort_all() {
    for (auto& c : snapshot()) c->abort();
  }

 private:
  std::vector<std::shared_ptr<closable>> snapshot() {
    std::vector<std::shared_ptr<closable>> all;
    std::lock_guard g(mu_);
    for (auto& [p, w] : live_)
      if (auto s = w.lock()) all.push_back(std::move(s));
    return all;
  }

  mutable std::mutex mu_;
  std::condition_variable empty_;
  std::unordered_map<const closable*, std::weak_ptr<closable>> live_;
};

}  // namespace edgemq::net
