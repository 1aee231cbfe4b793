// Wires the admin server into the daemon: the safe-default check and the token file (both exit
// 2 on failure, before anything starts), then the server with its readiness and listener views.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin/admin_server.hpp"
#include "config/config.hpp"

namespace edgemq::statestore {
class store;
}
namespace edgemq::dataflow {
class definition_store;
}

namespace edgemq::devices {
class hub;
}

namespace edgemq::app {

struct command_line;

// Checks the admin settings and reads the token file into `token`. Returns the exit status
// when the daemon must not start (one "edgemq: ..." line on stderr, naming the option or key).
std::optional<int> check_admin(const config::daemon_config& cfg, const command_line& cl, std::string& token);

// What the admin server reports about the daemon; written by main, read by the admin thread.
// `listeners` is written once, before `started` is set (release), and read only after it.
struct daemon_status {
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};  // set when shutdown begins: /readyz answers 503 from then on
  std::vector<std::string> listeners;
  std::function<bool()> persistence_healthy = [] { return true; };
  std::function<bool()> statestore_healthy = [] { return true; };
  // Cluster mode (cluster_setup.hpp): connected to NATS, and the node list as JSON. Set before
  // the admin server is made; empty in single node.
  std::function<bool()> cluster_connected;
  std::function<std::string()> cluster_info;
  // The reload SIGHUP does (security files, TLS); set before `started`, from any thread.
  std::function<admin::reload_report()> reload;
};

// `store` is read only after status.started (it is set before, or stays null when the state
// store is off). `dataflows` (may be null: the routes answer 404) outlives the server.
std::unique_ptr<admin::admin_server> make_admin_server(broker::broker& core, const config::daemon_config& cfg,
                                                       std::string token, const daemon_status& status,
                                                       const std::unique_ptr<statestore::store>& store,
                                                       dataflow::definition_store* dataflows,
                                                       std::shared_ptr<spdlog::logger> log,
                                                       devices::hub* devices = nullptr);

}  // namespace edgemq::app
