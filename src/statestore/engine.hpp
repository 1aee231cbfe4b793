// Runs the state store service behind the broker's reserved request topic: requests are queued
// by the connection threads, executed in order on the engine's thread, written to the backend in
// one batch per wake-up (one fsync for many requests), then answered on each request's Response
// Topic; notifications go straight to the watching client's session.
//
// Fast paths (ADR 0030), taken only while nothing is queued (so a connection's requests keep
// their order): a GET is answered on the connection's thread from the read index (the keys as
// last stored); with a backend that does not sync, any other request is executed on the
// connection's thread under exec_mu_, exactly as the engine thread would execute a batch of one.
//
// Pipelined group commit (ADR 0030), with a backend that syncs: the engine thread executes a
// batch and writes it without fsync, then, if requests are waiting or the syncer is still busy,
// hands it to the syncer thread, which runs one fsync for every batch written before it and only
// then updates the read index, tells watchers and answers; meanwhile the engine executes and
// writes the next batch. When nothing is waiting and the syncer is idle, the engine thread syncs
// and answers the batch itself: a hand-off costs two thread wake-ups, which only pay off while
// there is a next batch to overlap with the fsync. A failed sync takes back
// every batch not yet synced (their changes ran ahead of the disk) and answers their writers with
// the storage error. A batch registering in-process watches waits for the syncer to drain, before
// and after, so a watcher's first value is never ahead of the disk.
//
// Threading: exec_mu_ guards svc_, the backend's writes and the read index's writes, and orders
// every execution (engine thread and fast paths alike). Lock order: exec_mu_, then mu_, watch_mu_
// or sync_mu_ (never exec_mu_ while holding one of those).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "broker/broker.hpp"
#include "broker/latency_histogram.hpp"
#include "statestore/read_index.hpp"
#include "statestore/service.hpp"
#include "statestore/wire.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::statestore {

class engine final : public store {
 public:
  // Loads the keys of `b` (throws std::runtime_error on a load failure) and registers the
  // request topic with the broker.
  engine(broker::broker& br, std::unique_ptr<backend> b, service_limits lim, std::shared_ptr<spdlog::logger> log,
         key_authorizer auth = {}, std::function<std::uint64_t()> wall_ms = {});
  ~engine() override;

  void start() override;
  void stop() override;

  mqtt::reason_code on_publish(const broker::publish_context& ctx, mqtt::publish& p) override;
  void on_connection_closed(std::string_view client_id, std::uint64_t connection_id) override;

  // Operator requests are queued with the MQTT requests and executed in the same order, in the
  // same durable batch; `done` is called on the engine's thread.
  void submit(operator_request r, std::function<void(operator_reply)> done) override;

  // `changed` is called with watch_mu_ held, on the thread that stored the change (the engine's,
  // or with a backend that does not sync, a connection's thread).
  watch_id watch(std::string key, watch_callback changed) override;
  void unwatch(watch_id id) override;

  service_stats stats() const override;
  // Requests queued for the engine thread or being executed there (fast paths wait for zero).
  std::uint64_t queued() const noexcept { return pending_.load(); }
  std::size_t size() const override;
  // False from a refused write until one succeeds (docs/persistence.md).
  bool healthy() const noexcept override { return healthy_.load(std::memory_order_relaxed); }
  std::uint64_t write_failures() const noexcept override { return write_failures_.load(std::memory_order_relaxed); }
  const broker::latency_histogram& request_latency() const noexcept override { return request_latency_; }

 private:
  struct job {
    request req;
    std::string response_topic;
    std::string correlation_data;
    bool closed_only = false;  // a connection ended: drop its watches
    // Set: an operator request (req.payload holds its RESP3 form, except for list).
    std::shared_ptr<std::pair<operator_request, std::function<void(operator_reply)>>> op;
    operator_reply listed;  // list: the page, read when executed
    std::chrono::steady_clock::time_point arrived{};
    watch_id watch = 0;  // set: registers this in-process watch (req.payload holds the key)
  };
  // One wake-up's jobs, executed: what answering them needs once their changes are stored.
  struct executed_batch {
    std::deque<job> jobs;  // moved in when pipelined (replies and new_watches point into it)
    effects fx;
    std::vector<std::pair<const job*, response>> replies;
    std::size_t first_writer = 0;  // replies from here on saw this batch's changes
    std::vector<const job*> new_watches;
    std::size_t changes = 0;  // undo journal entries it added, kept once synced
    bool stored = true;
  };
  void run();
  void run_syncer();
  void enqueue(job j);
  // With exec_mu_ held. Executes and stores `jobs`, then answers them; when a pipelined batch is
  // handed to the syncer instead, true is returned (the syncer answers and counts them).
  bool process(std::deque<job>& jobs);
  // With exec_mu_ held. Executes `jobs` and writes their changes (without fsync when pipelined).
  void execute(std::deque<job>& jobs, executed_batch& b);
  // With exec_mu_ held. The batch's changes are stored (or refused: b.stored): index, watchers, replies.
  void answer(executed_batch& b);
  void wait_syncer_drained();
  // Adaptive pipelining: true when no request is queued and the syncer has nothing in hand, so
  // the engine thread syncs and answers the batch itself (no earlier batch can be overtaken).
  bool syncer_idle_and_nothing_queued();
  // With exec_mu_ held, the syncer idle. fsync of the batch just written; a failure takes its
  // changes back and marks it refused.
  void sync_here(executed_batch& b);
  // GET answered from the read index on the calling thread; false: take the queue.
  bool fast_get(const broker::publish_context& ctx, const incoming& in);
  void retry_storage();
  // Executes an operator request like an MQTT one; list reads the key map directly.
  response execute_operator(job& j, effects& fx);
  void answer_operator(const job& j, const response& resp, bool failed);
  static constexpr std::uint64_t retry_interval_ms = 1000;
  // After a batch is stored: calls the watchers of the keys it changed, then registers the
  // watches it carried with the key's current (stored) value.
  void notify_watchers(const std::vector<mutation>& stored, const std::vector<const job*>& new_watches);

  struct watcher {
    std::string key;
    watch_callback changed;
  };

  broker::broker& broker_;
  std::unique_ptr<backend> backend_;
  std::shared_ptr<spdlog::logger> log_;
  std::function<std::uint64_t()> wall_ms_;
  service svc_;
  std::mutex exec_mu_;
  read_index index_;
  bool fast_reads_ = true;      // false with a key_authorizer hook (not known to be thread-safe)
  bool inline_writes_ = false;  // the backend does not sync: execute on the connection's thread
  // The backend syncs: batches go through the syncer (pipelined group commit).
  bool pipelined() const noexcept { return !inline_writes_; }
  std::uint64_t max_clock_skew_ms_ = 0;
  // Jobs queued or being processed by the engine thread: fast paths wait for zero.
  std::atomic<std::uint64_t> pending_{0};
  std::atomic<std::uint64_t> fast_retrievals_{0};
  mutable std::mutex mu_;
  // When the engine thread wakes for the next expiry (under mu_; 0 while it is recomputing it),
  // and whether a fast path set an earlier one.
  std::uint64_t wake_at_ms_ = 0;
  bool rearm_ = false;
  std::condition_variable cv_;
  std::deque<job> queue_;
  bool stopping_ = false;
  std::thread thread_;
  // The syncer: batches written, waiting for their fsync (under sync_mu_).
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;     // the syncer waits for batches
  std::condition_variable drained_cv_;  // the engine thread waits for the syncer to drain
  std::deque<executed_batch> written_;
  bool syncing_ = false;
  bool sync_stopping_ = false;
  std::thread syncer_;
  std::atomic<bool> healthy_{true};
  std::atomic<std::uint64_t> write_failures_{0};
  broker::latency_histogram request_latency_;
  service_stats stats_snapshot_;
  std::size_t size_snapshot_ = 0;
  // Watchers are called with watch_mu_ held, so that unwatch can promise no call after it.
  std::mutex watch_mu_;
  std::atomic<watch_id> next_watch_{1};
  std::unordered_map<watch_id, watcher> pending_watches_;  // queued, not registered yet
  std::unordered_map<watch_id, watcher> watchers_;
};

}  // namespace edgemq::statestore
