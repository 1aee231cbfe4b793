// One running dataflow inside the runtime: source -> transformation -> disk buffer -> sink.
// Internal to the runtime's .cpp files (it includes Asio). Everything runs on the runtime's I/O
// thread; only `dataflow_stats` is read from other threads (status, $SYS).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dataflow/disk_buffer.hpp"
#include "dataflow/endpoint.hpp"
#include "dataflow/transform.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::dataflow {

// What status() shows; counters only grow (for the life of the process).
struct dataflow_stats {
  std::atomic<std::uint64_t> received{0};       // records from the source
  std::atomic<std::uint64_t> dropped{0};        // dropped by a filter rule
  std::atomic<std::uint64_t> failed{0};         // refused by the transformation (error), never sent
  std::atomic<std::uint64_t> sent{0};           // acknowledged by the sink
  std::atomic<std::uint64_t> evicted{0};        // dropped by the buffer's policy (drop_oldest, too large)
  std::atomic<std::uint64_t> send_failures{0};  // failed sends (each retried)
  std::atomic<std::uint64_t> buffered_messages{0};
  std::atomic<std::uint64_t> buffered_bytes{0};
  std::atomic<bool> source_paused{false};  // stop policy: the buffer is full
  mutable std::mutex mu;                   // guards the strings below
  std::string state = "Running";           // Running | Disabled | Failed
  std::optional<std::string> last_error;
  std::optional<std::string> last_error_time;  // ISO 8601, UTC
  void error(const std::string& why);
  void set_state(std::string s) {
    std::lock_guard g(mu);
    state = std::move(s);
  }
};

struct pipeline_settings {
  buffer_limits limits;
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{30000};
};

class pipeline {
 public:
  pipeline(boost::asio::io_context& io, buffer_db& db, std::string name, pipeline_settings settings,
           std::shared_ptr<dataflow_stats> stats, std::shared_ptr<spdlog::logger> log);
  ~pipeline();

  // Starts the ends (any buffered records are sent first). `t` null: the identity.
  void start(std::unique_ptr<source> src, std::unique_ptr<transform> t, std::unique_ptr<sink> dst);
  // Stops the ends; the buffer stays (a batch in flight is sent again by the next start).
  void stop();
  // Deletes the buffer (after stop()).
  void erase();
  const disk_buffer& buffer() const { return buffer_; }

 private:
  void on_record(record r, std::function<void()> ack);
  // Buffers `r` (or holds it when the buffer is full under the stop policy); false: held.
  bool store(record& r, std::function<void()>& ack);
  void pump();
  void on_sent(std::uint64_t generation, const send_result& res);
  void release_held();
  void publish_depth();

  boost::asio::io_context& io_;
  std::string name_;
  pipeline_settings settings_;
  std::shared_ptr<dataflow_stats> stats_;
  std::shared_ptr<spdlog::logger> log_;
  disk_buffer buffer_;
  std::unique_ptr<source> source_;
  std::unique_ptr<transform> transform_;
  std::unique_ptr<sink> sink_;
  boost::asio::steady_timer retry_timer_;
  std::chrono::milliseconds backoff_{0};
  bool in_flight_ = false;
  std::vector<record> in_flight_batch_;  // what the sink was given (it may read the span until done)
  bool waiting_retry_ = false;
  std::uint64_t generation_ = 0;  // bumped by start/stop: late completions of old ends are ignored
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // Records that arrived while the buffer was full under the stop policy (not acknowledged
  // upstream yet, so not lost if we stop): stored as soon as there is room.
  std::deque<std::pair<record, std::function<void()>>> held_;
};

}  // namespace edgemq::dataflow
