// A latency histogram with fixed buckets, recorded from any thread without a lock. Modules own
// theirs (state store request latency, persistence commit latency) and register them with the
// broker (broker::add_histogram), whose registry the admin server renders as Prometheus histograms
// beside the $SYS numbers (ADR 0015). $SYS itself carries no histograms.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace edgemq::broker {

class latency_histogram {
 public:
  // Upper bounds in seconds: from a fast fsync (sub-millisecond) to a stalled disk.
  static constexpr std::array<double, 14> bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                 0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};

  void record(std::chrono::nanoseconds d) noexcept {
    const double s = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < bounds.size() && s > bounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count()), std::memory_order_relaxed);
  }

  struct snapshot {
    std::array<std::uint64_t, bounds.size() + 1> cumulative{};  // per bound, then +Inf (== count)
    double sum_seconds = 0;
  };
  // The count is the +Inf bucket, so a snapshot is always consistent with itself.
  snapshot read() const noexcept {
    snapshot s;
    std::uint64_t run = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      run += buckets_[i].load(std::memory_order_relaxed);
      s.cumulative[i] = run;
    }
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

 private:
  std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace edgemq::broker
