// Operator requests (the admin API) through the engine's queue: set/get/list/delete on the
// engine thread, and a write the backend refuses answers `unavailable` with nothing changed.
#include <atomic>
#include <future>

#include <gtest/gtest.h>

#include "statestore/engine.hpp"

namespace edgemq::statestore {
namespace {

class flaky_backend final : public backend {
 public:
  explicit flaky_backend(std::atomic<bool>& fail) : fail_(fail) {}
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

class EngineOperatorTest : public ::testing::Test {
 protected:
  broker::broker core{broker::limits{}};
  std::atomic<bool> fail{false};
  engine eng{core, std::make_unique<flaky_backend>(fail), service_limits{}, nullptr};

  void SetUp() override { eng.start(); }
  void TearDown() override { eng.stop(); }

  engine::operator_reply call(engine::operator_request r) {
    std::promise<engine::operator_reply> p;
    auto f = p.get_future();
    eng.submit(std::move(r), [&p](engine::operator_reply out) { p.set_value(std::move(out)); });
    return f.get();
  }
  engine::operator_request req(engine::operator_request::verb v, std::string key = {}, std::string value = {}) {
    engine::operator_request r;
    r.op = v;
    r.key = std::move(key);
    r.value = std::move(value);
    return r;
  }
};

using verb = engine::operator_request::verb;
using status = engine::operator_reply::status;

TEST_F(EngineOperatorTest, SetGetListDelete) {
  auto put = call(req(verb::put, "a/1", "one"));
  ASSERT_EQ(put.code, status::ok) << put.message;
  ASSERT_EQ(put.items.size(), 1u);
  EXPECT_FALSE(put.items[0].version.empty());
  call(req(verb::put, "a/2", "two"));
  call(req(verb::put, "b/1", "x"));
  auto got = call(req(verb::get, "a/1"));
  ASSERT_EQ(got.code, status::ok);
  EXPECT_EQ(got.items[0].value, "one");
  EXPECT_EQ(got.items[0].version, put.items[0].version);
  auto l = req(verb::list);
  l.prefix = "a/";
  l.limit = 1;
  auto page = call(l);
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].key, "a/1");
  EXPECT_TRUE(page.more);
  l.after = "a/1";
  page = call(l);
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].key, "a/2");
  EXPECT_FALSE(page.more);
  EXPECT_EQ(call(req(verb::del, "a/1")).code, status::ok);
  EXPECT_EQ(call(req(verb::del, "a/1")).code, status::not_found);
  EXPECT_EQ(call(req(verb::get, "a/1")).code, status::not_found);
}

TEST_F(EngineOperatorTest, RefusedWriteIsUnavailableAndChangesNothing) {
  call(req(verb::put, "k", "before"));
  fail = true;
  auto r = call(req(verb::put, "k", "after"));
  EXPECT_EQ(r.code, status::unavailable);
  EXPECT_EQ(call(req(verb::del, "k")).code, status::unavailable);
  fail = false;
  auto got = call(req(verb::get, "k"));
  ASSERT_EQ(got.code, status::ok);
  EXPECT_EQ(got.items[0].value, "before");
}

}  // namespace
}  // namespace edgemq::statestore
