// edgemq: the daemon's entry point. Parses the command line, loads the configuration (refusing
// to start on any error), locks the data directory, sets up logging and runs the broker until
// SIGINT/SIGTERM; SIGHUP reloads the security files. Exit status: 0 after a graceful stop, 1 when
// it cannot start or run, 2 for a usage or configuration error or a data directory in use by
// another process.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "app/admin_setup.hpp"
#include "app/cluster_setup.hpp"
#include "app/command_line.hpp"
#include "app/dataflow_definitions.hpp"
#include "app/dataflow_setup.hpp"
#include "app/devices_setup.hpp"
#include "app/json_log_formatter.hpp"
#include "app/security_settings.hpp"
#include "broker/broker.hpp"
#include "cluster/nats_bus.hpp"
#include "config/config.hpp"
#include "devices/device_hub.hpp"
#include "edgemq/version.hpp"
#include "net/server.hpp"
#include "persistence/data_dir_lock.hpp"
#include "persistence/durable_broker_store.hpp"
#include "persistence/rocksdb_backend.hpp"
#include "persistence/rocksdb_open.hpp"
#include "statestore/engine.hpp"

namespace {

// One line per problem, each naming the file, the JSON path and what is wrong.
int fail_config(const std::vector<edgemq::config::config_error>& errors, const std::string& file) {
  for (const auto& e : errors)
    std::fprintf(stderr, "edgemq: config error in %s at %s: %s\n", file.c_str(),
                 e.path.empty() ? "(file)" : e.path.c_str(), e.message.c_str());
  return 2;
}

// The safe default (docs/security.md): a listener beyond loopback never lets anonymous clients
// in unless told to. Named in the words of where it came from: the --listen flag or the file.
int fail_open_listeners(const std::vector<std::size_t>& open, const edgemq::config::daemon_config& cfg,
                        const edgemq::app::command_line& cl) {
  for (const auto i : open) {
    const auto ep = edgemq::config::format_listener(cfg.server.listeners[i]);
    if (!cl.listen.empty())
      std::fprintf(stderr,
                   "edgemq: --listen '%s': a listener beyond loopback needs --password-file or --allow-anonymous "
                   "(or JWT keys: --jwt-key/--jwks) "
                   "(see edgemq --help)\n",
                   ep.c_str());
    else
      std::fprintf(
          stderr,
          "edgemq: config error in %s at /listeners/%zu: listener %s is beyond loopback and would let "
          "anonymous clients in: set \"password_file\" or \"jwt\", or \"allow_anonymous\": true on the listener\n",
          cl.config_file.c_str(), i, ep.c_str());
  }
  return 2;
}

// An mqtts or wss listener needs a certificate and its key (from --tls-cert/--tls-key for listeners given
// by --listen, from the listener's "tls" object in the file). Whether the files load is checked by
// the server at start (exit 2 too).
std::optional<int> check_tls_listeners(const edgemq::config::daemon_config& cfg, const edgemq::app::command_line& cl) {
  for (std::size_t i = 0; i < cfg.server.listeners.size(); ++i) {
    const auto& l = cfg.server.listeners[i];
    if (!edgemq::config::uses_tls(l.scheme)) continue;
    const auto name = edgemq::config::format_listener(l);
    if (l.tls.cert.empty() || l.tls.key.empty()) {
      if (!cl.listen.empty())
        std::fprintf(stderr, "edgemq: --listen '%s': a TLS listener needs --tls-cert and --tls-key\n", name.c_str());
      else
        std::fprintf(stderr,
                     "edgemq: config error in %s at /listeners/%zu/tls: listener %s needs \"cert\" and \"key\"\n",
                     cl.config_file.c_str(), i, name.c_str());
      return 2;
    }
    if (l.tls.require_client_cert && l.tls.client_ca.empty()) {
      std::fprintf(stderr, "edgemq: listener %s: require_client_cert needs client_ca\n", name.c_str());
      return 2;
    }
  }
  return std::nullopt;
}

// $SYS topics, /metrics and the request histogram of whichever store runs (local or cluster).
void publish_statestore_figures(edgemq::broker::broker& core, edgemq::statestore::store& store) {
  core.add_sys_source([s = &store](const edgemq::broker::broker::sys_put& put) {
    const auto st = s->stats();
    put("$SYS/broker/statestore/keys", s->size());
    put("$SYS/broker/statestore/insertions", st.insertions);
    put("$SYS/broker/statestore/modifications", st.modifications);
    put("$SYS/broker/statestore/deletions", st.deletions);
    put("$SYS/broker/statestore/retrievals", st.retrievals);
    put("$SYS/broker/statestore/keynotify_requests", st.keynotify_requests);
    put("$SYS/broker/statestore/notifications_sent", st.notifications);
    put("$SYS/broker/auth/key_denied", st.denied);
    put("$SYS/broker/statestore/storage/healthy", s->healthy() ? 1 : 0);
    put("$SYS/broker/statestore/storage/write_failures", s->write_failures());
  });
  core.add_histogram({"edgemq_statestore_request_duration_seconds",
                      "State store requests, from arrival to the reply being published.", &store.request_latency()});
}

std::unique_ptr<edgemq::statestore::store> start_statestore(edgemq::broker::broker& core,
                                                            const edgemq::config::daemon_config& cfg,
                                                            const std::shared_ptr<spdlog::logger>& log) {
  const auto path = (std::filesystem::path(cfg.data_dir) / "statestore").string();
  auto backend = std::make_unique<edgemq::persistence::rocksdb_backend>(
      path,
      cfg.statestore.sync == "sync" ? edgemq::persistence::sync_policy::sync : edgemq::persistence::sync_policy::none);
  edgemq::statestore::service_limits lim;
  lim.max_keys = cfg.statestore.max_keys;
  lim.max_bytes = cfg.statestore.max_bytes;
  lim.node_id = cfg.statestore.node_id;
  std::unique_ptr<edgemq::statestore::store> store =
      std::make_unique<edgemq::statestore::engine>(core, std::move(backend), lim, log);
  publish_statestore_figures(core, *store);
  store->start();
  return store;
}

// Opens `path` with `open`; a database that cannot be opened or read is fatal (the message names
// the path) unless its data is unreadable and moving it aside is configured: then it is renamed
// so we start empty. A lock, I/O or permission error never moves anything: the data may be live.
template <class Open>
auto open_or_move_aside(const std::string& path, bool move_aside, const std::shared_ptr<spdlog::logger>& log,
                        Open open) {
  try {
    return open();
  } catch (const std::exception& e) {
    if (!move_aside || !edgemq::persistence::is_corruption(e)) throw;
    const auto aside = path + ".corrupt-" + std::to_string(std::time(nullptr));
    std::filesystem::rename(path, aside);
    log->error("{}; moved it to '{}' and starting with an empty database", e.what(), aside);
    return open();
  }
}

std::unique_ptr<edgemq::persistence::durable_broker_store> start_persistence(
    edgemq::broker::broker& core, const edgemq::config::daemon_config& cfg,
    const std::shared_ptr<spdlog::logger>& log) {
  using namespace edgemq::persistence;
  const auto path = (std::filesystem::path(cfg.data_dir) / "broker").string();
  const auto policy = cfg.persistence.sync == "sync"    ? durability::sync
                      : cfg.persistence.sync == "batch" ? durability::batch
                                                        : durability::none;
  std::vector<edgemq::broker::message_ptr> wills;
  auto store = open_or_move_aside(path, cfg.persistence.move_aside_on_corruption, log, [&] {
    auto s =
        std::make_unique<durable_broker_store>(path, policy, std::chrono::milliseconds(cfg.persistence.batch_ms), log);
    wills = s->restore(core);
    return s;
  });
  core.set_durable_store(store.get());
  core.add_sys_source([s = store.get()](const edgemq::broker::broker::sys_put& put) {
    put("$SYS/broker/persistence/healthy", s->healthy() ? 1 : 0);
    put("$SYS/broker/persistence/write_failures", s->write_failures());
    put("$SYS/broker/persistence/dropped_changes", s->dropped_changes());
    put("$SYS/broker/persistence/refused_writes", s->refused_writes());
  });
  core.add_histogram({"edgemq_persistence_commit_duration_seconds",
                      "Broker journal group commits: one batch written (and fsynced with sync).",
                      &store->commit_latency()});
  store->start();
  for (auto& w : wills) core.publish(w);  // wills whose delay or session ended while we were down
  store->wills_published();               // ... and then their records
  return store;
}

}  // namespace

int main(int argc, char** argv) {
  edgemq::app::command_line cl;
  if (auto rc = edgemq::app::parse_command_line(argc, argv, cl)) return *rc;

  edgemq::config::daemon_config cfg;
  if (!cl.config_file.empty()) {
    if (auto errors = edgemq::config::load_file(cl.config_file, cfg); !errors.empty())
      return fail_config(errors, cl.config_file);
  }
  cl.apply(cfg);
  if (cl.cluster_given()) {  // the file's section was checked as it loaded
    std::vector<edgemq::config::config_error> problems;
    edgemq::config::check_cluster(cfg.cluster, "", problems);
    if (!problems.empty()) {
      std::fprintf(stderr, "edgemq: %s: %s\n", problems.front().path.c_str(), problems.front().message.c_str());
      return 2;
    }
  }
  if (auto rc = check_tls_listeners(cfg, cl)) return *rc;
  if (auto open = edgemq::config::open_listeners(cfg); !open.empty()) return fail_open_listeners(open, cfg, cl);
  edgemq::config::resolve_listener_auth(cfg);
  std::string admin_token;
  if (auto rc = edgemq::app::check_admin(cfg, cl, admin_token)) return *rc;
  if (auto rc = edgemq::app::load_device_policies(cfg)) return *rc;

  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) {
    std::fprintf(stderr, "edgemq: cannot create data dir '%s': %s\n", cfg.data_dir.c_str(), ec.message().c_str());
    return 1;
  }
  // Before any database is opened, and for the life of the process.
  edgemq::persistence::data_dir_lock dir_lock;
  if (cfg.persistence.enabled || cfg.statestore.enabled) {
    if (auto lec = dir_lock.lock(cfg.data_dir)) {
      if (edgemq::persistence::data_dir_lock::in_use(lec)) {
        std::fprintf(stderr, "edgemq: data dir '%s' in use by another process\n", cfg.data_dir.c_str());
        return 2;
      }
      std::fprintf(stderr, "edgemq: cannot lock data dir '%s': %s\n", cfg.data_dir.c_str(), lec.message().c_str());
      return 1;
    }
  }

  auto log = spdlog::stdout_color_mt("edgemq");
  if (cfg.log_format == "json") log->set_formatter(std::make_unique<edgemq::app::json_log_formatter>());
  log->set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::set_default_logger(log);

  edgemq::broker::broker core(cfg.limits);
  edgemq::app::security_settings security(cfg, core, log);
  if (std::string why; !security.load(why)) {
    std::fprintf(stderr, "edgemq: %s\n", why.c_str());
    return 2;
  }
  std::unique_ptr<edgemq::dataflow::definition_store> dataflow_definitions;  // the admin API's, the runner's
  if (auto rc = edgemq::app::load_dataflow_definitions(cfg, cl, dataflow_definitions, log)) return *rc;
  // SIGHUP (signal thread) and POST /api/v1/reload (admin thread) may reload at the same time:
  // one at a time.
  std::mutex reload_mu;
  cfg.server.on_reload = [&security, &reload_mu] {
    std::lock_guard g(reload_mu);
    security.reload();
  };
  // Registered with the broker before anything accepts; loaded once the state store runs.
  auto devices = edgemq::app::make_device_hub(core, cfg, log);
  std::unique_ptr<edgemq::persistence::durable_broker_store> durable;
  std::unique_ptr<edgemq::app::cluster_sessions> cluster_sessions;
  std::unique_ptr<edgemq::statestore::store> store;
  std::unique_ptr<edgemq::dataflow::runtime> dataflows;  // after the broker and the stores, before them on exit
  std::vector<std::uint16_t> ports;
  // The admin server comes up before the stores are restored: /healthz answers during a long
  // restore, /readyz says 503 until the MQTT listeners accept.
  edgemq::app::daemon_status status;
  status.persistence_healthy = [&durable] { return !durable || durable->healthy(); };
  status.statestore_healthy = [&store] { return !store || store->healthy(); };
  std::unique_ptr<edgemq::cluster::nats_bus> bus;  // routing between nodes (cluster mode)
  try {
    bus = edgemq::app::start_cluster_bus(core, cfg, status, log);
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }
  std::unique_ptr<edgemq::admin::admin_server> admin;
  std::string admin_where;
  if (cfg.admin.enabled) {
    admin = edgemq::app::make_admin_server(core, cfg, std::move(admin_token), status, store, dataflow_definitions.get(),
                                           log, devices.get());
    try {
      admin_where = ", admin on " + edgemq::config::format_admin(cfg.admin, admin->start());
    } catch (const edgemq::admin::setup_error& e) {
      std::fprintf(stderr, "edgemq: %s\n", e.what());  // a certificate or key that does not load
      return 2;
    } catch (const std::exception& e) {
      log->critical("{}", e.what());
      return 1;
    }
  }
  try {
    if (cfg.persistence.enabled) durable = start_persistence(core, cfg, log);
    cluster_sessions = edgemq::app::start_cluster_sessions(core, cfg, log, bus.get());  // wraps the durable store
    if (cfg.statestore.enabled && cfg.cluster.enabled()) {  // the state store in etcd (docs/cluster.md)
      store = edgemq::app::make_cluster_statestore(core, cfg, log);
      publish_statestore_figures(core, *store);
      store->start();
    } else if (cfg.statestore.enabled) {
      store = start_statestore(core, cfg, log);
    }
    if (devices) edgemq::app::start_device_hub(*devices, store.get(), log);
    dataflows = edgemq::app::make_dataflow_runtime(core, cfg, store.get(), log);
  } catch (const edgemq::persistence::in_use_error& e) {
    // Another process that does not take our data dir lock (an older edgemq, a tool).
    log->critical("{}", e.what());
    std::fprintf(stderr, "edgemq: data dir '%s' in use by another process\n", cfg.data_dir.c_str());
    return 2;
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }
  dataflow_definitions->attach(dataflows.get());  // every definition starts on the runner
  cfg.server.on_stopping = [&status] { status.stopping.store(true, std::memory_order_release); };
  edgemq::net::server srv(core, cfg.server, log);
  try {
    ports = srv.start();
  } catch (const edgemq::net::setup_error& e) {
    std::fprintf(stderr, "edgemq: %s\n", e.what());  // a certificate or key that does not load
    return 2;
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }
  std::string where;
  for (std::size_t i = 0; i < ports.size(); ++i) {
    auto l = cfg.server.listeners[i];
    l.port = ports[i];
    where += (i ? ", " : "") + edgemq::config::format_listener(l);
  }
  for (std::size_t i = 0; i < ports.size(); ++i) {
    auto l = cfg.server.listeners[i];
    l.port = ports[i];
    status.listeners.push_back(edgemq::config::format_listener(l));
  }
  status.reload = [&srv, &security, &reload_mu] {
    edgemq::admin::reload_report r;
    auto tls = srv.reload_tls();
    r.reloaded = std::move(tls.loaded);
    r.failed = std::move(tls.failed);
    std::lock_guard g(reload_mu);
    security.reload(&r.reloaded, &r.failed);
    return r;
  };
  status.started.store(true, std::memory_order_release);
  log->info("edgemq {} ready: MQTT on {}{} (data dir {})", edgemq::version_string, where, admin_where, cfg.data_dir);
  std::fflush(stdout);
  srv.run_until_signal();
  if (devices) devices->stop();      // pending direct methods answer (timeout) while the admin server runs
  if (admin) admin->stop();          // before the stores its readiness reads go away
  if (bus) bus->stop();              // after the listeners: no more local publishes to forward
  dataflow_definitions->detach();    // no more runner calls from the admin API (stopped above anyway)
  if (dataflows) dataflows->stop();  // its in-process clients end their sessions' connections
  if (store) store->stop();          // after the connections: they may still have had requests queued
  if (cluster_sessions) cluster_sessions->stop();  // journal in etcd, then this node's client ids freed
  if (durable) durable->stop();                    // everything journaled so far is written
  return 0;
}
