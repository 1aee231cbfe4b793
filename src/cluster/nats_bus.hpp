// The message bus between the nodes of a cluster over NATS core (docs/cluster.md "Routing between
// nodes", ADR 0028): implements broker::cluster_link with one libnats connection per node.
// - Outbound: forward() only appends to a bounded queue (count and bytes); one sender thread
//   publishes, so a slow or absent NATS never blocks an MQTT worker. A full queue drops the
//   message and counts it (dropped "queue_full").
// - Interest: one NATS subscription per distinct local filter (two for a trailing `#`), a queue
//   subscription per share group, made and removed by the sender thread.
// - Inbound (libnats' delivery thread): decoded and handed to broker::route_from_peer; the
//   node's own messages are skipped by origin, duplicates from overlapping subscriptions by
//   (origin, sequence).
// - Retained messages: also published on `edgemq.retained` (every node stores them); a node
//   catches up once connected by asking a peer on `edgemq.retained.sync`.
// - Membership: a heartbeat per second on `edgemq.nodes`; a node is up while heard within 3.5 s.
// libnats stays in the .cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "broker/cluster_link.hpp"
#include "cluster/connection_security.hpp"

namespace spdlog {
class logger;
}
namespace edgemq::broker {
class broker;
}

namespace edgemq::cluster {

struct nats_bus_options {
  std::string node;               // this node's name (--cluster-node)
  std::vector<std::string> urls;  // nats://HOST:PORT (tls://HOST:PORT: TLS), tried in turn on (re)connect
  connection_security security;   // TLS files and the NATS user/password or token
  std::size_t queue_messages = 65536;
  std::size_t queue_bytes = 64u << 20;
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds node_timeout{3500};
  std::chrono::milliseconds sync_timeout{2000};  // retained catch-up, per reply
};

// Running totals; read from any thread.
struct bus_figures {
  bool connected = false;
  std::uint64_t nodes_up = 0;  // this one included while connected
  std::uint64_t messages_out = 0, messages_in = 0;
  std::uint64_t dropped_queue_full = 0, dropped_too_large = 0, dropped_nats = 0;
  std::uint64_t own_skipped = 0, duplicates_skipped = 0, malformed = 0;
  std::uint64_t reconnects = 0, subscriptions = 0, retained_synced = 0;
  std::uint64_t queued = 0;
};

struct node_status {
  std::string name;
  bool self = false;
  bool up = false;
  std::int64_t last_seen_ms_ago = 0;
};

class nats_bus final : public broker::cluster_link {
 public:
  nats_bus(broker::broker& core, nats_bus_options opts, std::shared_ptr<spdlog::logger> log);
  ~nats_bus() override;
  nats_bus(const nats_bus&) = delete;
  nats_bus& operator=(const nats_bus&) = delete;

  // Starts connecting (in the background when no server answers yet: it keeps trying), attaches
  // to the broker (set_cluster_link) and registers the cluster figures with it. Throws
  // std::runtime_error for a setup failure (bad URL).
  void start();
  // Detaches from the broker, says goodbye on `edgemq.nodes`, closes the connection, joins.
  void stop();

  bool connected() const;
  bus_figures figures() const;
  std::vector<node_status> nodes() const;

  void forward(const broker::message_ptr& msg) override;
  void interest_added(std::string_view filter, std::string_view share_name) override;
  void interest_removed(std::string_view filter, std::string_view share_name) override;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;  // shared with the broker's figure source, which outlives the bus
};

}  // namespace edgemq::cluster
