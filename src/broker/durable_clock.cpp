#include <chrono>

#include "broker/durable_store.hpp"

namespace edgemq::broker {

std::uint64_t wall_now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::uint64_t to_wall_ms(clock::time_point t, clock::time_point steady_now) {
  const auto delta = std::chrono::duration_cast<std::chrono::milliseconds>(t - steady_now).count();
  const auto wall = static_cast<std::int64_t>(wall_now_ms()) + delta;
  return wall < 1 ? 1 : static_cast<std::uint64_t>(wall);
}

clock::time_point from_wall_ms(std::uint64_t wall_ms, clock::time_point steady_now) {
  return from_wall_ms(wall_ms, steady_now, wall_now_ms());
}

clock::time_point from_wall_ms(std::uint64_t wall_ms, clock::time_point steady_at, std::uint64_t wall_at) {
  const auto delta = static_cast<std::int64_t>(wall_ms) - static_cast<std::int64_t>(wall_at);
  return steady_at + std::chrono::milliseconds(delta);
}

}  // namespace edgemq::broker
