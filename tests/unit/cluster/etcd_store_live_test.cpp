// The cluster's state store against a real etcd, through the paths the MQTT tests do not reach:
// operator requests (the admin API, devices), in-process watches (dataflow datasets) seeing changes
// made through another node, health and the storage error while etcd is down, and the quota
// (statestore.max_keys/max_bytes) judged on the node's view of the keys.
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../statestore/watch_recorder.hpp"
#include "broker/broker.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/etcd_store.hpp"
#include "edgemq/statestore/hlc.hpp"
#include "single_etcd.hpp"
#include "statestore/command.hpp"

namespace edgemq::cluster {
namespace {

using namespace std::chrono_literals;
using op = statestore::store::operator_request;
using reply = statestore::store::operator_reply;

using recorder = statestore::testing::watch_recorder;

// One cluster node's store: its own broker and etcd client.
struct node {
  node(const std::string& url, const std::string& name, statestore::quota_limits quota = {}) {
    etcd_options o;
    o.endpoints = {url};
    o.request_timeout = 1500ms;
    client = std::make_shared<etcd_client>(o);
    etcd_store_options so;
    so.node_id = name;
    so.quota = quota;
    store = std::make_unique<etcd_store>(core, client, so, nullptr);
  }
  reply call(op::verb v, std::string key = {}, std::string value = {}, std::string prefix = {}, std::string after = {},
             std::size_t limit = 100) {
    op r;
    r.op = v;
    r.key = std::move(key);
    r.value = std::move(value);
    r.prefix = std::move(prefix);
    r.after = std::move(after);
    r.limit = limit;
    std::promise<reply> p;
    auto f = p.get_future();
    store->submit(std::move(r), [&p](reply out) { p.set_value(std::move(out)); });
    return f.get();
  }
  bool wait_healthy(bool want) {
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (store->healthy() != want) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(50ms);  // healthy() is a probe's result: nothing to await
    }
    return true;
  }
  broker::broker core{broker::limits{}};
  std::shared_ptr<etcd_client> client;
  std::unique_ptr<etcd_store> store;
};

class EtcdStoreLive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!live::etcd_bin()) GTEST_SKIP() << "etcd not installed (Debian package etcd-server)";
    etcd_.start();
    etcd_client probe(etcd_options{{etcd_.url()}, 1000ms, {}});
    ASSERT_TRUE(live::wait_up(probe, 20s));
  }
  live::single_etcd etcd_;
};

TEST_F(EtcdStoreLive, OperatorRequestsPutGetListDelete) {
  node a(etcd_.url(), "node-a");
  a.store->start();
  ASSERT_TRUE(a.wait_healthy(true));
  for (const char* k : {"cfg/a", "cfg/b", "cfg/c", "other"})
    EXPECT_EQ(a.call(op::verb::put, k, "v").code, reply::status::ok);
  auto got = a.call(op::verb::get, "cfg/b");
  ASSERT_EQ(got.code, reply::status::ok);
  ASSERT_EQ(got.items.size(), 1u);
  EXPECT_EQ(got.items[0].value, "v");
  auto version = statestore::hlc::parse(got.items[0].version);
  ASSERT_TRUE(version);
  EXPECT_EQ(version->node, "node-a");
  auto page = a.call(op::verb::list, {}, {}, "cfg/", {}, 2);
  ASSERT_EQ(page.code, reply::status::ok);
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[0].key, "cfg/a");
  EXPECT_EQ(page.items[1].key, "cfg/b");
  EXPECT_TRUE(page.more);
  EXPECT_FALSE(page.items[1].version.empty());
  page = a.call(op::verb::list, {}, {}, "cfg/", "cfg/b", 2);
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].key, "cfg/c");
  EXPECT_FALSE(page.more);
  EXPECT_EQ(a.call(op::verb::del, "cfg/a").code, reply::status::ok);
  EXPECT_EQ(a.call(op::verb::get, "cfg/a").code, reply::status::not_found);
  EXPECT_EQ(a.call(op::verb::del, "cfg/a").code, reply::status::not_found);
  a.store->stop();
}

TEST_F(EtcdStoreLive, InProcessWatchSeesChangesThroughAnotherNode) {
  node a(etcd_.url(), "node-a"), b(etcd_.url(), "node-b");
  a.store->start();
  b.store->start();
  ASSERT_TRUE(a.wait_healthy(true));
  recorder w;
  const auto id = a.store->watch("dataset/x", w.callback());
  ASSERT_TRUE(w.wait_for(1));  // the current value first: none
  EXPECT_EQ(b.call(op::verb::put, "dataset/x", "1").code, reply::status::ok);
  ASSERT_TRUE(w.wait_for(2));
  EXPECT_EQ(a.call(op::verb::put, "dataset/x", "2").code, reply::status::ok);
  ASSERT_TRUE(w.wait_for(3));
  EXPECT_EQ(b.call(op::verb::del, "dataset/x").code, reply::status::ok);
  ASSERT_TRUE(w.wait_for(4));
  a.store->unwatch(id);
  // After unwatch: a change is not told (a second watcher, registered after it, is the barrier).
  recorder barrier;
  a.store->watch("dataset/x", barrier.callback());
  ASSERT_TRUE(barrier.wait_for(1));
  EXPECT_EQ(b.call(op::verb::put, "dataset/x", "3").code, reply::status::ok);
  ASSERT_TRUE(barrier.wait_for(2));
  EXPECT_EQ(w.seen(), (std::vector<std::optional<std::string>>{std::nullopt, "1", "2", std::nullopt}));
  a.store->stop();
  b.store->stop();
}

TEST_F(EtcdStoreLive, UnhealthyAndStorageErrorWhileEtcdIsDown) {
  node a(etcd_.url(), "node-a");
  a.store->start();
  ASSERT_TRUE(a.wait_healthy(true));
  EXPECT_EQ(a.call(op::verb::put, "k", "before").code, reply::status::ok);
  etcd_.kill();
  auto r = a.call(op::verb::put, "k", "during");
  EXPECT_EQ(r.code, reply::status::unavailable);
  EXPECT_EQ(r.message, statestore::store::storage_error);
  EXPECT_EQ(a.call(op::verb::get, "k").code, reply::status::unavailable);
  EXPECT_TRUE(a.wait_healthy(false));
  EXPECT_GT(a.store->write_failures(), 0u);
  etcd_.start();
  EXPECT_TRUE(a.wait_healthy(true));
  auto got = a.call(op::verb::get, "k");
  ASSERT_EQ(got.code, reply::status::ok);
  EXPECT_EQ(got.items[0].value, "before");
  a.store->stop();
}

bool refused_for_quota(const reply& r) {
  return r.code == reply::status::refused && r.message == statestore::err::quota;
}

TEST_F(EtcdStoreLive, QuotaOfKeys) {
  node a(etcd_.url(), "node-a", {.max_keys = 3, .max_bytes = 1 << 20});
  a.store->start();
  ASSERT_TRUE(a.wait_healthy(true));
  // A write is answered once the node's watch saw it: the next request is judged with it counted.
  for (const char* k : {"k1", "k2", "k3"}) EXPECT_EQ(a.call(op::verb::put, k, "v").code, reply::status::ok);
  EXPECT_TRUE(refused_for_quota(a.call(op::verb::put, "k4", "v")));
  EXPECT_EQ(a.call(op::verb::get, "k4").code, reply::status::not_found);
  EXPECT_EQ(a.call(op::verb::put, "k1", "overwritten").code, reply::status::ok);  // not a new key
  EXPECT_EQ(a.call(op::verb::del, "k2").code, reply::status::ok);                 // frees room
  EXPECT_EQ(a.call(op::verb::put, "k4", "v").code, reply::status::ok);
  EXPECT_TRUE(refused_for_quota(a.call(op::verb::put, "k5", "v")));
  a.store->stop();
}

TEST_F(EtcdStoreLive, QuotaOfBytes) {
  node a(etcd_.url(), "node-a", {.max_keys = 100, .max_bytes = 20});  // keys + values
  a.store->start();
  ASSERT_TRUE(a.wait_healthy(true));
  EXPECT_EQ(a.call(op::verb::put, "a", std::string(9, 'x')).code, reply::status::ok);   // 10 bytes
  EXPECT_EQ(a.call(op::verb::put, "b", std::string(9, 'x')).code, reply::status::ok);   // 20
  EXPECT_TRUE(refused_for_quota(a.call(op::verb::put, "c", "")));                       // 21
  EXPECT_TRUE(refused_for_quota(a.call(op::verb::put, "a", std::string(10, 'x'))));     // 21
  EXPECT_EQ(a.call(op::verb::put, "a", std::string(8, 'x')).code, reply::status::ok);   // 19: the old value counts
  EXPECT_EQ(a.call(op::verb::put, "c", "").code, reply::status::ok);                    // 20
  EXPECT_EQ(a.call(op::verb::del, "b").code, reply::status::ok);                        // 10
  EXPECT_EQ(a.call(op::verb::put, "a", std::string(18, 'x')).code, reply::status::ok);  // 20
  a.store->stop();
}

TEST_F(EtcdStoreLive, QuotaCountsKeysWrittenThroughAnotherNode) {
  node a(etcd_.url(), "node-a", {.max_keys = 2, .max_bytes = 1 << 20}), b(etcd_.url(), "node-b");
  b.store->start();
  ASSERT_TRUE(b.wait_healthy(true));
  EXPECT_EQ(b.call(op::verb::put, "old", "1").code, reply::status::ok);
  a.store->start();  // reads every key: "old" counts
  ASSERT_TRUE(a.wait_healthy(true));
  recorder x, old;
  a.store->watch("x", x.callback());
  a.store->watch("old", old.callback());
  ASSERT_TRUE(x.wait_for(1));  // the current values first
  ASSERT_TRUE(old.wait_for(1));
  EXPECT_EQ(b.call(op::verb::put, "x", "1").code, reply::status::ok);
  ASSERT_TRUE(x.wait_for(2));  // node a's watch saw it: the view counts it
  EXPECT_TRUE(refused_for_quota(a.call(op::verb::put, "mine", "v")));
  EXPECT_EQ(a.call(op::verb::put, "x", "2").code, reply::status::ok);  // an existing key
  EXPECT_EQ(b.call(op::verb::del, "old").code, reply::status::ok);
  ASSERT_TRUE(old.wait_for(2));
  EXPECT_EQ(a.call(op::verb::put, "mine", "v").code, reply::status::ok);
  ASSERT_TRUE(x.wait_for(3));
  EXPECT_EQ(x.seen(), (std::vector<std::optional<std::string>>{std::nullopt, "1", "2"}));
  a.store->stop();
  b.store->stop();
}

}  // namespace
}  // namespace edgemq::cluster
