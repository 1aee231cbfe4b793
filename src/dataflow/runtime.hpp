// The dataflow runtime: runs every dataflow on one I/O thread (one boost::asio::io_context), each
// as source -> transformation -> disk buffer -> sink, at least once (docs/dataflows.md, "Runtime"
// and "At least once and the disk buffer"; ADR 0020). Implements runner for the definitions side.
// Asio stays in the .cpp files (pimpl).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "dataflow/disk_buffer.hpp"
#include "dataflow/endpoint_kind.hpp"
#include "dataflow/runner.hpp"
#include "dataflow/transform.hpp"

namespace edgemq::dataflow {

struct runtime_options {
  std::string data_dir;  // the buffers are in data_dir/dataflows
  buffer_limits buffer;  // per dataflow
  // Compiles builtInTransformationSettings (compile_transform with the dataset cache, in the
  // daemon). Null: only dataflows without a transformation run (others fail with a last error).
  std::function<std::unique_ptr<transform>(const nlohmann::json& settings, const std::string& path, problems& out)>
      compile;
  // Makes the ends of the `default` endpoint (the local broker); null: make_local_source and
  // make_local_sink. Tests put their own sinks here.
  std::function<std::unique_ptr<source>(const endpoint_args&)> make_default_source;
  std::function<std::unique_ptr<sink>(const endpoint_args&)> make_default_sink;
  // Sink retries: the first after `retry_initial`, doubling up to `retry_max`.
  std::chrono::milliseconds retry_initial{100};
  std::chrono::milliseconds retry_max{30000};
};

// Totals over every dataflow, for $SYS and /metrics.
struct runtime_totals {
  std::uint64_t dataflows = 0, running = 0, received = 0, dropped = 0, failed = 0, sent = 0, evicted = 0,
                send_failures = 0, buffered_messages = 0, buffered_bytes = 0;
};

class runtime final : public runner {
 public:
  // Starts the I/O thread. The buffer database (data_dir/dataflows) is opened with the first
  // dataflow; if it cannot be, that dataflow fails (state Failed, lastError says why). `core`
  // must outlive the runtime.
  runtime(broker::broker& core, runtime_options opts, std::shared_ptr<spdlog::logger> log);
  ~runtime() override;  // stop()
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // runner. apply() and remove() return once done (they run on the I/O thread; called from it,
  // they run at once).
  void apply(std::shared_ptr<const dataflow_definition> df, const endpoint_map& endpoints) override;
  void remove(const std::string& name) override;
  nlohmann::json status(const std::string& name) const override;

  runtime_totals totals() const;
  // Runs `f` on the I/O thread (endpoints with threads of their own, and tests, complete there).
  void post(std::function<void()> f);
  // Stops every dataflow (buffers kept) and the I/O thread. Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace edgemq::dataflow
