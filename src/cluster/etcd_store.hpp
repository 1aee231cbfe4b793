// The state store of a cluster node (docs/cluster.md, ADR 0027): the AIO state store protocol
// on the broker's request topic, every request executed against etcd, so that every node answers
// as one store would. Request parsing, replies and error texts are the single-node store's
// (statestore/command.hpp, statestore/wire.hpp); only where the keys live differs.
//
// Key layout: ss/v/<key> the raw value, ss/m/<key> its metadata (version HLC, PX deadline),
// ss/ft/<key> its fencing token. A write is decided on the node's view of the three (kept from
// its watch) and committed by one txn guarded by their mod revisions: when the view was stale
// (or a concurrent change came first) the txn fails, returns the current state, and the request
// is decided again on that. GETs are linearizable reads. KEYNOTIFY and in-process watches are
// served from one etcd watch per node on ss/.
//
// The node's view (every key, read at start and kept by the watch from there, read again when
// the watch could not resume) also counts the keys and bytes for statestore.max_keys/max_bytes:
// a SET is judged by the single node's rule (statestore/quota.hpp) on that count. Each node
// judges on its own view, not inside the txn: writes committed but not yet seen on this node's
// watch (through other nodes, or in flight through this one) are not counted, so concurrent
// inserts can take the store over the limits by the writes in flight at that moment.
//
// Threads and locks: etcd_store_impl.hpp, which also says which file holds what.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "broker/broker.hpp"
#include "statestore/quota.hpp"
#include "statestore/service.hpp"
#include "statestore/store.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::cluster {

class etcd_client;

struct etcd_store_options {
  std::string node_id = "edgemq";  // the HLC node id of versions this node hands out
  std::uint64_t max_clock_skew_ms = 60'000;
  std::string prefix = "ss/";
  statestore::quota_limits quota;  // statestore.max_keys, statestore.max_bytes
};

class etcd_store final : public statestore::store {
 public:
  etcd_store(broker::broker& br, std::shared_ptr<etcd_client> client, etcd_store_options opts,
             std::shared_ptr<spdlog::logger> log, statestore::key_authorizer auth = {},
             std::function<std::uint64_t()> wall_ms = {});
  ~etcd_store() override;

  void start() override;
  // Requests after stop() are answered with an error; returns once no etcd callback can reach
  // the store.
  void stop() override;

  mqtt::reason_code on_publish(const broker::publish_context& ctx, mqtt::publish& p) override;
  void on_connection_closed(std::string_view client_id, std::uint64_t connection_id) override;

  void submit(operator_request r, std::function<void(operator_reply)> done) override;
  watch_id watch(std::string key, watch_callback changed) override;
  void unwatch(watch_id id) override;

  statestore::service_stats stats() const override;
  std::size_t size() const override;
  bool healthy() const noexcept override;
  std::uint64_t write_failures() const noexcept override;
  const broker::latency_histogram& request_latency() const noexcept override;

  struct impl;

 private:
  // Declared first, destroyed last: the client's thread may drop the last reference to impl_
  // (held by a callback it just ran), and must never be the one destroying the client.
  std::shared_ptr<etcd_client> client_;
  std::shared_ptr<impl> impl_;
};

}  // namespace edgemq::cluster
