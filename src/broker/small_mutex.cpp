#include "broker/small_mutex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace edgemq::broker {

namespace {
// The futex word is the atomic's 4 bytes (std::atomic<std::uint32_t> is a plain uint32_t in
// memory); the atomics, not these calls, order the memory, and ThreadSanitizer sees them.
std::uint32_t* word(std::atomic<std::uint32_t>& a) noexcept {
  return reinterpret_cast<std::uint32_t*>(&a);
}
}  // namespace

void small_mutex::lock_contended(std::uint32_t c) noexcept {
  if (c != 2) c = state_.exchange(2, std::memory_order_acquire);
  while (c != 0) {
    // Sleeps only while the word is still 2 (held, with waiters); an unlock in between makes
    // the call return at once.
    ::syscall(SYS_futex, word(state_), FUTEX_WAIT_PRIVATE, 2, nullptr, nullptr, 0);
    c = state_.exchange(2, std::memory_order_acquire);
  }
}

void small_mutex::wake_one() noexcept {
  ::syscall(SYS_futex, word(state_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace edgemq::broker
