// The session janitor (session_janitor.hpp, docs/adr/0034) against a real etcd: the sessions no
// node owns are swept once expired and their due delayed wills published, once, by one janitor;
// owned sessions, and sessions a client claims while the janitor works, are left alone.
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "broker/durable_store.hpp"
#include "cluster/session_etcd_http.hpp"
#include "cluster/session_janitor.hpp"
#include "cluster/session_records.hpp"
#include "live_etcd_fixture.hpp"
#include "persistence/broker_records.hpp"
#include "test_delivery.hpp"

namespace edgemq::cluster {
namespace {

using namespace std::chrono_literals;
using b64 = session_etcd_http;
constexpr const char* root = "jan/";

broker::delivery make_delivery(const std::string& payload) {
  return testing::qos1_delivery("t", payload, 1);
}

class SessionJanitorLive : public live::live_etcd_test {
 protected:
  void SetUp() override {
    live::live_etcd_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    http_ = std::make_unique<session_etcd_http>(std::vector<std::string>{etcd_.url()}, 2000ms);
  }

  void put(const std::string& key, const std::string& value) {
    const auto a = http_->post("/v3/kv/put", {{"key", b64::b64(key)}, {"value", b64::b64(value)}});
    ASSERT_TRUE(a && !a->contains("error"));
  }
  std::string get(const std::string& key) {
    const auto a = http_->post("/v3/kv/range", {{"key", b64::b64(key)}});
    EXPECT_TRUE(a && !a->contains("error"));
    if (!a || a->value("kvs", nlohmann::json::array()).empty()) return {};
    return b64::unb64((*a)["kvs"][0].value("value", std::string()));
  }
  // A session as a node journaled it: its image (disconnected `disconnected_ago` ago; 0: connected
  // when written), a queued message, and a delayed will due at `will_at` (0: none).
  void write_session(const std::string& c, std::uint32_t expiry, std::uint64_t disconnected_wall_ms,
                     std::uint64_t will_at_wall_ms = 0) {
    using namespace persistence;
    const auto prefix = session_records_prefix(root, c);
    put(prefix + session_key(c), encode_session({c, expiry, disconnected_wall_ms, {}}));
    put(prefix + message_key(c, 1), *encode_delivery(broker::stored_stage::queued, 0, make_delivery("q"), 0));
    if (will_at_wall_ms) {
      broker::message will;
      will.topic = "wills/" + c;
      will.payload = "gone";
      put(prefix + will_key(c), *encode_will_record(will, will_at_wall_ms, 0));
    }
  }
  // The will an open connection armed (session_directory::arm_will) with a delay of `delay_s`.
  void write_armed_will(const std::string& c, std::uint32_t delay_s) {
    broker::message will;
    will.topic = "wills/" + c;
    will.payload = "gone";
    put(session_records_prefix(root, c) + persistence::will_key(c),
        *persistence::encode_will_record(will, armed_will_at(delay_s), 0));
  }
  std::size_t records_of(const std::string& c) {
    const auto prefix = session_records_prefix(root, c);
    const auto a = http_->post("/v3/kv/range", {{"key", b64::b64(prefix)},
                                                {"range_end", b64::b64(session_etcd_http::prefix_end(prefix))},
                                                {"count_only", true}});
    EXPECT_TRUE(a && !a->contains("error"));
    return a ? static_cast<std::size_t>(std::stoll(a->value("count", std::string("0")))) : 0;
  }
  bool has_will(const std::string& c) {
    return !get(session_records_prefix(root, c) + persistence::will_key(c)).empty();
  }
  std::int64_t grant() {
    const auto a = http_->post("/v3/lease/grant", {{"TTL", 60}});
    EXPECT_TRUE(a && a->contains("ID"));
    return a ? std::stoll(a->at("ID").get<std::string>()) : 0;
  }

  std::unique_ptr<session_janitor> janitor(const std::string& node) {
    session_janitor_options o;
    o.node = node;
    o.etcd = {etcd_.url()};
    o.root = root;
    o.lease = [l = grant()] { return l; };
    o.publish = [this](const broker::message_ptr& m) {
      std::lock_guard g(mu_);
      published_.push_back(m->topic);
    };
    o.begin_sweep = [this](const std::string& c) { return c != claimed_here_; };
    o.wall_now = [this] { return broker::wall_now_ms() + wall_ahead_ms_.load(); };
    o.after_claim = [this](const std::string& c) {
      if (after_claim_) after_claim_(c);
    };
    return std::make_unique<session_janitor>(std::move(o), nullptr);
  }
  std::vector<std::string> published() {
    std::lock_guard g(mu_);
    return published_;
  }

  std::unique_ptr<session_etcd_http> http_;
  std::mutex mu_;
  std::vector<std::string> published_;
  std::function<void(const std::string&)> after_claim_;
  std::string claimed_here_;                     // a CONNECT of this client id is being claimed on the janitor's node
  std::atomic<std::uint64_t> wall_ahead_ms_{0};  // the janitor's clock, moved ahead by the test
};

TEST_F(SessionJanitorLive, AnExpiredUnownedSessionIsSweptOwnedAndUnexpiredOnesAreKept) {
  const auto wall = broker::wall_now_ms();
  write_session("gone", 10, wall - 11'000, wall + 60'000);  // expired; its will goes with it
  write_session("owned", 10, wall - 11'000);                // expired too, but a node holds it
  put(session_owner_key(root, "owned"), "node-x");
  write_session("fresh", 3600, wall - 1000);  // within its expiry
  write_session("connected", 10, 0);          // connected when its node died: no disconnect known
  auto j = janitor("node-a");
  const auto r = j->run_once();
  EXPECT_TRUE(r.elected);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.unowned, 3u);
  EXPECT_EQ(r.swept, 1u);
  EXPECT_EQ(records_of("gone"), 0u) << "an expired session nobody holds was not swept";
  EXPECT_EQ(records_of("owned"), 2u) << "the janitor swept a session its owner holds";
  EXPECT_EQ(records_of("fresh"), 2u);
  EXPECT_EQ(records_of("connected"), 2u);
  EXPECT_EQ(r.marked, 1u);
  const auto marked = persistence::decode_session_record(
      persistence::session_key("connected"),
      get(session_records_prefix(root, "connected") + persistence::session_key("connected")));
  ASSERT_TRUE(marked);
  EXPECT_GE(marked->disconnected_wall_ms, wall) << "a session connected when its node died keeps no expiry";
  EXPECT_EQ(published(), std::vector<std::string>{"wills/gone"}) << "the will goes when the session ends";
  EXPECT_EQ(get(session_owner_key(root, "owned")), "node-x");
  EXPECT_EQ(get(session_owner_key(root, "fresh")), "") << "the janitor's claim was not released";
  EXPECT_EQ(j->swept(), 1u);
  EXPECT_EQ(j->wills_published(), 1u);
  // Nothing changed, nothing due: the kept sessions are not read again.
  const auto again = j->run_once();
  EXPECT_EQ(again.unowned, 2u);
  EXPECT_EQ(again.examined, 0u);
  EXPECT_EQ(published().size(), 1u);
}

// Connected when its node died: swept once its expiry has passed counting from when the janitor
// first found it without an owner.
TEST_F(SessionJanitorLive, ASessionConnectedWhenItsNodeDiedExpiresFromWhenItWasFound) {
  write_session("was-connected", 10, 0);
  auto j = janitor("node-a");
  EXPECT_EQ(j->run_once().marked, 1u);
  EXPECT_EQ(records_of("was-connected"), 2u);
  wall_ahead_ms_ = 5'000;
  EXPECT_EQ(j->run_once().swept, 0u) << "swept before its expiry";
  wall_ahead_ms_ = 11'000;
  const auto r = j->run_once();
  EXPECT_EQ(r.swept, 1u);
  EXPECT_EQ(r.marked, 0u);
  EXPECT_EQ(records_of("was-connected"), 0u);
}

// The will of a connection that was open when its node died (docs/cluster.md, "Wills"): without a
// session (no session expiry) it is published at once and its record swept; with a persistent
// session it becomes a delayed will counted from when the janitor found the session.
TEST_F(SessionJanitorLive, TheArmedWillOfAConnectionItsNodeDiedWithIsPublished) {
  write_armed_will("plain", 0);  // a client without session expiry: nothing else in etcd
  write_session("kept", 3600, 0);
  write_armed_will("kept", 0);
  write_session("delayed", 3600, 0);
  write_armed_will("delayed", 20);
  auto j = janitor("node-a");
  const auto first = j->run_once();
  EXPECT_FALSE(first.error);
  EXPECT_EQ(first.marked, 2u);
  EXPECT_EQ(published(), std::vector<std::string>{"wills/plain"});
  EXPECT_EQ(records_of("plain"), 0u) << "the armed will's record was not swept with it";
  // The persistent ones now hold ordinary delayed wills, due from the mark on.
  const auto rec =
      persistence::decode_will_record(persistence::will_key("delayed"),
                                      get(session_records_prefix(root, "delayed") + persistence::will_key("delayed")));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->at_wall_ms & armed_will_flag, 0u);
  EXPECT_GE(rec->at_wall_ms, broker::wall_now_ms() + 15'000);

  const auto second = j->run_once();  // "kept" is due (no delay): published, its session stays
  EXPECT_EQ(second.wills, 1u);
  EXPECT_EQ(published(), (std::vector<std::string>{"wills/plain", "wills/kept"}));
  EXPECT_FALSE(has_will("kept"));
  EXPECT_EQ(records_of("kept"), 2u);
  EXPECT_TRUE(has_will("delayed"));
  wall_ahead_ms_ = 21'000;
  EXPECT_EQ(j->run_once().wills, 1u);
  EXPECT_EQ(published().back(), "wills/delayed");
  EXPECT_EQ(j->wills_published(), 3u);
}

TEST_F(SessionJanitorLive, ADueDelayedWillIsPublishedOnceByOneOfTwoJanitors) {
  const auto wall = broker::wall_now_ms();
  write_session("w", 3600, wall - 2000, wall - 1000);        // will delay passed, session still valid
  write_session("later", 3600, wall - 2000, wall + 60'000);  // will not due yet
  auto a = janitor("node-a");
  auto b = janitor("node-b");
  std::atomic<int> elected{0};
  std::vector<std::thread> threads;
  for (auto* j : {a.get(), b.get()})
    threads.emplace_back([j, &elected] {
      for (int i = 0; i < 3; ++i)
        if (j->run_once().elected) ++elected;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(elected.load(), 3) << "both janitors worked (or neither)";
  EXPECT_EQ(published(), std::vector<std::string>{"wills/w"});
  EXPECT_EQ(a->wills_published() + b->wills_published(), 1u);
  EXPECT_FALSE(has_will("w")) << "the published will's record is still there";
  EXPECT_EQ(records_of("w"), 2u) << "the session itself is kept until it expires";
  EXPECT_TRUE(has_will("later"));
  EXPECT_EQ(records_of("later"), 3u);
}

// A client connects (on another node) between the janitor's claim and its change: the CONNECT
// takes the owner key over; the janitor must then change nothing, publish nothing, and leave the
// owner key to the new owner.
TEST_F(SessionJanitorLive, ASessionAClientClaimsMeanwhileIsNotTouched) {
  const auto wall = broker::wall_now_ms();
  write_session("c", 10, wall - 11'000, wall - 1000);  // expired, with a due will
  auto j = janitor("node-a");
  after_claim_ = [this](const std::string& c) {
    EXPECT_EQ(get(session_owner_key(root, c)), "node-a") << "not claimed before its records were read";
    put(session_owner_key(root, c), "node-b");  // node-b's CONNECT, comparing the owner it found
  };
  const auto r = j->run_once();
  EXPECT_EQ(r.examined, 1u);
  EXPECT_EQ(r.conflicts, 1u);
  EXPECT_EQ(r.swept, 0u);
  EXPECT_EQ(records_of("c"), 3u) << "the janitor erased a session a client had just claimed";
  EXPECT_TRUE(published().empty()) << "the will was published though its client came back";
  EXPECT_EQ(get(session_owner_key(root, "c")), "node-b") << "the janitor released the new owner's key";
}

// On the janitor's own node, a CONNECT claiming the client id would find the owner key its own:
// the janitor leaves the client id to it (session_ownership::begin_sweep says no).
TEST_F(SessionJanitorLive, AClientIdBeingClaimedOnTheJanitorsNodeIsSkipped) {
  const auto wall = broker::wall_now_ms();
  write_session("here", 10, wall - 11'000);
  claimed_here_ = "here";
  auto j = janitor("node-a");
  const auto r = j->run_once();
  EXPECT_EQ(r.unowned, 1u);
  EXPECT_EQ(r.examined, 0u);
  EXPECT_EQ(records_of("here"), 2u);
  EXPECT_EQ(get(session_owner_key(root, "here")), "") << "claimed while a CONNECT here was claiming it";
  claimed_here_.clear();
  EXPECT_EQ(j->run_once().swept, 1u);
  EXPECT_EQ(records_of("here"), 0u);
}

TEST_F(SessionJanitorLive, OnlyTheElectedNodeWorksAndAnotherTakesOverWhenItsLeaseEnds) {
  const auto wall = broker::wall_now_ms();
  auto a = janitor("node-a");
  EXPECT_TRUE(a->run_once().elected);
  auto b = janitor("node-b");
  write_session("x", 10, wall - 11'000);
  EXPECT_FALSE(b->run_once().elected);
  EXPECT_EQ(records_of("x"), 2u);
  // node-a dies: its lease (and with it the election key) goes.
  const auto lease = std::stoll(http_->post("/v3/kv/range", {{"key", b64::b64(std::string(root) + "janitor")}})
                                    ->at("kvs")[0]
                                    .at("lease")
                                    .get<std::string>());
  ASSERT_TRUE(http_->post("/v3/lease/revoke", {{"ID", std::to_string(lease)}}));
  const auto r = b->run_once();
  EXPECT_TRUE(r.elected);
  EXPECT_EQ(r.swept, 1u);
  EXPECT_EQ(records_of("x"), 0u);
}

}  // namespace
}  // namespace edgemq::cluster
