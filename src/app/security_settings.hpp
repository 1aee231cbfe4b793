// The daemon's security files (password file, authorization policy, JWT keys) loaded into one
// listener_security snapshot per listener (broker/listener_security.hpp) and into the enhanced
// authentication methods (K8S-SAT reads the JWT keys, SCRAM-SHA-256 the password file's SCRAM
// lines). At start-up a file that fails to load stops the daemon (exit 2); on reload (SIGHUP)
// each file is read again and one that fails keeps its previous version, with the reason logged.
// Runs on the main thread at start-up and on the signal thread on reload, never both at once.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/logger.h>

#include "auth/enhanced_methods.hpp"
#include "broker/broker.hpp"
#include "config/config.hpp"

namespace edgemq::app {

class security_settings {
 public:
  security_settings(const config::daemon_config& cfg, broker::broker& core, std::shared_ptr<spdlog::logger> log)
      : cfg_(cfg), core_(core), log_(std::move(log)) {}

  // Loads every configured file, registers the enhanced authentication methods they enable and
  // installs the snapshots. False, with `why` naming the file and the problem, when one fails.
  bool load(std::string& why);
  // Reads the files again; what loads replaces what was there, what fails is kept and logged.
  // `loaded` / `failed` (when given) name each file kind, the failures with the reason.
  void reload(std::vector<std::string>* loaded = nullptr,
              std::vector<std::pair<std::string, std::string>>* failed = nullptr);

 private:
  bool load_passwords(std::string& why);
  bool load_policy(std::string& why);
  // The JWT keys (every --jwt-key and the --jwks file, all or nothing) and the token policy.
  bool load_jwt(std::string& why);
  void register_methods();
  // Builds and installs one snapshot per listener from what is loaded now.
  void install();

  const config::daemon_config& cfg_;
  broker::broker& core_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<const broker::password_checker> passwords_;
  std::shared_ptr<const broker::authorizer> policy_;
  // Read by the enhanced authentication exchanges, on worker threads, whenever one starts.
  std::shared_ptr<auth::current_value<auth::password_file>> password_db_ =
      std::make_shared<auth::current_value<auth::password_file>>();
  std::shared_ptr<auth::current_value<auth::jwt_settings>> jwt_ =
      std::make_shared<auth::current_value<auth::jwt_settings>>();
};

}  // namespace edgemq::app
