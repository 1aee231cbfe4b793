// The definitions half of the daemon's dataflows: the --dataflows directory and the config
// file's documents (an invalid one exits 2 naming the file, the document and the JSON pointer),
// then the definitions PUT through the admin API, persisted under the data dir. The runtime half
// (dataflow_setup.hpp) makes the runner they are attached to.
#pragma once

#include <memory>
#include <optional>

#include "config/config.hpp"
#include "dataflow/definition_store.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::app {

struct command_line;

// Reads and validates every declared definition, then the persisted API ones, into `out`.
// Returns the exit status when the daemon must not start (lines on stderr).
std::optional<int> load_dataflow_definitions(const config::daemon_config& cfg, const command_line& cl,
                                             std::unique_ptr<dataflow::definition_store>& out,
                                             const std::shared_ptr<spdlog::logger>& log);

}  // namespace edgemq::app
