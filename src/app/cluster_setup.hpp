// Wires cluster mode (docs/cluster.md) into the daemon: one function per part, each used by a
// line of main.cpp when --cluster-node is given.
#pragma once

#include <memory>

#include "config/config.hpp"

namespace spdlog {
class logger;
}
namespace edgemq::broker {
class broker;
}
namespace edgemq::statestore {
class store;
}
namespace edgemq::cluster {
class nats_bus;
}

namespace edgemq::app {

struct daemon_status;

// Routing between nodes (ADR 0028): starts the NATS bus (connecting in the background), attaches
// it to the broker, and gives `status` the NATS readiness check and the node list for the admin
// server (so call it before make_admin_server). Null when cluster mode is off. Throws
// std::runtime_error on a setup failure. Stop it (reset) after the listeners have stopped.
std::unique_ptr<cluster::nats_bus> start_cluster_bus(broker::broker& core, const config::daemon_config& cfg,
                                                     daemon_status& status, std::shared_ptr<spdlog::logger> log);

// The state store in etcd (ADR 0027) in place of the local one, not started yet: versions carry
// the cluster node's name as their HLC node id. Requires cfg.cluster.enabled().
std::unique_ptr<statestore::store> make_cluster_statestore(broker::broker& core, const config::daemon_config& cfg,
                                                           const std::shared_ptr<spdlog::logger>& log);

// Sessions across nodes (docs/cluster.md, "Sessions across nodes"; docs/adr/0029): one owner per
// client id in etcd, takeover over NATS, persistent sessions journaled to etcd beside the local
// store. stop() before the local persistence stops: it writes what is queued, then releases this
// node's client ids.
class cluster_sessions {
 public:
  virtual ~cluster_sessions() = default;
  virtual void stop() = 0;
};

// Null when not in cluster mode. Call after persistence started (it wraps the broker's durable
// store) and before the listeners accept. Throws std::runtime_error when etcd or NATS cannot be reached.
// `bus` (which must outlive the listeners, as the sessions do) gets the cluster-wide QoS 1/2
// confirmations (ADR 0038): which nodes hold matching persistent sessions, and the tickets.
std::unique_ptr<cluster_sessions> start_cluster_sessions(broker::broker& core, const config::daemon_config& cfg,
                                                         std::shared_ptr<spdlog::logger> log, cluster::nats_bus* bus);

}  // namespace edgemq::app
