// Cluster mode wiring (docs/cluster.md): each part of the cluster is one function here, called
// from main when cfg.cluster.enabled().
#pragma once

#include <memory>

#include "config/config.hpp"

namespace spdlog {
class logger;
}
namespace edgemq::broker {
class broker;
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

}  // namespace edgemq::app
