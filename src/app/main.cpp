// edgemq: the daemon's entry point. Parses the command line, loads the configuration (refusing
// to start on any error), sets up logging and runs the broker until SIGINT/SIGTERM.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "config/config.hpp"
#include "edgemq/version.hpp"
#include "net/server.hpp"
#include "persistence/durable_broker_store.hpp"
#include "persistence/rocksdb_backend.hpp"
#include "statestore/engine.hpp"

namespace {

int fail_config(const std::vector<edgemq::config::config_error>& errors, const std::string& file) {
  for (const auto& e : errors)
    std::fprintf(stderr, "edgemq: config error in %s at %s: %s\n", file.c_str(), e.path.empty() ? "(file)" : e.path.c_str(),
                 e.message.c_str());
  std::fprintf(stderr, "edgemq: not starting: fix the configuration above\n");
  return 2;
}

std::unique_ptr<edgemq::statestore::engine> start_statestore(edgemq::broker::broker& core,
                                                             const edgemq::config::daemon_config& cfg,
                                                             const std::shared_ptr<spdlog::logger>& log) {
  const auto path = (std::filesystem::path(cfg.data_dir) / "statestore").string();
  auto backend = std::make_unique<edgemq::persistence::rocksdb_backend>(
      path, cfg.statestore.sync == "sync" ? edgemq::persistence::sync_policy::sync : edgemq::persistence::sync_policy::none);
  edgemq::statestore::service_limits lim;
  lim.max_keys = cfg.statestore.max_keys;
  lim.max_bytes = cfg.statestore.max_bytes;
  lim.node_id = cfg.statestore.node_id;
  auto store = std::make_unique<edgemq::statestore::engine>(core, std::move(backend), lim, log);
  core.add_sys_source([s = store.get()](const edgemq::broker::broker::sys_put& put) {
    const auto st = s->stats();
    put("$SYS/broker/statestore/keys", s->size());
    put("$SYS/broker/statestore/insertions", st.insertions);
    put("$SYS/broker/statestore/modifications", st.modifications);
    put("$SYS/broker/statestore/deletions", st.deletions);
    put("$SYS/broker/statestore/retrievals", st.retrievals);
    put("$SYS/broker/statestore/keynotify_requests", st.keynotify_requests);
    put("$SYS/broker/statestore/notifications_sent", st.notifications);
  });
  store->start();
  return store;
}

// Opens `path` with `open`; a database that cannot be opened or read is either fatal (the
// default: the message names the path) or, when configured, moved aside so we start empty.
template <class Open>
auto open_or_move_aside(const std::string& path, bool move_aside, const std::shared_ptr<spdlog::logger>& log, Open open) {
  try {
    return open();
  } catch (const std::exception& e) {
    if (!move_aside) throw;
    const auto aside = path + ".corrupt-" + std::to_string(std::time(nullptr));
    std::filesystem::rename(path, aside);
    log->error("{}; moved it to '{}' and starting with an empty database", e.what(), aside);
    return open();
  }
}

std::unique_ptr<edgemq::persistence::durable_broker_store> start_persistence(edgemq::broker::broker& core,
                                                                             const edgemq::config::daemon_config& cfg,
                                                                             const std::shared_ptr<spdlog::logger>& log) {
  using namespace edgemq::persistence;
  const auto path = (std::filesystem::path(cfg.data_dir) / "broker").string();
  const auto policy = cfg.persistence.sync == "sync" ? durability::sync
                      : cfg.persistence.sync == "batch" ? durability::batch : durability::none;
  std::vector<edgemq::broker::message_ptr> wills;
  auto store = open_or_move_aside(path, cfg.persistence.move_aside_on_corruption, log, [&] {
    auto s = std::make_unique<durable_broker_store>(path, policy, std::chrono::milliseconds(cfg.persistence.batch_ms), log);
    wills = s->restore(core);
    return s;
  });
  core.set_durable_store(store.get());
  store->start();
  for (auto& w : wills) core.publish(w);  // wills whose delay or session ended while we were down
  return store;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"edgemq: edge MQTT broker with an embedded state store"};
  app.set_version_flag("--version", std::string("edgemq ") + edgemq::version_string);
  std::string config_file;
  std::vector<std::string> listen;
  std::string data_dir;
  std::string log_level;
  unsigned workers = 0;
  bool workers_set = false;
  app.add_option("-c,--config", config_file, "JSON configuration file (see config/edgemq.json)");
  app.add_option("-l,--listen", listen, "MQTT over TCP on HOST:PORT (repeatable; replaces configured listeners)");
  app.add_option("-d,--data-dir", data_dir, "directory for persistent data (default ./data)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option_function<unsigned>("-w,--workers", [&](const unsigned& n) { workers = n; workers_set = true; },
                                    "worker threads (0: one per core)");
  CLI11_PARSE(app, argc, argv);

  edgemq::config::daemon_config cfg;
  if (!config_file.empty()) {
    if (auto errors = edgemq::config::load_file(config_file, cfg); !errors.empty()) return fail_config(errors, config_file);
  }
  if (!listen.empty()) {
    cfg.server.listeners.clear();
    for (const auto& l : listen) {
      edgemq::net::listen_endpoint ep;
      if (!edgemq::config::parse_endpoint(l, ep)) {
        std::fprintf(stderr, "edgemq: --listen '%s': expected HOST:PORT with a numeric address\n", l.c_str());
        return 2;
      }
      cfg.server.listeners.push_back(ep);
    }
  }
  if (!data_dir.empty()) cfg.data_dir = data_dir;
  if (!log_level.empty()) cfg.log_level = log_level;
  if (workers_set) cfg.server.workers = workers;

  auto log = spdlog::stdout_color_mt("edgemq");
  log->set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::set_default_logger(log);

  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) {
    log->critical("cannot create data directory '{}': {}", cfg.data_dir, ec.message());
    return 1;
  }

  edgemq::broker::broker core(cfg.limits);
  std::unique_ptr<edgemq::persistence::durable_broker_store> durable;
  std::unique_ptr<edgemq::statestore::engine> store;
  std::vector<std::uint16_t> ports;
  try {
    if (cfg.persistence.enabled) durable = start_persistence(core, cfg, log);
    if (cfg.statestore.enabled) store = start_statestore(core, cfg, log);
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }
  edgemq::net::server srv(core, cfg.server, log);
  try {
    ports = srv.start();
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }
  std::string where;
  for (std::size_t i = 0; i < ports.size(); ++i)
    where += (i ? ", " : "") + cfg.server.listeners[i].host + ":" + std::to_string(ports[i]);
  log->info("edgemq {} ready: MQTT on {} (data dir {})", edgemq::version_string, where, cfg.data_dir);
  std::fflush(stdout);
  srv.run_until_signal();
  if (store) store->stop();  // after the connections: they may still have had requests queued
  if (durable) durable->stop();  // everything journaled so far is written
  return 0;
}
