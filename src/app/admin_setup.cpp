#include "app/admin_setup.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "app/command_line.hpp"
#include "edgemq/version.hpp"

namespace edgemq::app {

std::optional<int> check_admin(const config::daemon_config& cfg, const command_line& cl, std::string& token) {
  if (!cfg.admin.enabled) return std::nullopt;
  const bool from_flag = cl.admin.has_value();
  const auto where = "http://" + config::format_endpoint(cfg.admin.host, cfg.admin.port);
  if (config::admin_open(cfg)) {
    // Same rule as the MQTT listeners: beyond loopback, nobody gets in without having been told.
    if (from_flag)
      std::fprintf(stderr, "edgemq: --admin '%s': an admin server beyond loopback needs --admin-token-file\n",
                   where.c_str());
    else
      std::fprintf(stderr,
                   "edgemq: config error in %s at /admin: admin server %s is beyond loopback: set \"token_file\"\n",
                   cl.config_file.c_str(), where.c_str());
    return 2;
  }
  if (cfg.admin.token_file.empty()) return std::nullopt;
  std::ifstream in(cfg.admin.token_file, std::ios::binary);
  std::stringstream ss;
  if (in) ss << in.rdbuf();
  token = ss.str();
  while (!token.empty() &&
         (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' || token.back() == '\t'))
    token.pop_back();
  if (!in || token.empty()) {
    std::fprintf(stderr, "edgemq: admin token file '%s': %s\n", cfg.admin.token_file.c_str(),
                 !in ? "cannot be read" : "is empty");
    return 2;
  }
  return std::nullopt;
}

std::unique_ptr<admin::admin_server> make_admin_server(broker::broker& core, const config::daemon_config& cfg,
                                                       std::string token, const daemon_status& status,
                                                       std::shared_ptr<spdlog::logger> log) {
  admin::admin_context ctx{core, {}, edgemq::version_string, std::move(token), {}};
  ctx.listeners = [&status] {
    return status.started.load(std::memory_order_acquire) ? status.listeners : std::vector<std::string>{};
  };
  ctx.ready = [&status] {
    admin::readiness r;
    r.started = status.started.load(std::memory_order_acquire);
    if (!r.started) return r;  // the stores are being opened and restored: not read yet
    r.persistence = status.persistence_healthy();
    r.statestore = status.statestore_healthy();
    return r;
  };
  return std::make_unique<admin::admin_server>(std::move(ctx), cfg.admin.host, cfg.admin.port, std::move(log));
}

}  // namespace edgemq::app
