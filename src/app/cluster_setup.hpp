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

namespace edgemq::app {

// The state store in etcd (ADR 0027) in place of the local one, not started yet: versions carry
// the cluster node's name as their HLC node id. Requires cfg.cluster.enabled().
std::unique_ptr<statestore::store> make_cluster_statestore(broker::broker& core, const config::daemon_config& cfg,
                                                           const std::shared_ptr<spdlog::logger>& log);

}  // namespace edgemq::app
