// The state store as the rest of the daemon sees it: served on the broker's reserved request
// topic (a broker::topic_service), with operator requests for the admin API and the devices'
// registry, in-process watches for the dataflows' datasets, and figures for /metrics.
//
// Two implementations: statestore::engine (single node: keys in memory, written through to
// RocksDB) and the cluster's etcd-backed store (src/cluster). Everything above this interface
// (src/admin, src/dataflow, src/devices, src/app) must work with either, so that cluster mode
// changes no caller.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/latency_histogram.hpp"
#include "broker/reserved_topics.hpp"

namespace edgemq::statestore {

struct service_stats {
  std::uint64_t insertions = 0, modifications = 0, deletions = 0, retrievals = 0, keynotify_requests = 0,
                notifications = 0, denied = 0;  // denied: requests refused "not authorized"
};

class store : public broker::topic_service {
 public:
  ~store() override = default;

  virtual void start() = 0;
  virtual void stop() = 0;

  // Operator requests (the admin API, wired by src/app): executed in order with the MQTT
  // requests, with the same durability (a refused write answers `unavailable`, never a success),
  // notifying KEYNOTIFY watchers as any change does. `done` may be called on any thread of the
  // store's; it must not block.
  struct operator_item {
    std::string key, value, version;
  };
  struct operator_request {
    enum class verb : std::uint8_t { list, get, put, del } op = verb::get;
    std::string key, value, prefix, after;
    std::size_t limit = 100;
  };
  struct operator_reply {
    enum class status : std::uint8_t { ok, not_found, refused, unavailable } code = status::ok;
    std::vector<operator_item> items;
    bool more = false;
    std::string message;
  };
  virtual void submit(operator_request r, std::function<void(operator_reply)> done) = 0;

  // In-process watchers (the dataflows' datasets): what KEYNOTIFY is to an MQTT client, without
  // the round trips. `changed` is called first with the key's value once the watch is registered
  // (nullopt: no such key), then after every durably stored change of the key (SET, DEL, VDEL,
  // expiry, operator writes, and in a cluster changes made through other nodes) with its new
  // value. It must not block nor call watch/unwatch. After unwatch returns, `changed` is not
  // running and is never called again (unwatch must not be called from a `changed`).
  using watch_id = std::uint64_t;
  using watch_callback = std::function<void(std::optional<std::string>)>;
  virtual watch_id watch(std::string key, watch_callback changed) = 0;
  virtual void unwatch(watch_id id) = 0;

  virtual service_stats stats() const = 0;
  // Keys held (a cluster store may answer its last known count).
  virtual std::size_t size() const = 0;
  // False while writes are refused (storage failure, or in a cluster no quorum).
  virtual bool healthy() const noexcept = 0;
  virtual std::uint64_t write_failures() const noexcept = 0;
  // From a request's arrival to its reply being published: what a client of the store waits.
  virtual const broker::latency_histogram& request_latency() const noexcept = 0;

  // The reply to a request whose change could not be stored.
  static constexpr std::string_view storage_error = "the state store cannot write to its storage; try again later";
};

// Milliseconds since the Unix epoch: the wall clock HLC versions and expiries are read from.
std::uint64_t system_wall_ms();

}  // namespace edgemq::statestore
