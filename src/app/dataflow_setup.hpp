// Wires dataflows into the daemon. Two halves, kept apart so each side edits only its own:
// - definitions (load_dataflow_definitions): the --dataflows directory and the config file's
//   documents (an invalid one exits 2 naming the file, the document and the JSON pointer) and
//   the definitions PUT through the admin API, persisted under the data dir;
// - runtime (start_dataflows/stop_dataflows): the runner that runs them.
#pragma once

#include <memory>
#include <optional>

#include "config/config.hpp"
#include "dataflow/definition_store.hpp"
#include "dataflow/runner.hpp"

namespace spdlog {
class logger;
}
namespace edgemq::broker {
class broker;
}

namespace edgemq::app {

struct command_line;

struct dataflow_services {
  std::unique_ptr<dataflow::definition_store> definitions;
  std::unique_ptr<dataflow::runner> runner;
};

// Reads and validates every declared definition, then the persisted API ones. Returns the exit
// status when the daemon must not start (lines on stderr).
std::optional<int> load_dataflow_definitions(const config::daemon_config& cfg, const command_line& cl,
                                             dataflow_services& out, const std::shared_ptr<spdlog::logger>& log);

// Makes the runner and starts every definition on it (after the stores are restored).
void start_dataflows(dataflow_services& df, broker::broker& core, const config::daemon_config& cfg,
                     const std::shared_ptr<spdlog::logger>& log);
// Before the broker and the stores go away.
void stop_dataflows(dataflow_services& df);

}  // namespace edgemq::app
