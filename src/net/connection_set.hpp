// Live connections, so shutdown can tell each of them to go and wait until they have. An
// intrusive list: a connection carries its own two links, so being in the set allocates nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "edgemq/mqtt/types.hpp"

namespace edgemq::net {

class connection_set;

class closable {
 public:
  virtual ~closable() = default;
  virtual void shutdown(mqtt::reason_code why) = 0;  // thread-safe
  virtual void abort() = 0;  // only once every worker thread has stopped (nobody else can hold it)
  // Null once the last owner let it go (it is being destroyed and leaves the set).
  virtual std::shared_ptr<closable> lock() noexcept = 0;

 private:
  friend class connection_set;
  closable* prev_ = nullptr;  // the set's links, guarded by its mutex
  closable* next_ = nullptr;
  bool listed_ = false;
};

class connection_set {
 public:
  connection_set() { head_.prev_ = head_.next_ = &head_; }
  connection_set(const connection_set&) = delete;
  connection_set& operator=(const connection_set&) = delete;

  void add(closable& c) {
    std::lock_guard g(mu_);
    if (c.listed_) return;
    c.listed_ = true;
    c.prev_ = head_.prev_;
    c.next_ = &head_;
    head_.prev_->next_ = &c;
    head_.prev_ = &c;
    ++size_;
  }
  // Idempotent.
  void remove(closable* c) {
    std::lock_guard g(mu_);
    if (!c->listed_) return;
    c->listed_ = false;
    c->prev_->next_ = c->next_;
    c->next_->prev_ = c->prev_;
    c->prev_ = c->next_ = nullptr;
    if (--size_ == 0) empty_.notify_all();
  }
  // Waits until every connection is gone or `deadline`; returns how many are left.
  std::size_t wait_empty(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock g(mu_);
    empty_.wait_until(g, deadline, [&] { return size_ == 0; });
    return size_;
  }
  std::size_t size() const {
    std::lock_guard g(mu_);
    return size_;
  }
  void shutdown_all(mqtt::reason_code why) {
    for (auto& c : snapshot()) c->shutdown(why);
  }
  void abort_all() {
    for (auto& c : snapshot()) c->abort();
  }

 private:
  // The list head: never a connection.
  struct head final : closable {
    void shutdown(mqtt::reason_code) override {}
    void abort() override {}
    std::shared_ptr<closable> lock() noexcept override { return nullptr; }
  };

  std::vector<std::shared_ptr<closable>> snapshot() {
    std::vector<std::shared_ptr<closable>> all;
    std::lock_guard g(mu_);
    all.reserve(size_);
    for (closable* c = head_.next_; c != &head_; c = c->next_)
      if (auto s = c->lock()) all.push_back(std::move(s));
    return all;
  }

  mutable std::mutex mu_;
  std::condition_variable empty_;
  head head_;
  std::size_t size_ = 0;
};

}  // namespace edgemq::net
