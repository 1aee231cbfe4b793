// Which nodes hold persistent sessions subscribed to what, cluster-wide (docs/cluster.md,
// "Cluster-wide QoS 1/2"; ADR 0038). A publishing node acknowledges a QoS 1/2 message only once
// every other node holding a matching persistent session has it durably; this is how it knows
// which nodes those are.
//
// - This node's part: the filters of the persistent sessions it journals (told by the
//   replicated session store on every save and removal), counted per filter. Each distinct filter
//   is one etcd key `<root><node>/<hex filter>` under the node's session lease, so a dead node's
//   interest goes with its lease. A writer thread puts and deletes the keys (one change at a
//   time, retried every second until etcd takes it) and writes them all again under a new lease.
// - The others': every key under `<root>` read once, then watched (node_filter_index); read
//   again after a watch that cannot resume.
// Filters of shared subscriptions and `$` filters are left out: share groups are served through
// NATS queue groups, `$` topics never cross nodes.
//
// Threads: session_changed on MQTT workers (mu_, only queues), the writer thread (etcd calls,
// no lock held while calling), etcd_client's I/O thread (watch events: index_mu_ exclusive),
// nodes_holding on workers (index_mu_ shared). mu_ and index_mu_ are never held together.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/node_filter_index.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::cluster {

class etcd_client;

struct persistent_interest_options {
  std::string node;                       // this node's name
  std::string root = "edgemq/interest/";  // key prefix
  std::function<std::int64_t()> lease;    // the node's session lease (0: none yet)
  std::chrono::milliseconds retry{1000};
};

class persistent_interest {
 public:
  // `etcd`: a client for this object alone (stop() releases it, joining its thread).
  persistent_interest(std::shared_ptr<etcd_client> etcd, persistent_interest_options opts,
                      std::shared_ptr<spdlog::logger> log);
  ~persistent_interest();  // stop()
  persistent_interest(const persistent_interest&) = delete;
  persistent_interest& operator=(const persistent_interest&) = delete;

  void start();
  void stop();

  // A persistent session's filters now (`filters` null: the session went from this node).
  void session_changed(const std::string& client_id, const std::vector<std::string>* filters);
  // Other nodes with a persistent session subscribed to a filter matching `topic` (sorted).
  void nodes_holding(std::string_view topic, std::vector<std::string>& out) const;
  // Per other node, how many of its filters this node knows ($SYS, tests).
  std::map<std::string, std::size_t> known_filters() const;
  // Distinct filters of this node not yet written to (or removed from) etcd.
  std::size_t unwritten() const;

 private:
  static bool counts(std::string_view filter);
  void run();
  bool write(const std::string& filter, bool present, std::int64_t lease);
  bool reload();  // reads every other node's keys and watches from there
  void apply_event(const std::string& key, bool put);

  std::shared_ptr<etcd_client> etcd_;
  persistent_interest_options opts_;
  std::shared_ptr<spdlog::logger> log_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::vector<std::string>> sessions_;  // client -> counted filters
  std::map<std::string, std::size_t> filters_;                          // filter -> sessions with it
  std::set<std::string> dirty_;                                         // filters whose key must change
  std::set<std::string> written_;                                       // filters whose key etcd has
  bool reload_ = true;
  bool stopping_ = false;
  std::thread thread_;

  mutable std::shared_mutex index_mu_;
  node_filter_index index_;
  std::set<std::string> keys_;  // the other nodes' keys in index_
  std::uint64_t watch_ = 0;
  std::uint64_t generation_ = 0;  // watch events of an older watch are ignored
};

}  // namespace edgemq::cluster
