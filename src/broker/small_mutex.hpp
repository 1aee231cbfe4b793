// A mutex in 4 bytes instead of std::mutex's 40: every session has one, and 10,000 idle
// connections each hold a session (docs/adr/0039-idle-connection-memory.md). The classic
// three-state futex lock (0 free, 1 held, 2 held with waiters; U. Drepper, "Futexes Are Tricky"),
// which is what glibc's default pthread mutex does: one compare-exchange uncontended, waiters
// asleep in the kernel, no spinning. The futex calls are made directly (small_mutex.cpp), not
// through C++20 atomic wait: libstdc++'s wait spins and yields first and keeps waiter counts in a
// shared table, which cost fan-in (every worker taking one session's lock per message) 18 % of its
// throughput. Not recursive, no timed waits, no condition variables: a session's lock needs none.
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
    lock_contended(c);
  }
  bool try_lock() noexcept {
    std::uint32_t c = 0;
    return state_.compare_exchange_strong(c, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) wake_one();
  }

 private:
  void lock_contended(std::uint32_t seen) noexcept;
  void wake_one() noexcept;

  std::atomic<std::uint32_t> state_{0};
};

}  // namespace edgemq::broker
