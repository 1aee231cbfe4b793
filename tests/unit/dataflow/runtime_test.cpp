// The runtime with a source and a sink the test controls (a sink that holds, fails on purpose or
// takes part of a batch) and real RocksDB in a temp dir: a record leaves the buffer only after
// the sink acknowledged it, failures are retried in order, both full policies, restart resumes,
// Disabled keeps the buffer and remove() deletes it.
#include "dataflow/runtime.hpp"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "broker/broker.hpp"

namespace edgemq::dataflow {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

template <class Pred>
bool wait_for(Pred p, std::chrono::milliseconds timeout = 10s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!p()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// What the test sees of its endpoints (shared with them, guarded by `mu`).
struct harness {
  std::mutex mu;
  runtime* rt = nullptr;
  // Source side.
  source::handler on_record;
  std::atomic<int> acked{0};
  std::atomic<bool> paused{false};
  std::atomic<int> resumes{0};
  // Sink side.
  enum class mode { accept, hold, fail } sink_mode = mode::accept;
  int fail_sends = 0;           // mode accept: fail this many sends first
  std::size_t accept_part = 0;  // with a failure: how many of the batch it took
  std::size_t max_batch = 10;
  std::vector<std::string> delivered;  // payloads the sink acknowledged, in order
  std::vector<std::string> held_batch;
  std::function<void(send_result)> held_done;
  int sends = 0;
};

class test_source final : public source {
 public:
  explicit test_source(std::shared_ptr<harness> h) : h_(std::move(h)) {}
  void start(handler on_record) override {
    std::lock_guard g(h_->mu);
    h_->on_record = std::move(on_record);
  }
  void pause() override { h_->paused = true; }
  void resume() override {
    h_->paused = false;
    ++h_->resumes;
  }
  void stop() override {
    std::lock_guard g(h_->mu);
    h_->on_record = nullptr;
  }

 private:
  std::shared_ptr<harness> h_;
};

class test_sink final : public sink {
 public:
  explicit test_sink(std::shared_ptr<harness> h) : h_(std::move(h)) {}
  void start() override {}
  void stop() override {}
  std::size_t max_batch() const override { return h_->max_batch; }
  void send(std::span<const record> batch, std::function<void(send_result)> done) override {
    std::lock_guard g(h_->mu);
    ++h_->sends;
    std::vector<std::string> payloads;
    for (const auto& r : batch) payloads.push_back(r.payload);
    if (h_->sink_mode == harness::mode::hold) {
      h_->held_batch = payloads;
      h_->held_done = std::move(done);
      return;
    }
    send_result res;
    if (h_->sink_mode == harness::mode::fail || h_->fail_sends > 0) {
      if (h_->fail_sends > 0) --h_->fail_sends;
      res = {false, "test sink fails on purpose", std::min(h_->accept_part, payloads.size())};
    }
    const auto took = res.ok ? payloads.size() : res.accepted;
    h_->delivered.insert(h_->delivered.end(), payloads.begin(), payloads.begin() + static_cast<long>(took));
    h_->rt->post([done = std::move(done), res] { done(res); });
  }

 private:
  std::shared_ptr<harness> h_;
};

class RuntimeTest : public ::testing::Test {
 protected:
  fs::path dir_;
  broker::broker core_{broker::limits{}};
  std::shared_ptr<harness> h_ = std::make_shared<harness>();
  std::unique_ptr<runtime> rt_;
  buffer_limits limits_;

  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("edgemq-dfrt-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    rt_.reset();
    fs::remove_all(dir_);
  }
  void start_runtime() {
    runtime_options o;
    o.data_dir = dir_.string();
    o.buffer = limits_;
    o.retry_initial = 5ms;
    o.retry_max = 20ms;
    o.make_default_source = [h = h_](const endpoint_args&) { return std::make_unique<test_source>(h); };
    o.make_default_sink = [h = h_](const endpoint_args&) { return std::make_unique<test_sink>(h); };
    o.compile = [](const nlohmann::json& settings, const std::string&, problems&) -> std::unique_ptr<transform> {
      // The test's "transformation": drops "drop", refuses "bad" (the real one is tested by its engineer).
      struct t final : transform {
        outcome apply(record& r, std::string& why) override {
          if (r.payload == "drop") return outcome::dropped;
          if (r.payload == "bad") {
            why = "not JSON";
            return outcome::error;
          }
          return outcome::pass;
        }
      };
      return settings.is_null() ? nullptr : std::make_unique<t>();
    };
    rt_ = std::make_unique<runtime>(core_, std::move(o), nullptr);
    h_->rt = rt_.get();
  }
  std::shared_ptr<dataflow_definition> def(bool enabled = true, nlohmann::json transformation = nullptr) {
    auto d = std::make_shared<dataflow_definition>();
    d->name = "flow";
    d->enabled = enabled;
    d->data_sources = {"in/#"};
    d->destination_endpoint = default_endpoint;
    d->data_destination = "out";
    d->transformation = std::move(transformation);
    return d;
  }
  void emit(const std::string& payload) {
    rt_->post([h = h_, payload] {
      source::handler f;
      {
        std::lock_guard g(h->mu);
        f = h->on_record;
      }
      ASSERT_TRUE(f);
      record r;
      r.topic = "in/x";
      r.payload = payload;
      f(std::move(r), [h] { ++h->acked; });
    });
  }
  nlohmann::json status() { return rt_->status("flow"); }
  std::uint64_t buffered() { return status()["buffer"]["messages"].get<std::uint64_t>(); }
  std::vector<std::string> delivered() {
    std::lock_guard g(h_->mu);
    return h_->delivered;
  }
  // Completes the batch the holding sink has, as `res` (ok: every record taken).
  void complete(send_result res = {}) {
    ASSERT_TRUE(wait_for([&] {
      std::lock_guard g(h_->mu);
      return static_cast<bool>(h_->held_done);
    }));
    std::lock_guard g(h_->mu);
    const auto took = res.ok ? h_->held_batch.size() : std::min(res.accepted, h_->held_batch.size());
    h_->delivered.insert(h_->delivered.end(), h_->held_batch.begin(), h_->held_batch.begin() + static_cast<long>(took));
    rt_->post([done = std::exchange(h_->held_done, {}), res] { done(res); });
  }
  static std::vector<std::string> numbered(int from, int to) {
    std::vector<std::string> v;
    for (int i = from; i < to; ++i) v.push_back("m" + std::to_string(i));
    return v;
  }
};

TEST_F(RuntimeTest, RecordsLeaveTheBufferOnlyAfterTheSinkAcknowledged) {
  start_runtime();
  h_->sink_mode = harness::mode::hold;
  rt_->apply(def(), {});
  for (int i = 0; i < 3; ++i) emit("m" + std::to_string(i));
  ASSERT_TRUE(wait_for([&] { return h_->acked == 3; }));  // acknowledged upstream once buffered
  EXPECT_EQ(buffered(), 3u);
  EXPECT_EQ(status()["sent"], 0);
  complete();  // the first batch (m0 alone: it was sent as it arrived)
  ASSERT_TRUE(wait_for([&] { return status()["sent"] == 1; }));
  EXPECT_EQ(buffered(), 2u);
  h_->sink_mode = harness::mode::accept;
  complete();
  ASSERT_TRUE(wait_for([&] { return buffered() == 0; }));
  EXPECT_EQ(status()["sent"], 3);
  EXPECT_EQ(delivered(), numbered(0, 3));
  EXPECT_EQ(status()["state"], "Running");
}

TEST_F(RuntimeTest, FailedSendsAreRetriedInOrderWithNoneLost) {
  start_runtime();
  h_->fail_sends = 4;
  rt_->apply(def(), {});
  for (int i = 0; i < 50; ++i) emit("m" + std::to_string(i));
  ASSERT_TRUE(wait_for([&] { return status()["sent"] == 50; }));
  EXPECT_EQ(delivered(), numbered(0, 50));
  const auto s = status();
  EXPECT_EQ(s["sendFailures"], 4);
  EXPECT_EQ(s["lastError"], "test sink fails on purpose");
  EXPECT_TRUE(s["lastErrorTime"].is_string());
  EXPECT_EQ(s["buffer"]["messages"], 0);
}

TEST_F(RuntimeTest, PartlyTakenBatchesGoOnFromTheFirstRecordNotTaken) {
  start_runtime();
  h_->sink_mode = harness::mode::hold;
  rt_->apply(def(), {});
  for (int i = 0; i < 6; ++i) emit("m" + std::to_string(i));
  ASSERT_TRUE(wait_for([&] { return h_->acked == 6; }));
  complete();  // m0 alone (sent as it arrived)
  ASSERT_TRUE(wait_for([&] {
    std::lock_guard g(h_->mu);
    return h_->held_batch.size() == 5;
  }));
  complete({false, "took two", 2});  // m1, m2 taken; m3.. again after the backoff
  h_->sink_mode = harness::mode::accept;
  ASSERT_TRUE(wait_for([&] { return status()["sent"] == 6; }));
  EXPECT_EQ(delivered(), numbered(0, 6));  // none twice, none lost
}

TEST_F(RuntimeTest, RestartResumesFromTheBuffer) {
  start_runtime();
  h_->sink_mode = harness::mode::hold;
  rt_->apply(def(), {});
  for (int i = 0; i < 5; ++i) emit("m" + std::to_string(i));
  ASSERT_TRUE(wait_for([&] { return h_->acked == 5; }));
  rt_.reset();  // the daemon stops with a batch in flight
  {
    std::lock_guard g(h_->mu);
    h_->held_done = nullptr;
    h_->sink_mode = harness::mode::accept;
  }
  start_runtime();
  EXPECT_EQ(rt_->status("flow"), nullptr);  // nothing runs before its definition is applied
  rt_->apply(def(), {});
  ASSERT_TRUE(wait_for([&] { return status()["sent"] == 5; }));
  EXPECT_EQ(delivered(), numbered(0, 5));
  EXPECT_EQ(buffered(), 0u);
}

TEST_F(RuntimeTest, StopPolicyPausesTheSourceAndTakesTheRestOnceThereIsRoom) {
  limits_.max_messages = 2;
  limits_.when_full = buffer_limits::policy::stop;
  start_runtime();
  h_->sink_mode = harness::mode::hold;
  rt_->apply(def(), {});
  for (int i = 0; i < 5; ++i) emit("m" + std::to_string(i));
  ASSERT_TRUE(wait_for([&] { return h_->paused.load(); }));
  EXPECT_EQ(h_->acked, 2);  // the rest is not acknowledged: upstream keeps it
  EXPECT_EQ(buffered(), 2u);
  EXPECT_EQ(status()["buffer"]["sourcePaused"], true);
  EXPECT_EQ(status()["buffer"]["policy"], "stop");
  h_->sink_mode = harness::mode::accept;
  complete();
  ASSERT_TRUE(wait_for([&] { return status()["sent"] == 5; }));
  EXPECT_EQ(delivered(), numbered(0, 5));
  EXPECT_EQ(h_->acked, 5);
  EXPECT_FALSE(h_->paused);
  EXPECT_GE(h_->resumes, 1);
  EXPECT_EQ(status()["buffer"]["evicted"], 0);
}

TEST_F(RuntimeTest, DropOldestEvictsAndCounts) {
  limits_.max_messages = 2;
  start_runtime();
  h_->sink_mode = harness::mode::hold;
  rt_->apply(def(), {});
  for (int i = 0; i < 6; ++i) emit("m" + std::to_string(i));
  ASSERT_TRUE(wait_for([&] { return h_->acked == 6; }));
  EXPECT_EQ(status()["buffer"]["evicted"], 4);
  EXPECT_EQ(buffered(), 2u);
  h_->sink_mode = harness::mode::accept;
  complete();  // m0 was in flight when it was evicted: delivered anyway, then what is left
  ASSERT_TRUE(wait_for([&] { return buffered() == 0; }));
  EXPECT_EQ(delivered(), (std::vector<std::string>{"m0", "m4", "m5"}));
}

TEST_F(RuntimeTest, DisabledKeepsTheBufferAndRemoveDeletesIt) {
  start_runtime();
  h_->sink_mode = harness::mode::hold;
  rt_->apply(def(), {});
  for (int i = 0; i < 3; ++i) emit("m" + std::to_string(i));
  ASSERT_TRUE(wait_for([&] { return h_->acked == 3; }));
  rt_->apply(def(false), {});
  EXPECT_EQ(status()["state"], "Disabled");
  EXPECT_EQ(buffered(), 3u);
  {
    std::lock_guard g(h_->mu);
    h_->held_done = nullptr;
    h_->sink_mode = harness::mode::accept;
  }
  rt_->apply(def(true), {});
  ASSERT_TRUE(wait_for([&] { return status()["sent"] == 3; }));
  EXPECT_EQ(delivered(), numbered(0, 3));

  h_->sink_mode = harness::mode::hold;
  emit("gone");
  ASSERT_TRUE(wait_for([&] { return h_->acked == 4; }));
  rt_->remove("flow");
  EXPECT_EQ(rt_->status("flow"), nullptr);
  rt_.reset();
  start_runtime();
  h_->sink_mode = harness::mode::accept;
  rt_->apply(def(), {});
  EXPECT_EQ(buffered(), 0u);
}

TEST_F(RuntimeTest, FilteredAndRefusedRecordsTakeNoBufferSpace) {
  start_runtime();
  rt_->apply(def(true, nlohmann::json::object()), {});
  emit("drop");
  emit("bad");
  emit("keep");
  ASSERT_TRUE(wait_for([&] { return status()["sent"] == 1; }));
  const auto s = status();
  EXPECT_EQ(s["received"], 3);
  EXPECT_EQ(s["dropped"], 1);
  EXPECT_EQ(s["failed"], 1);
  EXPECT_EQ(s["lastError"], "transformation: not JSON");
  EXPECT_EQ(h_->acked, 3);
  EXPECT_EQ(delivered(), std::vector<std::string>{"keep"});
}

TEST_F(RuntimeTest, UnknownEndpointsFailTheDataflow) {
  start_runtime();
  auto d = def();
  d->destination_endpoint = "nowhere";
  rt_->apply(d, {});
  EXPECT_EQ(status()["state"], "Failed");
  EXPECT_EQ(status()["lastError"], "endpoint 'nowhere' is not defined");
  const auto t = rt_->totals();
  EXPECT_EQ(t.dataflows, 1u);
  EXPECT_EQ(t.running, 0u);
}

}  // namespace
}  // namespace edgemq::dataflow
