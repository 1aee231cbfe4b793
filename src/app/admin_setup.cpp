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
  const auto where = config::format_admin(cfg.admin, cfg.admin.port);
  if (cfg.admin.https && (cfg.admin.tls.cert.empty() || cfg.admin.tls.key.empty())) {
    if (from_flag)
      std::fprintf(stderr, "edgemq: --admin '%s': an https admin server needs --tls-cert and --tls-key\n",
                   where.c_str());
    else
      std::fprintf(stderr, "edgemq: config error in %s at /admin/tls: admin server %s needs \"cert\" and \"key\"\n",
                   cl.config_file.c_str(), where.c_str());
    return 2;
  }
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
  std::optional<admin::tls_files> tls;
  if (cfg.admin.https)
    tls = admin::tls_files{cfg.admin.tls.cert, cfg.admin.tls.key, cfg.admin.tls.min_version, cfg.admin.tls.ciphers};
  return std::make_unique<admin::admin_server>(std::move(ctx), cfg.admin.host, cfg.admin.port, std::move(tls),
                                               std::move(log));
}

}  // namespace edgemq::app
