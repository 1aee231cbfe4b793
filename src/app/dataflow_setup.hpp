// Wires dataflows into the daemon. The runtime half: the runner that runs them (after the broker
// and the state store are up, stopped before them). The definitions half (--dataflows, the admin
// API's store) is added beside it and hands its definitions to this runtime.
#pragma once

#include <memory>

#include "config/config.hpp"
#include "dataflow/runtime.hpp"

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

// Starts the runtime's I/O thread (its buffers, data_dir/dataflows, open with the first dataflow)
// and registers its counters with $SYS and /metrics. `store` (null when the state store is off)
// feeds the enrichment datasets.
std::unique_ptr<dataflow::runtime> make_dataflow_runtime(broker::broker& core, const config::daemon_config& cfg,
                                                         statestore::store* store,
                                                         const std::shared_ptr<spdlog::logger>& log);

}  // namespace edgemq::app
