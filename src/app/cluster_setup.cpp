#include "app/cluster_setup.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app/admin_setup.hpp"
#include "broker/broker.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/etcd_store.hpp"
#include "cluster/nats_bus.hpp"
#include "cluster/persistent_interest.hpp"
#include "cluster/replicated_session_store.hpp"
#include "cluster/session_janitor.hpp"
#include "cluster/session_ownership.hpp"

namespace edgemq::app {

namespace {

// TLS files and credentials for every etcd and NATS connection (cluster/connection_security.hpp).
cluster::connection_security security_of(const config::cluster_options& c) {
  return {c.tls_ca, c.tls_cert, c.tls_key, c.etcd_user, c.etcd_password, c.nats_user, c.nats_password, c.nats_token};
}

}  // namespace

std::unique_ptr<statestore::store> make_cluster_statestore(broker::broker& core, const config::daemon_config& cfg,
                                                           const std::shared_ptr<spdlog::logger>& log) {
  cluster::etcd_options eo;
  eo.endpoints = cfg.cluster.etcd;
  eo.security = security_of(cfg.cluster);
  // A node lists the members in its own order (K8s: its own member first): start there.
  auto client = std::make_shared<cluster::etcd_client>(std::move(eo));
  cluster::etcd_store_options so;
  so.node_id = cfg.cluster.node;
  so.quota.max_keys = cfg.statestore.max_keys;
  so.quota.max_bytes = cfg.statestore.max_bytes;
  return std::make_unique<cluster::etcd_store>(core, std::move(client), std::move(so), log);
}

namespace {

cluster::session_janitor_options janitor_options(broker::broker& core, const config::daemon_config& cfg,
                                                 cluster::session_ownership& ownership) {
  cluster::session_janitor_options o;
  o.node = cfg.cluster.node;
  o.etcd = cfg.cluster.etcd;
  o.security = security_of(cfg.cluster);
  o.lease = [&ownership] { return ownership.lease(); };
  o.publish = [&core](const broker::message_ptr& will) { core.publish(will); };
  o.begin_sweep = [&ownership](const std::string& id) { return ownership.begin_sweep(id); };
  o.end_sweep = [&ownership](const std::string& id) { ownership.end_sweep(id); };
  return o;
}

std::shared_ptr<cluster::etcd_client> etcd_client_for(const config::daemon_config& cfg) {
  cluster::etcd_options eo;
  eo.endpoints = cfg.cluster.etcd;
  eo.security = security_of(cfg.cluster);
  return std::make_shared<cluster::etcd_client>(std::move(eo));
}

class cluster_sessions_impl final : public cluster_sessions {
 public:
  cluster_sessions_impl(broker::broker& core, const config::daemon_config& cfg, std::shared_ptr<spdlog::logger> log)
      : core_(core),
        local_(core.durable()),
        store_(local_, cfg.cluster.etcd, "edgemq/sessions/", log, security_of(cfg.cluster)),
        ownership_(core, store_, {cfg.cluster.node, cfg.cluster.etcd, cfg.cluster.nats, security_of(cfg.cluster)}, log),
        janitor_(janitor_options(core, cfg, ownership_), log),
        interest_(etcd_client_for(cfg), {cfg.cluster.node, "edgemq/interest/", [this] { return ownership_.lease(); }},
                  log) {}

  void start(cluster::nats_bus* bus) {
    store_.set_interest_listener([this](const std::string& client, const std::vector<std::string>* filters) {
      interest_.session_changed(client, filters);
    });
    store_.start();
    ownership_.start();  // throws when etcd or NATS cannot be reached
    janitor_.start();    // the sessions no node holds: expired ones swept, due wills published
    interest_.start();   // this node's persistent filters to etcd, the others' from it
    core_.set_durable_store(&store_);
    core_.set_session_directory(&ownership_);
    if (bus) {
      cluster::confirmations c;
      c.nodes_holding = [this](std::string_view topic, std::vector<std::string>& nodes) {
        interest_.nodes_holding(topic, nodes);
      };
      c.open = [this] { return store_.open_remote(); };
      c.settle = [this](std::uint64_t ticket, bool durable) { store_.settle_remote(ticket, durable); };
      bus->set_confirmations(std::move(c));
    }
    core_.add_sys_source([this](const broker::broker::sys_put& put) {
      put("$SYS/broker/cluster/sessions/etcd_writes", store_.etcd_writes());
      put("$SYS/broker/cluster/sessions/etcd_write_failures", store_.etcd_failures());
      put("$SYS/broker/cluster/sessions/fenced_writes", store_.fenced_writes());
      put("$SYS/broker/cluster/sessions/swept", janitor_.swept());
      put("$SYS/broker/cluster/sessions/wills_published", janitor_.wills_published());
      put("$SYS/broker/cluster/interest/unwritten", interest_.unwritten());
      for (const auto& [node, n] : interest_.known_filters()) put("$SYS/broker/cluster/interest/nodes/" + node, n);
    });
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    // The broker keeps pointing at both (workers may still read them): after this, a claim
    // finds no lease and no NATS connection, and the journal queues without a writer.
    janitor_.stop();    // its claims released while the lease is still there
    interest_.stop();   // its keys go with the lease
    store_.stop();      // what was journaled is in etcd
    ownership_.stop();  // then the client ids are free
  }

  ~cluster_sessions_impl() override { stop(); }

 private:
  broker::broker& core_;
  broker::durable_store* local_;
  cluster::replicated_session_store store_;
  cluster::session_ownership ownership_;
  cluster::session_janitor janitor_;
  cluster::persistent_interest interest_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<cluster_sessions> start_cluster_sessions(broker::broker& core, const config::daemon_config& cfg,
                                                         std::shared_ptr<spdlog::logger> log, cluster::nats_bus* bus) {
  if (!cfg.cluster.enabled()) return nullptr;
  auto s = std::make_unique<cluster_sessions_impl>(core, cfg, log);
  s->start(bus);
  if (log)
    log->info("cluster sessions: node '{}' owns its clients' sessions through etcd; persistent sessions replicated",
              cfg.cluster.node);
  return s;
}

std::unique_ptr<cluster::nats_bus> start_cluster_bus(broker::broker& core, const config::daemon_config& cfg,
                                                     daemon_status& status, std::shared_ptr<spdlog::logger> log) {
  if (!cfg.cluster.enabled()) return nullptr;
  cluster::nats_bus_options o;
  o.node = cfg.cluster.node;
  o.urls = cfg.cluster.nats;
  o.security = security_of(cfg.cluster);
  auto bus = std::make_unique<cluster::nats_bus>(core, std::move(o), log);
  bus->start();
  auto* b = bus.get();  // outlives the admin server (main stops that first)
  status.cluster_connected = [b] { return b->connected(); };
  status.cluster_info = [b, node = cfg.cluster.node] {
    const auto f = b->figures();
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& n : b->nodes())
      nodes.push_back({{"name", n.name}, {"self", n.self}, {"up", n.up}, {"last_seen_ms_ago", n.last_seen_ms_ago}});
    return nlohmann::json{{"node", node},
                          {"nats_connected", f.connected},
                          {"nodes_up", f.nodes_up},
                          {"nodes", std::move(nodes)},
                          {"messages_out", f.messages_out},
                          {"messages_in", f.messages_in},
                          {"dropped", f.dropped_queue_full + f.dropped_too_large + f.dropped_nats},
                          {"nats_subscriptions", f.subscriptions}}
        .dump();
  };
  log->info("cluster: node '{}', message bus over NATS ({} URLs)", cfg.cluster.node, cfg.cluster.nats.size());
  return bus;
}

}  // namespace edgemq::app
