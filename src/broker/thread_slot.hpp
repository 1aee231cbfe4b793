// A small per-thread index for data striped over cache lines (counters, reader locks), so that
// threads touching "the same" value mostly touch different cache lines.
#pragma once

#include <atomic>
#include <cstddef>

namespace edgemq::broker {

inline constexpr std::size_t thread_slots = 8;

inline std::size_t this_thread_slot() noexcept {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % thread_slots;
  return mine;
}

}  // namespace edgemq::broker
