// Broker-wide counters, updated with relaxed atomics from every worker; read by $SYS and tests.
#pragma once

#include <atomic>
#include <cstdint>

namespace edgemq::broker {

struct counters {
  std::atomic<std::uint64_t> messages_received{0};
  std::atomic<std::uint64_t> messages_delivered{0};   // queued for a session
  std::atomic<std::uint64_t> messages_sent{0};        // written to a connection
  std::atomic<std::uint64_t> dropped_queue_full{0};   // session queue count/byte budget
  std::atomic<std::uint64_t> dropped_qos0_offline{0};
  std::atomic<std::uint64_t> dropped_too_large{0};    // above the client's Maximum Packet Size
  std::atomic<std::uint64_t> dropped_expired{0};      // Message Expiry Interval passed
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> protocol_errors{0};
  std::atomic<std::uint64_t> sessions_expired{0};
  std::atomic<std::uint64_t> wills_published{0};

  std::uint64_t dropped() const noexcept {
    return dropped_queue_full.load(std::memory_order_relaxed) + dropped_qos0_offline.load(std::memory_order_relaxed) +
           dropped_too_large.load(std::memory_order_relaxed) + dropped_expired.load(std::memory_order_relaxed);
  }
};

inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept { c.fetch_add(n, std::memory_order_relaxed); }

}  // namespace edgemq::broker
