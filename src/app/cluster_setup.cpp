#include "app/cluster_setup.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app/admin_setup.hpp"
#include "cluster/nats_bus.hpp"

namespace edgemq::app {

std::unique_ptr<cluster::nats_bus> start_cluster_bus(broker::broker& core, const config::daemon_config& cfg,
                                                     daemon_status& status, std::shared_ptr<spdlog::logger> log) {
  if (!cfg.cluster.enabled()) return nullptr;
  cluster::nats_bus_options o;
  o.node = cfg.cluster.node;
  o.urls = cfg.cluster.nats;
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
