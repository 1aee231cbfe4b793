// Wires dataflows into the daemon: the runtime half, the runner that runs the definitions
// (dataflow_definitions.hpp loads them and attaches them to it).
#pragma once

#include <memory>

#include "config/config.hpp"
#include "dataflow/runner.hpp"

namespace spdlog {
class logger;
}
namespace edgemq::broker {
class broker;
}
namespace edgemq::statestore {
class engine;
}

namespace edgemq::app {

// The runner (after the broker and the state store are up). `store` may be null.
std::unique_ptr<dataflow::runner> make_dataflow_runtime(broker::broker& core, const config::daemon_config& cfg,
                                                        statestore::engine* store,
                                                        const std::shared_ptr<spdlog::logger>& log);

}  // namespace edgemq::app
