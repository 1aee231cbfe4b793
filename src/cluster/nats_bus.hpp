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
// - Cluster-wide QoS 1/2 (ADR 0038): a client's QoS 1/2 message whose topic matches persistent
//   sessions on other nodes (confirmations::nodes_holding) gets a durable-store ticket
//   (confirmations::open) that its PUBACK/PUBREC waits for, and travels with a confirmation
//   request. Each receiving node answers on `edgemq.confirm.<origin instance>` once the deliveries
//   it journaled are decided (durable, or failed); the ticket is settled durable when every
//   expected node answered durable, failed on a failure or after confirm_timeout.
// libnats stays in the .cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
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
  std::chrono::milliseconds confirm_timeout{2000};
};

// What cluster-wide QoS 1/2 needs from the cluster sessions (set_confirmations).
struct confirmations {
  // The other nodes holding persistent sessions subscribed to a filter matching `topic`.
  std::function<void(std::string_view topic, std::vector<std::string>& nodes)> nodes_holding;
  std::function<std::uint64_t()> open;              // a pending durable-store ticket
  std::function<void(std::uint64_t, bool)> settle;  // decides it: durable (true) or failed
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
  std::uint64_t confirms_asked = 0, confirms_durable = 0, confirms_failed = 0, confirms_timed_out = 0;
  std::uint64_t confirms_answered = 0;  // asked of this node by others
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

  // Before the listeners accept; the functions must stay callable until stop().
  void set_confirmations(confirmations c);

  std::uint64_t forward(const broker::message_ptr& msg, bool confirm) override;
  void interest_added(std::string_view filter, std::string_view share_name) override;
  void interest_removed(std::string_view filter, std::string_view share_name) override;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;  // shared with the broker's figure source, which outlives the bus
};

}  // namespace edgemq::cluster
