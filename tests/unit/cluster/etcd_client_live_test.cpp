// The etcd client against a real etcd (Debian's etcd-server; skipped with a message where it is
// not installed): one member started per test on fresh loopback ports and a temp data dir.
// Requests, a watch that survives its member's restart without losing or repeating an event,
// rotation past a dead endpoint, the deadline, and a lease kept alive then lost.
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/etcd_client.hpp"
#include "cluster/etcd_watch_stream.hpp"
#include "single_etcd.hpp"

namespace edgemq::cluster {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using live::etcd_bin;
using live::free_port;
using live::single_etcd;
using live::wait_up;

class EtcdClientLive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!etcd_bin()) GTEST_SKIP() << "etcd not installed (Debian package etcd-server; scripts/install-deps.sh --test)";
    etcd_.start();
  }
  single_etcd etcd_;
};

TEST_F(EtcdClientLive, TxnAndRangeRotatingPastADeadMember) {
  // The first endpoint refuses connections: the client moves on to the live one.
  etcd_options o;
  o.endpoints = {"http://127.0.0.1:" + std::to_string(free_port()), etcd_.url()};
  etcd_client c(o);
  ASSERT_TRUE(wait_up(c, 20s));
  json txn = {
      {"compare",
       json::array(
           {{{"key", etcd_client::b64("k")}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}}})},
      {"success",
       json::array({{{"request_put", {{"key", etcd_client::b64("k")}, {"value", etcd_client::b64("v\x01")}}}}})}};
  auto [e1, a1] = c.call_sync("/v3/kv/txn", txn);
  ASSERT_FALSE(e1) << e1.message;
  EXPECT_TRUE(a1.value("succeeded", false));
  auto [e2, a2] = c.call_sync("/v3/kv/txn", txn);  // exists now: the compare fails ("succeeded" omitted)
  ASSERT_FALSE(e2);
  EXPECT_FALSE(a2.value("succeeded", false));
  auto [e3, a3] = c.call_sync("/v3/kv/range", json{{"key", etcd_client::b64("k")}});
  ASSERT_FALSE(e3);
  EXPECT_EQ(etcd_client::unb64(a3["kvs"][0]["value"].get<std::string>()), "v\x01");
  auto [e4, a4] = c.call_sync("/v3/kv/range", json{{"key", "not base64!"}});
  EXPECT_EQ(e4.code, etcd_error::kind::refused);
}

TEST_F(EtcdClientLive, UnavailableWithinTheDeadlineWhenNoMemberAnswers) {
  etcd_options o;
  o.endpoints = {"http://127.0.0.1:" + std::to_string(free_port())};
  o.request_timeout = 500ms;
  etcd_client c(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto [e, a] = c.call_sync("/v3/kv/put", json{{"key", etcd_client::b64("x")}, {"value", etcd_client::b64("y")}});
  EXPECT_EQ(e.code, etcd_error::kind::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST_F(EtcdClientLive, WatchResumesAfterTheMemberRestartsWithoutLossOrRepeat) {
  etcd_options o;
  o.endpoints = {etcd_.url()};
  etcd_client c(o);
  ASSERT_TRUE(wait_up(c, 20s));
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seen;
  int errors = 0;
  // From a revision read first, so that every put below is after the watch's start.
  auto [re, ra] = c.call_sync("/v3/kv/range", json{{"key", etcd_client::b64("w/")}});
  ASSERT_FALSE(re);
  const auto from = json_int(ra["header"], "revision") + 1;
  const auto id = c.watch(
      "w/", etcd_client::prefix_end("w/"), from,
      [&](const json& events, std::int64_t) {
        std::lock_guard g(mu);
        for (const auto& e : events) seen.push_back(etcd_client::unb64(e["kv"].value("value", "")));
        cv.notify_all();
      },
      [&](const etcd_error&) {
        std::lock_guard g(mu);
        ++errors;
      });
  const auto put = [&](const std::string& v) {
    return c.call_sync("/v3/kv/put", json{{"key", etcd_client::b64("w/a")}, {"value", etcd_client::b64(v)}}).first;
  };
  const auto wait_for = [&](std::size_t n) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, 20s, [&] { return seen.size() >= n; });
  };
  ASSERT_FALSE(put("1"));
  ASSERT_TRUE(wait_for(1));
  ASSERT_FALSE(put("2"));
  ASSERT_TRUE(wait_for(2));
  etcd_.kill();
  etcd_.start();  // same data dir: the revisions go on
  ASSERT_TRUE(wait_up(c, 20s));
  ASSERT_FALSE(put("3"));
  ASSERT_TRUE(wait_for(3));
  ASSERT_FALSE(put("4"));
  ASSERT_TRUE(wait_for(4));
  c.cancel_watch(id);
  std::lock_guard g(mu);
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "3", "4"}));
  EXPECT_GT(errors, 0) << "the broken stream was reported";
}

TEST_F(EtcdClientLive, LeaseKeptAliveThenLostWhenRevokedElsewhere) {
  etcd_options o;
  o.endpoints = {etcd_.url()};
  etcd_client c(o);
  ASSERT_TRUE(wait_up(c, 20s));
  std::mutex mu;
  std::condition_variable cv;
  std::int64_t lease = 0;
  bool lost = false;
  c.grant_lease(
      2,
      [&](const etcd_error& e, std::int64_t id) {
        ASSERT_FALSE(e) << e.message;
        std::lock_guard g(mu);
        lease = id;
        cv.notify_all();
      },
      [&] {
        std::lock_guard g(mu);
        lost = true;
        cv.notify_all();
      });
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, 10s, [&] { return lease != 0; }));
  }
  ASSERT_FALSE(c.call_sync("/v3/kv/put", json{{"key", etcd_client::b64("leased")},
                                              {"value", etcd_client::b64("x")},
                                              {"lease", std::to_string(lease)}})
                   .first);
  // Past its TTL the key is still there: the client kept the lease alive (a time that passes,
  // not an event: nothing to await).
  std::this_thread::sleep_for(3s);
  auto [e, a] = c.call_sync("/v3/kv/range", json{{"key", etcd_client::b64("leased")}});
  ASSERT_FALSE(e);
  EXPECT_EQ(json_int(a, "count"), 1);
  // Revoked by someone else: the next keep-alive finds it gone.
  ASSERT_FALSE(c.call_sync("/v3/lease/revoke", json{{"ID", std::to_string(lease)}}).first);
  std::unique_lock lk(mu);
  EXPECT_TRUE(cv.wait_for(lk, 10s, [&] { return lost; }));
}

}  // namespace
}  // namespace edgemq::cluster
