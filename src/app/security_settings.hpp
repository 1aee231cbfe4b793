// The daemon's security files (password file, authorization policy; later JWT keys) loaded
// into one listener_security snapshot per listener (broker/listener_security.hpp). At start-up a
// file that fails to load stops the daemon (exit 2); on reload (SIGHUP) each file is read again
// and one that fails keeps its previous version, with the reason logged. Runs on the main thread
// at start-up and on the signal thread on reload, never both at once.
#pragma once

#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "broker/broker.hpp"
#include "config/config.hpp"

namespace edgemq::app {

class security_settings {
 public:
  security_settings(const config::daemon_config& cfg, broker::broker& core, std::shared_ptr<spdlog::logger> log)
      : cfg_(cfg), core_(core), log_(std::move(log)) {}

  // Loads every configured file and installs the snapshots. False, with `why` naming the file
  // and the problem, when one fails.
  bool load(std::string& why);
  // Reads the files again; what loads replaces what was there, what fails is kept and logged.
  void reload();

 private:
  bool load_passwords(std::string& why);
  bool load_policy(std::string& why);
  // Builds and installs one snapshot per listener from what is loaded now.
  void install();

  const config::daemon_config& cfg_;
  broker::broker& core_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<const broker::password_checker> passwords_;
  std::shared_ptr<const broker::authorizer> policy_;
};

}  // namespace edgemq::app
