// The broker's seam to the other nodes of a cluster (docs/cluster.md "Routing between nodes",
// ADR 0028). The broker core knows no socket and no NATS: a module (src/cluster/nats_bus)
// implements this interface, and the broker calls it
// - after routing a message published on this node to local subscribers (forward), and
// - when this node's set of distinct subscription filters gains or loses a filter (interest),
// and the module hands messages from other nodes back through broker::route_from_peer, which
// delivers to local subscribers only (never forwarded again: no loops).
// Without a link (single node) the broker's publish path only pays a null check.
#pragma once

#include <cstdint>
#include <string_view>

#include "broker/message.hpp"

namespace edgemq::broker {

class cluster_link {
 public:
  virtual ~cluster_link() = default;

  // A message published on this node (by a client, a will, a service), after local routing.
  // Called on the publishing thread (an MQTT worker): must not block and must not call back
  // into the broker. Only for topics that cross nodes (crosses_nodes below).
  // `confirm`: the publisher's acknowledgement waits for the returned durable-store ticket (a
  // QoS 1/2 publish from a client); the link returns a ticket decided once every other node
  // holding a matching persistent session has the message durably (0: no such node).
  virtual std::uint64_t forward(const message_ptr& msg, bool confirm) = 0;

  // The first subscription to `filter` on this node appeared (`share_name` empty), or the share
  // group `$share/<share_name>/<filter>` got its first member here; and the reverse when the
  // last one went. Called with the subscription index's exclusive lock held: must not block
  // and must not call into the broker. Filters of the node-local namespaces (crosses_nodes) are
  // reported too; the link ignores them.
  virtual void interest_added(std::string_view filter, std::string_view share_name) = 0;
  virtual void interest_removed(std::string_view filter, std::string_view share_name) = 0;
};

// Topics that stay on the node they are published on: `$`-topics ($SYS statistics are per node,
// $edgemq/... and other reserved service topics are consumed where they arrive) and the state
// store's per-client notification area (every node answers its own clients' KEYNOTIFY).
bool crosses_nodes(std::string_view topic) noexcept;

}  // namespace edgemq::broker
