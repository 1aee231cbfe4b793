// The engine's fast paths (ADR 0030): with a backend that does not sync, a request is executed
// and stored on the thread that received it; a GET is answered from the read index without
// the engine thread; with a syncing backend writes still go through the engine thread's batch.
// Watchers see every change exactly once, in order, whichever thread stored it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "edgemq/statestore/hlc.hpp"
#include "edgemq/statestore/protocol.hpp"
#include "edgemq/statestore/resp3.hpp"
#include "statestore/engine.hpp"
#include "watch_recorder.hpp"

namespace edgemq::statestore {
namespace {

class test_backend final : public backend {
 public:
  explicit test_backend(bool syncs) : syncs_(syncs) {}
  std::error_code load(const std::function<void(std::string, key_record)>& visit) override {
    return inner_.load(visit);
  }
  std::error_code apply(const std::vector<mutation>& batch) override {
    applied_by_ = std::this_thread::get_id();
    return inner_.apply(batch);
  }
  bool syncs() const noexcept override { return syncs_; }
  std::size_t size() const { return inner_.size(); }
  std::thread::id applied_by() const { return applied_by_; }

 private:
  bool syncs_;
  memory_backend inner_;
  std::atomic<std::thread::id> applied_by_{};
};

using recorder = statestore::testing::watch_recorder;

mqtt::publish request(std::initializer_list<std::string_view> args) {
  mqtt::publish p;
  p.topic = std::string(request_topic);
  p.qos = mqtt::qos::at_least_once;
  p.packet_id = 1;
  p.payload = resp3::request(args);
  p.props.response_topic = "replies/nobody";  // no subscriber: the reply is dropped
  p.props.correlation_data = "1";
  p.props.user_properties.emplace_back(std::string(prop::timestamp), hlc{system_wall_ms(), 0, "t"}.to_string());
  return p;
}

struct fixture {
  explicit fixture(bool syncs) {
    auto b = std::make_unique<test_backend>(syncs);
    be = b.get();
    eng = std::make_unique<engine>(core, std::move(b), service_limits{}, nullptr);
    eng->start();
  }
  ~fixture() { eng->stop(); }
  void send(std::uint64_t conn, std::initializer_list<std::string_view> args) {
    auto p = request(args);
    const std::string id = "client" + std::to_string(conn);
    const broker::publish_context ctx{id, conn, mqtt::protocol_version::v5, nullptr};
    ASSERT_EQ(eng->on_publish(ctx, p), mqtt::reason_code::success);
  }
  engine::operator_reply call(engine::operator_request::verb v, std::string key, std::string value = {}) {
    engine::operator_request r;
    r.op = v;
    r.key = std::move(key);
    r.value = std::move(value);
    std::promise<engine::operator_reply> pr;
    auto f = pr.get_future();
    eng->submit(std::move(r), [&pr](engine::operator_reply out) { pr.set_value(std::move(out)); });
    return f.get();
  }
  broker::broker core{broker::limits{}};
  test_backend* be = nullptr;
  std::unique_ptr<engine> eng;
};

template <class F>
bool eventually(F f) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!f())
    if (std::chrono::steady_clock::now() > until)
      return false;
    else
      std::this_thread::yield();
  return true;
}

TEST(EngineFastPath, WithoutSyncARequestIsStoredBeforeOnPublishReturns) {
  fixture f(false);
  recorder r;
  f.eng->watch("a", r.callback());
  ASSERT_TRUE(r.wait_for(1));
  ASSERT_TRUE(eventually([&] { return f.eng->queued() == 0; }));
  f.send(1, {"SET", "a", "one"});
  // Executed, stored and told on this thread: nothing to wait for.
  EXPECT_EQ(f.be->size(), 1u);
  EXPECT_EQ(f.be->applied_by(), std::this_thread::get_id());
  ASSERT_EQ(r.seen().size(), 2u);
  EXPECT_EQ(r.seen()[1], "one");
}

TEST(EngineFastPath, WithSyncWritesStayOnTheEngineThread) {
  fixture f(true);
  f.send(1, {"SET", "a", "one"});
  ASSERT_TRUE(eventually([&] { return f.be->size() == 1; }));
  EXPECT_NE(f.be->applied_by(), std::this_thread::get_id());
}

TEST(EngineFastPath, GetIsAnsweredOnTheReceivingThreadFromStoredKeys) {
  fixture f(true);
  ASSERT_EQ(f.call(engine::operator_request::verb::put, "a", "one").code, engine::operator_reply::status::ok);
  ASSERT_TRUE(eventually([&] { return f.eng->queued() == 0; }));
  f.send(1, {"GET", "a"});
  EXPECT_EQ(f.eng->stats().retrievals, 1u);  // counted here, not queued
  f.send(1, {"get", "missing"});
  EXPECT_EQ(f.eng->stats().retrievals, 2u);
}

// A backend whose apply waits until released: a batch stays in flight as long as the test wants.
class gated_backend final : public backend {
 public:
  std::error_code load(const std::function<void(std::string, key_record)>& visit) override {
    return inner_.load(visit);
  }
  std::error_code apply(const std::vector<mutation>& batch) override {
    std::unique_lock lk(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lk, [&] { return open_; });
    return inner_.apply(batch);
  }
  void wait_until_applying() {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::seconds(10), [&] { return waiting_ > 0; });
  }
  void open() {
    std::lock_guard g(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool open_ = false;
  memory_backend inner_;
};

// A GET never overtakes an earlier request still queued for (or being stored by) the engine
// thread: it would answer from the read index without the SET before it.
TEST(EngineFastPath, GetWaitsBehindQueuedRequests) {
  broker::broker core{broker::limits{}};
  auto b = std::make_unique<gated_backend>();
  auto* gate = b.get();
  engine eng{core, std::move(b), service_limits{}, nullptr};
  eng.start();
  auto set = request({"SET", "a", "one"});
  auto get = request({"GET", "a"});
  const broker::publish_context ctx{"c", 1, mqtt::protocol_version::v5, nullptr};
  ASSERT_EQ(eng.on_publish(ctx, set), mqtt::reason_code::success);
  gate->wait_until_applying();
  ASSERT_EQ(eng.on_publish(ctx, get), mqtt::reason_code::success);
  EXPECT_EQ(eng.stats().retrievals, 0u);  // queued behind the SET, not answered here
  EXPECT_EQ(eng.queued(), 2u);
  gate->open();
  EXPECT_TRUE(eventually([&] { return eng.queued() == 0 && eng.stats().retrievals == 1; }));
  eng.stop();
}

// Writers on several threads (MQTT requests, operator requests) and readers at once: the watched
// key's changes reach the watcher in the order they were made, none twice.
TEST(EngineFastPath, ConcurrentRequestsNotifyEachChangeOnceInOrder) {
  for (bool syncs : {false, true}) {
    fixture f(syncs);
    recorder r;
    f.eng->watch("w", r.callback());
    ASSERT_TRUE(r.wait_for(1));
    constexpr int n = 300;
    std::thread writer([&] {
      for (int i = 1; i <= n; ++i) f.send(1, {"SET", "w", std::to_string(i)});
    });
    std::thread other([&] {
      for (int i = 0; i < n; ++i) {
        f.send(2, {"SET", "o" + std::to_string(i % 7), "x"});
        f.send(2, {"GET", "w"});
      }
    });
    std::thread op([&] {
      for (int i = 0; i < 30; ++i) f.call(engine::operator_request::verb::put, "p", std::to_string(i));
    });
    writer.join();
    other.join();
    op.join();
    // A batch tells a watcher the key's value once (in-process watchers see each stored state,
    // coalesced per batch): the values go up, never repeat, and end with the last.
    ASSERT_TRUE(eventually([&] {
      const auto seen = r.seen();
      return seen.back() == std::to_string(n);
    })) << "syncs="
        << syncs;
    const auto seen = r.seen();
    int last = 0;
    for (std::size_t i = 1; i < seen.size(); ++i) {
      ASSERT_TRUE(seen[i].has_value());
      const int v = std::stoi(*seen[i]);
      EXPECT_GT(v, last) << "syncs=" << syncs;
      last = v;
    }
    ASSERT_TRUE(eventually([&] { return f.eng->queued() == 0; }));
    EXPECT_EQ(f.eng->stats().retrievals, static_cast<std::uint64_t>(n));
  }
}

}  // namespace
}  // namespace edgemq::statestore
