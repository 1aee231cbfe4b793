#include "dataflow/runtime.hpp"

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "dataflow/endpoints/kinds.hpp"
#include "dataflow/endpoints/local_client.hpp"
#include "dataflow/pipeline.hpp"

namespace edgemq::dataflow {

namespace asio = boost::asio;

namespace {

// The JSON pointer of builtInTransformationSettings in the document, for problems.
std::string transformation_path(const dataflow_definition& df) {
  const auto spec = df.document.find("spec");
  if (spec != df.document.end() && spec->is_object()) {
    const auto ops = spec->find("operations");
    if (ops != spec->end() && ops->is_array())
      for (std::size_t i = 0; i < ops->size(); ++i)
        if ((*ops)[i].is_object() && (*ops)[i].value("operationType", "") == "BuiltInTransformation")
          return "/spec/operations/" + std::to_string(i) + "/builtInTransformationSettings";
  }
  return "/spec/operations";
}

}  // namespace

struct runtime::impl {
  impl(broker::broker& core, runtime_options o, std::shared_ptr<spdlog::logger> l)
      : core(core), opts(std::move(o)), log(std::move(l)), work(asio::make_work_guard(io)) {
    thread = std::thread([this] {
      for (;;) {
        try {
          io.run();
          thread_done = true;
          return;
        } catch (const std::exception& e) {  // an endpoint's bug must not end the process
          if (log) log->error("dataflow runtime: {}", e.what());
        }
      }
    });
  }

  broker::broker& core;
  runtime_options opts;
  std::shared_ptr<spdlog::logger> log;
  // Opened with the first dataflow: a daemon without dataflows has no buffer database.
  std::unique_ptr<buffer_db> db;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread thread;
  std::atomic<bool> stopped{false};
  std::atomic<bool> thread_done{false};

  struct running {
    std::shared_ptr<dataflow_stats> stats;
    std::unique_ptr<pipeline> pipe;
    bool local_source = false;  // its session in the broker is ended by remove()
  };
  std::map<std::string, running> flows;  // I/O thread only
  mutable std::mutex stats_mu;           // guards `stats` (read by status() and $SYS on any thread)
  std::map<std::string, std::shared_ptr<dataflow_stats>> stats;

  // Runs `f` on the I/O thread and waits for it (at once when already there).
  template <class F>
  void run(F&& f) {
    if (io.get_executor().running_in_this_thread()) return f();
    auto done = std::make_shared<std::promise<void>>();
    auto result = done->get_future();
    asio::post(io, [&f, done] {
      try {
        f();
        done->set_value();
      } catch (...) {
        done->set_exception(std::current_exception());
      }
    });
    // A call racing with stop() may never run: it gives up once the thread has ended (so `f`
    // is not running either).
    while (result.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready)
      if (thread_done) return;
    result.get();
  }

  endpoint_args args(const dataflow_definition& df, const std::string& endpoint, const nlohmann::json& spec) {
    return endpoint_args{df.name, endpoint, spec, df.data_destination, df.data_sources, io, log, core, opts.data_dir};
  }

  // Builds the ends and the transformation; a problem is returned as text (the dataflow fails).
  std::string build(const dataflow_definition& df, const endpoint_map& endpoints, std::unique_ptr<source>& src,
                    std::unique_ptr<transform>& t, std::unique_ptr<sink>& dst) {
    static const nlohmann::json empty = nlohmann::json::object();
    const auto find = [&](const std::string& name, const endpoint_kind*& kind,
                          const nlohmann::json*& spec) -> std::string {
      if (name == default_endpoint) return {};
      const auto it = endpoints.find(name);
      if (it == endpoints.end() || !it->second) return "endpoint '" + name + "' is not defined";
      kind = find_endpoint_kind(it->second->type);
      if (!kind) return "endpoint '" + name + "': endpointType '" + it->second->type + "' is not supported";
      spec = &it->second->spec();
      return {};
    };
    const endpoint_kind* skind = nullptr;
    const nlohmann::json* sspec = &empty;
    if (auto e = find(df.source_endpoint, skind, sspec); !e.empty()) return e;
    const endpoint_kind* dkind = nullptr;
    const nlohmann::json* dspec = &empty;
    if (auto e = find(df.destination_endpoint, dkind, dspec); !e.empty()) return e;
    if (!df.transformation.is_null()) {
      if (!opts.compile) return "transformations are not available in this build";
      problems out;
      t = opts.compile(df.transformation, transformation_path(df), out);
      if (!t)
        return out.empty() ? "the transformation does not compile" : out.front().path + ": " + out.front().message;
    }
    const auto sa = args(df, df.source_endpoint, *sspec);
    if (!skind)
      src = opts.make_default_source ? opts.make_default_source(sa) : make_local_source(sa);
    else if (skind->make_source)
      src = skind->make_source(sa);
    else
      return "endpoint '" + df.source_endpoint + "' cannot be a source";
    const auto da = args(df, df.destination_endpoint, *dspec);
    if (!dkind)
      dst = opts.make_default_sink ? opts.make_default_sink(da) : make_local_sink(da);
    else if (dkind->make_sink)
      dst = dkind->make_sink(da);
    else
      return "endpoint '" + df.destination_endpoint + "' cannot be a destination";
    if (!src || !dst) return "the endpoints could not be made";
    return {};
  }

  void apply(const std::shared_ptr<const dataflow_definition>& df, const endpoint_map& endpoints) {
    auto& r = flows[df->name];
    if (!r.stats) {
      r.stats = std::make_shared<dataflow_stats>();
      std::lock_guard g(stats_mu);
      stats[df->name] = r.stats;
    }
    if (!r.pipe) {
      pipeline_settings ps{opts.buffer, opts.retry_initial, opts.retry_max};
      try {
        if (!db) db = std::make_unique<buffer_db>((std::filesystem::path(opts.data_dir) / "dataflows").string());
        r.pipe = std::make_unique<pipeline>(io, *db, df->name, ps, r.stats, log);
      } catch (const std::exception& e) {
        r.stats->set_state("Failed");
        r.stats->error(e.what());
        if (log) log->error("dataflow '{}' failed: {}", df->name, e.what());
        return;
      }
    } else {
      r.pipe->stop();  // replaced: the buffer stays and goes to the new destination
    }
    r.local_source = df->source_endpoint == default_endpoint && !opts.make_default_source;
    if (!df->enabled) {
      r.stats->set_state("Disabled");
      if (log) log->info("dataflow '{}' disabled ({} buffered records kept)", df->name, r.pipe->buffer().messages());
      return;
    }
    std::unique_ptr<source> src;
    std::unique_ptr<transform> t;
    std::unique_ptr<sink> dst;
    std::string why;
    try {
      why = build(*df, endpoints, src, t, dst);
    } catch (const std::exception& e) {
      why = e.what();
    }
    if (!why.empty()) {
      r.stats->set_state("Failed");
      r.stats->error(why);
      if (log) log->error("dataflow '{}' failed: {}", df->name, why);
      return;
    }
    r.stats->set_state("Running");
    r.pipe->start(std::move(src), std::move(t), std::move(dst));
    if (log)
      log->info("dataflow '{}' running: {} -> {} ({} buffered records)", df->name, df->source_endpoint,
                df->destination_endpoint, r.pipe->buffer().messages());
  }

  void remove(const std::string& name) {
    const auto it = flows.find(name);
    if (it == flows.end()) return;
    if (it->second.pipe) {
      it->second.pipe->stop();
      it->second.pipe->erase();
    }
    if (it->second.local_source) end_local_session(name);
    flows.erase(it);
    std::lock_guard g(stats_mu);
    stats.erase(name);
  }

  // The source's persistent session would keep queuing for a dataflow that no longer exists:
  // a clean start with no expiry ends it.
  void end_local_session(const std::string& name) {
    local_client c(io, core, log, {});
    mqtt::connect conn;
    conn.client_id = "$edgemq-dataflow-" + name;
    conn.clean_start = true;
    conn.keep_alive = 0;
    c.send(conn);
    c.close();
  }

  void stop_all() {
    for (auto& [name, r] : flows)
      if (r.pipe) r.pipe->stop();
    flows.clear();
    db.reset();
  }
};

runtime::runtime(broker::broker& core, runtime_options opts, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<impl>(core, std::move(opts), std::move(log))) {}

runtime::~runtime() {
  stop();
}

void runtime::apply(std::shared_ptr<const dataflow_definition> df, const endpoint_map& endpoints) {
  if (!df || impl_->stopped) return;
  impl_->run([&] { impl_->apply(df, endpoints); });
}

void runtime::remove(const std::string& name) {
  if (impl_->stopped) return;
  impl_->run([&] { impl_->remove(name); });
}

nlohmann::json runtime::status(const std::string& name) const {
  std::shared_ptr<dataflow_stats> s;
  {
    std::lock_guard g(impl_->stats_mu);
    const auto it = impl_->stats.find(name);
    if (it == impl_->stats.end()) return nullptr;
    s = it->second;
  }
  nlohmann::json j;
  {
    std::lock_guard g(s->mu);
    j["state"] = s->state;
    j["lastError"] = s->last_error ? nlohmann::json(*s->last_error) : nlohmann::json(nullptr);
    j["lastErrorTime"] = s->last_error_time ? nlohmann::json(*s->last_error_time) : nlohmann::json(nullptr);
  }
  j["received"] = s->received.load();
  j["dropped"] = s->dropped.load();
  j["failed"] = s->failed.load();
  j["sent"] = s->sent.load();
  j["sendFailures"] = s->send_failures.load();
  j["buffer"] = {{"messages", s->buffered_messages.load()},
                 {"bytes", s->buffered_bytes.load()},
                 {"max_bytes", impl_->opts.buffer.max_bytes},
                 {"max_messages", impl_->opts.buffer.max_messages},
                 {"policy", policy_name(impl_->opts.buffer.when_full)},
                 {"evicted", s->evicted.load()},
                 {"sourcePaused", s->source_paused.load()}};
  return j;
}

runtime_totals runtime::totals() const {
  runtime_totals t;
  std::lock_guard g(impl_->stats_mu);
  for (const auto& [name, s] : impl_->stats) {
    ++t.dataflows;
    {
      std::lock_guard sg(s->mu);
      if (s->state == "Running") ++t.running;
    }
    t.received += s->received;
    t.dropped += s->dropped;
    t.failed += s->failed;
    t.sent += s->sent;
    t.evicted += s->evicted;
    t.send_failures += s->send_failures;
    t.buffered_messages += s->buffered_messages;
    t.buffered_bytes += s->buffered_bytes;
  }
  return t;
}

void runtime::post(std::function<void()> f) {
  asio::post(impl_->io, std::move(f));
}

void runtime::stop() {
  if (impl_->stopped) return;
  impl_->run([this] { impl_->stop_all(); });
  impl_->stopped = true;
  impl_->work.reset();
  // Completions posted by the stopped ends run now (they find nothing left to do).
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace edgemq::dataflow
