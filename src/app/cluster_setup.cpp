#include "app/cluster_setup.hpp"

#include "cluster/etcd_client.hpp"
#include "cluster/etcd_store.hpp"

namespace edgemq::app {

std::unique_ptr<statestore::store> make_cluster_statestore(broker::broker& core, const config::daemon_config& cfg,
                                                           const std::shared_ptr<spdlog::logger>& log) {
  cluster::etcd_options eo;
  eo.endpoints = cfg.cluster.etcd;
  // A node lists the members in its own order (K8s: its own member first): start there.
  auto client = std::make_shared<cluster::etcd_client>(std::move(eo));
  cluster::etcd_store_options so;
  so.node_id = cfg.cluster.node;
  return std::make_unique<cluster::etcd_store>(core, std::move(client), std::move(so), log);
}

}  // namespace edgemq::app
