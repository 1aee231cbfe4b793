#include "app/admin_setup.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "admin/command_service.hpp"
#include "app/command_line.hpp"
#include "edgemq/version.hpp"
#include "statestore/store.hpp"

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

namespace {

// The admin module's state store values to the engine's operator requests and back.
std::function<void(admin::kv_request, std::function<void(admin::kv_reply)>)> statestore_hook(
    const daemon_status& status, const std::unique_ptr<statestore::store>& store) {
  return [&status, &store](admin::kv_request r, std::function<void(admin::kv_reply)> done) {
    if (!status.started.load(std::memory_order_acquire) || !store) {
      admin::kv_reply out;
      out.code = admin::kv_reply::status::unavailable;
      out.message = "the state store is starting";
      return done(std::move(out));
    }
    using store_api = statestore::store;
    store_api::operator_request op;
    op.op = static_cast<store_api::operator_request::verb>(r.op);
    op.key = std::move(r.key);
    op.value = std::move(r.value);
    op.prefix = std::move(r.prefix);
    op.after = std::move(r.after);
    op.limit = r.limit;
    store->submit(std::move(op), [done = std::move(done)](store_api::operator_reply e) {
      admin::kv_reply out;
      out.code = static_cast<admin::kv_reply::status>(e.code);
      out.more = e.more;
      out.message = std::move(e.message);
      for (auto& i : e.items) out.items.push_back({std::move(i.key), std::move(i.value), std::move(i.version)});
      done(std::move(out));
    });
  };
}

// The two enums list the same cases in the same order (casts above).
static_assert(static_cast<int>(admin::kv_request::verb::del) ==
              static_cast<int>(statestore::store::operator_request::verb::del));
static_assert(static_cast<int>(admin::kv_reply::status::unavailable) ==
              static_cast<int>(statestore::store::operator_reply::status::unavailable));

}  // namespace

std::unique_ptr<admin::admin_server> make_admin_server(broker::broker& core, const config::daemon_config& cfg,
                                                       std::string token, const daemon_status& status,
                                                       const std::unique_ptr<statestore::store>& store,
                                                       dataflow::definition_store* dataflows,
                                                       std::shared_ptr<spdlog::logger> log, devices::hub* devices) {
  admin::admin_context ctx{core, {}, edgemq::version_string, std::move(token), {}, {}, {}, cfg.admin.command_topic, {}};
  ctx.listeners = [&status] {
    return status.started.load(std::memory_order_acquire) ? status.listeners : std::vector<std::string>{};
  };
  ctx.ready = [&status] {
    admin::readiness r;
    // Not started: the stores are being opened and restored (not read yet). Stopping: listeners
    // are closing, so a load balancer must stop sending clients here.
    r.started = status.started.load(std::memory_order_acquire) && !status.stopping.load(std::memory_order_acquire);
    if (!r.started) return r;
    r.persistence = status.persistence_healthy();
    r.statestore = status.statestore_healthy();
    if (status.cluster_connected) r.cluster = status.cluster_connected();
    return r;
  };
  if (status.cluster_info) ctx.cluster = status.cluster_info;
  if (cfg.statestore.enabled) ctx.statestore = statestore_hook(status, store);
  ctx.dataflows = dataflows;
  ctx.devices = devices;  // answers `unavailable` until started with the stores
  ctx.reload = [&status] {
    if (!status.started.load(std::memory_order_acquire) || !status.reload)
      return admin::reload_report{{}, {{"daemon", "still starting"}}};
    return status.reload();
  };
  // Registers the command reply topic now, before the listeners start; lives as long as the
  // admin server's context (which outlives every connection: main stops the listeners first).
  auto commands = std::make_shared<admin::command_service>(core);
  ctx.command = [commands](admin::command_request r, std::function<void(admin::command_reply)> done) {
    return commands->start(std::move(r), std::move(done));
  };
  std::optional<admin::tls_files> tls;
  if (cfg.admin.https)
    tls = admin::tls_files{cfg.admin.tls.cert, cfg.admin.tls.key, cfg.admin.tls.min_version, cfg.admin.tls.ciphers};
  return std::make_unique<admin::admin_server>(std::move(ctx), cfg.admin.host, cfg.admin.port, std::move(tls),
                                               std::move(log));
}

}  // namespace edgemq::app
