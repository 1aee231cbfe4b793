#include "broker/memory_release.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace edgemq::broker {

bool memory_release::due(std::uint64_t removals, clock::time_point now) noexcept {
  if (removals - removals_at_last_ < threshold) return false;
  if (last_ != clock::time_point{} && now - last_ < min_interval) return false;
  removals_at_last_ = removals;
  last_ = now;
  return true;
}

void release_free_memory() noexcept {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace edgemq::broker
