// Broker-wide counters, bumped from every worker on every message; read by $SYS and tests.
// Each counter is striped over cache lines picked per thread: a single shared atomic would
// bounce its cache line between the workers several times per message.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "broker/thread_slot.hpp"

namespace edgemq::broker {

class counter {
 public:
  void add(std::uint64_t n) noexcept { cells_[this_thread_slot()].v.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t load() const noexcept {
    std::uint64_t sum = 0;
    for (const auto& c : cells_) sum += c.v.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  struct alignas(64) cell {
    std::atomic<std::uint64_t> v{0};
  };
  std::array<cell, thread_slots> cells_{};
};

struct counters {
  // Messages routed (client publishes and wills; never the broker's own $SYS updates), by QoS as
  // published (index 0, 1, 2), and PUBLISH packets written to connections, by QoS as granted. The
  // totals are their sums (one atomic add per message, not two).
  std::array<counter, 3> received_by_qos;
  std::array<counter, 3> sent_by_qos;
  counter payload_bytes_received;  // of the messages routed
  counter payload_bytes_sent;      // of the PUBLISH packets written
  counter messages_delivered;      // queued for a session
  counter dropped_queue_full;      // session queue count/byte budget
  counter dropped_qos0_offline;
  counter dropped_too_large;    // above the client's Maximum Packet Size
  counter dropped_expired;      // Message Expiry Interval passed
  counter dropped_unencodable;  // a field or the whole packet too long for MQTT (never sent wrapped)
  counter connections_accepted;
  counter protocol_errors;
  counter refused_storage;  // QoS 1/2 messages refused because the disk failed (not dropped: refused)
  counter sessions_expired;
  counter wills_published;
  counter auth_failures;     // CONNECTs refused: wrong credentials, or anonymous where not allowed
                             // (also: unknown or failed enhanced authentication, failed re-authentication)
  counter auth_expired;      // connections ended because their token expired without re-authentication
  counter connect_denied;    // CONNECTs the authorization policy refused
  counter publish_denied;    // PUBLISHes to a topic the broker owns ($SYS/...) or the policy does not grant
  counter subscribe_denied;  // filters reaching into other clients' state store topics, or not granted

  std::uint64_t messages_received() const noexcept {
    return received_by_qos[0].load() + received_by_qos[1].load() + received_by_qos[2].load();
  }
  std::uint64_t messages_sent() const noexcept {
    return sent_by_qos[0].load() + sent_by_qos[1].load() + sent_by_qos[2].load();
  }
  std::uint64_t dropped() const noexcept {
    return dropped_queue_full.load() + dropped_qos0_offline.load() + dropped_too_large.load() + dropped_expired.load() +
           dropped_unencodable.load();
  }
};

inline void bump(counter& c, std::uint64_t n = 1) noexcept {
  c.add(n);
}

}  // namespace edgemq::broker
