// A mutex in 4 bytes instead of std::mutex's 40: every session has one, and 10,000 idle
// connections each hold a session (docs/adr/0039-idle-connection-memory.md). The classic
// three-state futex lock (0 free, 1 held, 2 held with waiters; U. Drepper, "Futexes Are Tricky"),
// waiting through C++20 atomic wait, which is a futex on Linux. Uncontended it costs what
// pthread_mutex_lock costs (one compare-exchange); contended, waiters sleep in the kernel rather
// than spin. Not recursive, no timed waits, no condition variables: a session's lock needs none.
#pragma once

#include <atomic>
#include <cstdint>

namespace edgemq::broker {

class small_mutex {
 public:
  small_mutex() = default;
  small_mutex(const small_mutex&) = delete;
  small_mutex& operator=(const small_mutex&) = delete;

  void lock() noexcept {
    std::uint32_t c = 0;
    if (state_.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed)) return;
    if (c != 2) c = state_.exchange(2, std::memory_order_acquire);
    while (c != 0) {
      state_.wait(2, std::memory_order_relaxed);
      c = state_.exchange(2, std::memory_order_acquire);
    }
  }
  bool try_lock() noexcept {
    std::uint32_t c = 0;
    return state_.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) state_.notify_one();
  }

 private:
  std::atomic<std::uint32_t> state_{0};
};

}  // namespace edgemq::broker
