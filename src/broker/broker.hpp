// The broker core: subscription index, retained messages, sessions and routing between them.
// It knows packets and sessions, never sockets; connections reach it through client_channel.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "broker/limits.hpp"
#include "broker/retained_store.hpp"
#include "broker/session_registry.hpp"
#include "broker/topic_tree.hpp"

namespace edgemq::broker {

struct counters {
  std::atomic<std::uint64_t> messages_received{0};
  std::atomic<std::uint64_t> messages_delivered{0};
  std::atomic<std::uint64_t> messages_dropped{0};  // queue budget, oversize for the client
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> protocol_errors{0};
};

class broker {
 public:
  explicit broker(limits lim);

  const limits& config() const noexcept { return limits_; }
  topic_tree& subscriptions() noexcept { return tree_; }
  retained_store& retained() noexcept { return retained_; }
  session_registry& sessions() noexcept { return sessions_; }
  counters& stats() noexcept { return counters_; }

  // Stores a retained message if flagged, and delivers `msg` to every matching session once,
  // at the highest QoS granted among its matching subscriptions. Returns the number of
  // sessions it was queued for.
  std::size_t publish(const message_ptr& msg);

 private:
  limits limits_;
  topic_tree tree_;
  retained_store retained_;
  session_registry sessions_;
  counters counters_;
};

}  // namespace edgemq::broker
