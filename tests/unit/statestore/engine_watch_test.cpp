// In-process watches (engine::watch): the first call carries the key's stored value, later calls
// each stored change, a refused write calls nobody, and unwatch stops the calls.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "edgemq/statestore/hlc.hpp"
#include "edgemq/statestore/protocol.hpp"
#include "edgemq/statestore/resp3.hpp"
#include "statestore/engine.hpp"
#include "watch_recorder.hpp"

namespace edgemq::statestore {
namespace {

class switchable_backend final : public backend {
 public:
  explicit switchable_backend(std::atomic<bool>& fail) : fail_(fail) {}
  std::error_code load(const std::function<void(std::string, key_record)>& visit) override {
    return inner_.load(visit);
  }
  std::error_code apply(const std::vector<mutation>& batch) override {
    if (fail_ && !batch.empty()) return std::make_error_code(std::errc::no_space_on_device);
    return inner_.apply(batch);
  }

 private:
  std::atomic<bool>& fail_;
  memory_backend inner_;
};

// What a watcher was told, in order; waits 5 s for the n-th call.
struct recorder : statestore::testing::watch_recorder {
  recorder() : watch_recorder(std::chrono::seconds(5)) {}
};

class EngineWatchTest : public ::testing::Test {
 protected:
  broker::broker core{broker::limits{}};
  std::atomic<bool> fail{false};
  engine eng{core, std::make_unique<switchable_backend>(fail), service_limits{}, nullptr};

  void SetUp() override { eng.start(); }
  void TearDown() override { eng.stop(); }

  engine::operator_reply call(engine::operator_request::verb v, std::string key, std::string value = {}) {
    engine::operator_request r;
    r.op = v;
    r.key = std::move(key);
    r.value = std::move(value);
    std::promise<engine::operator_reply> p;
    auto f = p.get_future();
    eng.submit(std::move(r), [&p](engine::operator_reply out) { p.set_value(std::move(out)); });
    return f.get();
  }
};

using verb = engine::operator_request::verb;
using status = engine::operator_reply::status;

TEST_F(EngineWatchTest, FirstCallIsTheCurrentValueThenEachStoredChange) {
  call(verb::put, "ds", "v1");
  recorder r;
  const auto id = eng.watch("ds", r.callback());
  ASSERT_TRUE(r.wait_for(1));
  EXPECT_EQ(r.seen()[0], std::optional<std::string>("v1"));

  call(verb::put, "other", "x");  // another key: not told
  call(verb::put, "ds", "v2");
  ASSERT_TRUE(r.wait_for(2));
  call(verb::del, "ds");
  ASSERT_TRUE(r.wait_for(3));
  const auto seen = r.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1], std::optional<std::string>("v2"));
  EXPECT_EQ(seen[2], std::nullopt);

  eng.unwatch(id);
  call(verb::put, "ds", "v3");  // answered after the batch's watchers ran: none is left
  EXPECT_EQ(r.seen().size(), 3u);
}

TEST_F(EngineWatchTest, AbsentKeyIsToldAsNullopt) {
  recorder r;
  eng.watch("missing", r.callback());
  ASSERT_TRUE(r.wait_for(1));
  EXPECT_EQ(r.seen()[0], std::nullopt);
  call(verb::put, "missing", "now");
  ASSERT_TRUE(r.wait_for(2));
  EXPECT_EQ(r.seen()[1], std::optional<std::string>("now"));
}

TEST_F(EngineWatchTest, RefusedWriteTellsNobody) {
  recorder r;
  eng.watch("ds", r.callback());
  ASSERT_TRUE(r.wait_for(1));
  fail = true;
  EXPECT_EQ(call(verb::put, "ds", "lost").code, status::unavailable);
  fail = false;
  call(verb::put, "ds", "kept");
  ASSERT_TRUE(r.wait_for(2));
  const auto seen = r.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], std::optional<std::string>("kept"));
}

TEST_F(EngineWatchTest, TwoWatchersOfOneKeyAreBothTold) {
  recorder a, b;
  eng.watch("k", a.callback());
  eng.watch("k", b.callback());
  ASSERT_TRUE(a.wait_for(1));
  ASSERT_TRUE(b.wait_for(1));
  call(verb::put, "k", "v");
  ASSERT_TRUE(a.wait_for(2));
  ASSERT_TRUE(b.wait_for(2));
}

// A key that expires (SET ... PX over MQTT, as a client would) tells its watchers it is gone.
TEST_F(EngineWatchTest, ExpiryIsAChange) {
  recorder r;
  eng.watch("short", r.callback());
  ASSERT_TRUE(r.wait_for(1));
  mqtt::publish p;
  p.topic = std::string(request_topic);
  p.qos = mqtt::qos::at_least_once;
  p.payload = resp3::request({"SET", "short", "v", "PX", "50"});
  p.props.response_topic = "clients/c1/replies";
  p.props.correlation_data = "1";
  p.props.user_properties.emplace_back(std::string(prop::timestamp), hlc{system_wall_ms(), 0, "c1"}.to_string());
  broker::publish_context ctx{"c1", 1, mqtt::protocol_version::v5, nullptr};
  ASSERT_EQ(eng.on_publish(ctx, p), mqtt::reason_code::success);
  ASSERT_TRUE(r.wait_for(3));  // set, then expired
  const auto seen = r.seen();
  EXPECT_EQ(seen[1], std::optional<std::string>("v"));
  EXPECT_EQ(seen[2], std::nullopt);
}

}  // namespace
}  // namespace edgemq::statestore
