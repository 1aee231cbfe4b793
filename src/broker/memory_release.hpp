// Gives freed heap memory back to the system after large removals. glibc's malloc keeps what is
// freed in its arenas and returns by itself only the top of each heap: after 100,000 filters
// are subscribed and removed, the emptied trie nodes and session maps stay resident (about
// 60 MiB), reused by later allocations but never released. malloc_trim returns the free pages.
#pragma once

#include <chrono>
#include <cstdint>

namespace edgemq::broker {

class memory_release {
 public:
  using clock = std::chrono::steady_clock;
  // Removals since the last release that make one worth its cost (it walks every arena).
  static constexpr std::uint64_t threshold = 10'000;
  // At most one release per interval, however fast the churn.
  static constexpr std::chrono::seconds min_interval{2};

  // Called from the broker's periodic sweep with a running count of removed items; true when
  // a release is due (and then counted as done).
  bool due(std::uint64_t removals, clock::time_point now) noexcept;

 private:
  std::uint64_t removals_at_last_ = 0;
  clock::time_point last_{};
};

// Returns free heap pages to the system (malloc_trim where the C library has it). Takes the
// allocator's arena locks: call off the per-message path.
void release_free_memory() noexcept;

}  // namespace edgemq::broker
