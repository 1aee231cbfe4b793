// Runs the state store service on its own thread, behind the broker's reserved request topic:
// requests are queued by the connection threads, executed in order, written to the backend in
// one batch per wake-up (one fsync for many requests), then answered on each request's
// Response Topic; notifications go straight to the watching client's session.
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
#include "statestore/service.hpp"

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

  // `changed` is called on the engine's thread, with watch_mu_ held.
  watch_id watch(std::string key, watch_callback changed) override;
  void unwatch(watch_id id) override;

  service_stats stats() const override;
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
  void run();
  void process(std::deque<job>& jobs);
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
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<job> queue_;
  bool stopping_ = false;
  std::thread thread_;
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
