// Fencing of a node that lost a client (replicated_session_store::fence_by_owner, docs/cluster.md
// "One owner"), against a real etcd: a node's journal writes for a client go through only while
// the client's owner key names that node. A node cut off from the others, whose clients were
// taken over meanwhile, must not overwrite the new owner's records with its late changes, and must
// acknowledge none of them; the other clients' changes in the same transaction are written.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "broker/broker.hpp"
#include "broker/link.hpp"
#include "cluster/replicated_session_store.hpp"
#include "cluster/session_etcd_http.hpp"
#include "cluster/session_records.hpp"
#include "live_etcd_fixture.hpp"
#include "test_delivery.hpp"

namespace edgemq::cluster {
namespace {

using namespace std::chrono_literals;
constexpr const char* root = "fence/";

struct decided_link final : broker::link {
  std::mutex mu;
  std::condition_variable cv;
  bool notified = false;
  void notify() override {
    {
      std::lock_guard g(mu);
      notified = true;
    }
    cv.notify_all();
  }
  void kick(mqtt::reason_code) override {}
  bool wait() {
    std::unique_lock g(mu);
    return cv.wait_for(g, 10s, [&] { return notified; });
  }
};

broker::delivery make_delivery(const std::string& payload) {
  return testing::qos1_delivery("t", payload);
}

class SessionFencingLive : public live::live_etcd_test {
 protected:
  void SetUp() override {
    live::live_etcd_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    http_ = std::make_unique<session_etcd_http>(std::vector<std::string>{etcd_.url()}, 2000ms);
  }

  void set_owner(const std::string& client, const std::string& node) {
    const auto a = http_->post("/v3/kv/put", {{"key", session_etcd_http::b64(session_owner_key(root, client))},
                                              {"value", session_etcd_http::b64(node)}});
    ASSERT_TRUE(a && !a->contains("error"));
  }
  // The client's records in etcd: how many keys under its prefix.
  std::size_t records_of(const std::string& client) {
    const auto prefix = session_records_prefix(root, client);
    const auto a =
        http_->post("/v3/kv/range", {{"key", session_etcd_http::b64(prefix)},
                                     {"range_end", session_etcd_http::b64(session_etcd_http::prefix_end(prefix))},
                                     {"count_only", true}});
    EXPECT_TRUE(a && !a->contains("error"));
    return a ? static_cast<std::size_t>(std::stoll(a->value("count", std::string("0")))) : 0;
  }

  // A node's journal, fenced as node `node`; `fenced` collects what its handler was given.
  std::unique_ptr<replicated_session_store> journal(const std::string& node, bool start = true) {
    auto s = std::make_unique<replicated_session_store>(nullptr, std::vector<std::string>{etcd_.url()}, root, nullptr);
    // No take request comes in these tests unless they begin a hand-over themselves: a short grace.
    s->fence_by_owner(
        node,
        [this](const std::string& client, const std::string& owner) {
          std::lock_guard g(mu_);
          fenced_.emplace_back(client, owner);
        },
        200ms);
    if (start) s->start();
    return s;
  }
  broker::durable_store::outcome decide(replicated_session_store& s, std::uint64_t ticket) {
    auto l = std::make_shared<decided_link>();
    s.notify_when_decided(ticket, l);
    EXPECT_TRUE(l->wait()) << "ticket " << ticket << " never decided";
    return s.outcome_of(ticket);
  }
  std::vector<std::pair<std::string, std::string>> fenced() {
    std::lock_guard g(mu_);
    return fenced_;
  }

  std::unique_ptr<session_etcd_http> http_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> fenced_;
};

using outcome = broker::durable_store::outcome;

TEST_F(SessionFencingLive, OnlyTheOwnersChangesAreWrittenAndTheOthersAreRefusedAlone) {
  set_owner("alice", "node-a");
  set_owner("bob", "node-b");  // taken over by node-b while node-a was cut off
  auto a = journal("node-a");
  // One transaction's worth, queued together: alice's, bob's and a client nobody owns (node-a's
  // lease lapsed and no node claimed it since).
  const auto alice1 = a->save_session({"alice", 3600, 0, {}});
  const auto bob1 = a->put_message("bob", 1, broker::stored_stage::queued, 0, make_delivery("late"));
  const auto carol1 = a->save_session({"carol", 3600, 0, {}});
  const auto alice2 = a->put_message("alice", 1, broker::stored_stage::queued, 0, make_delivery("m1"));
  EXPECT_EQ(decide(*a, alice2), outcome::durable);
  EXPECT_EQ(a->outcome_of(alice1), outcome::durable);
  EXPECT_EQ(a->outcome_of(bob1), outcome::failed) << "a late change of a client another node owns was acknowledged";
  EXPECT_EQ(a->outcome_of(carol1), outcome::failed) << "a change of a client no node owns was acknowledged";
  EXPECT_EQ(records_of("alice"), 2u);
  EXPECT_EQ(records_of("bob"), 0u);
  EXPECT_EQ(records_of("carol"), 0u);
  EXPECT_EQ(a->fenced_writes(), 2u);
  EXPECT_TRUE(a->healthy()) << "etcd is fine: only the fenced clients' changes fail";
  const auto f = fenced();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0], (std::pair<std::string, std::string>{"bob", "node-b"}));
  EXPECT_EQ(f[1], (std::pair<std::string, std::string>{"carol", ""}));
}

TEST_F(SessionFencingLive, TheOldOwnerCannotEraseOrOverwriteTheNewOwnersSession) {
  set_owner("dev", "node-a");
  auto a = journal("node-a");
  auto b = journal("node-b");
  EXPECT_EQ(decide(*a, a->save_session({"dev", 3600, 0, {}})), outcome::durable);
  EXPECT_EQ(decide(*a, a->put_message("dev", 1, broker::stored_stage::queued, 0, make_delivery("q"))),
            outcome::durable);
  set_owner("dev", "node-b");  // node-b took the client over
  EXPECT_EQ(decide(*b, b->put_message("dev", 2, broker::stored_stage::queued, 0, make_delivery("new"))),
            outcome::durable);
  EXPECT_EQ(records_of("dev"), 3u);
  // node-a, late: ends the session (its client disconnected there with expiry 0), drops a message.
  EXPECT_EQ(decide(*a, a->erase_message("dev", 1)), outcome::failed);
  EXPECT_EQ(decide(*a, a->erase_session("dev")), outcome::failed);
  EXPECT_EQ(records_of("dev"), 3u) << "the old owner erased records of the new owner's session";
  EXPECT_TRUE(fenced().size() >= 2u);
  // Back to node-a (the client reconnected there): its changes go through again.
  set_owner("dev", "node-a");
  EXPECT_EQ(decide(*a, a->erase_session("dev")), outcome::durable);
  EXPECT_EQ(records_of("dev"), 0u);
}

// A takeover that is answered: the new owner took the key before asking, and reads the session
// only after the old owner flushed. The old owner's last changes, written during the hand-over,
// reach etcd; one made after it does not.
TEST_F(SessionFencingLive, TheLastChangesOfAnAnsweredHandOverAreWrittenThenFenced) {
  set_owner("dev", "node-a");
  auto a = journal("node-a", false);  // its writer starts once the hand-over began
  const auto before = a->save_session({"dev", 3600, 0, {}});
  const auto last = a->put_message("dev", 1, broker::stored_stage::queued, 0, make_delivery("last"));
  set_owner("dev", "node-b");  // node-b's claim, then its take request to node-a
  a->begin_hand_over("dev", "node-b");
  a->start();
  EXPECT_TRUE(a->flush(10s));
  a->end_hand_over("dev");
  EXPECT_EQ(a->outcome_of(before), outcome::durable);
  EXPECT_EQ(a->outcome_of(last), outcome::durable) << "the old owner's last changes were refused during hand-over";
  EXPECT_EQ(records_of("dev"), 2u);
  EXPECT_TRUE(fenced().empty());
  EXPECT_EQ(decide(*a, a->erase_session("dev")), outcome::failed) << "written after the hand-over ended";
  EXPECT_EQ(records_of("dev"), 2u);
}

// The race of a takeover: the new owner claimed the key while this node's last change was on its
// way to etcd, and its take request arrives after etcd refused that change. The change waits for
// the hand-over and is written for the new owner (as a flush during the hand-over would have),
// not refused and lost: the new owner reads it.
TEST_F(SessionFencingLive, ALastChangeRefusedJustBeforeTheTakeRequestIsWrittenForTheNewOwner) {
  set_owner("dev", "node-b");  // node-b's claim reached etcd before node-a's change
  std::mutex m;
  std::condition_variable cv;
  int refused = 0;
  auto http = std::make_shared<session_etcd_http>(std::vector<std::string>{etcd_.url()}, 2000ms);
  auto a = std::make_unique<replicated_session_store>(
      nullptr,
      [&, http](const nlohmann::json& txn, std::string& error) {
        auto answer = http->post("/v3/kv/txn", txn, &error);
        if (answer && answer->contains("error")) answer.reset();
        if (answer && !answer->value("succeeded", false)) {
          std::lock_guard g(m);
          ++refused;
          cv.notify_all();
        }
        return answer;
      },
      root, nullptr);
  a->fence_by_owner(
      "node-a",
      [this](const std::string& client, const std::string& owner) {
        std::lock_guard g(mu_);
        fenced_.emplace_back(client, owner);
      },
      10s);
  a->start();
  const auto last = a->put_message("dev", 1, broker::stored_stage::awaiting_ack, 7, make_delivery("in flight"));
  {
    std::unique_lock g(m);
    ASSERT_TRUE(cv.wait_for(g, 10s, [&] { return refused > 0; })) << "etcd never refused the change";
  }
  // The take request comes once the writer holds the refused change back (not before: then the
  // change would simply be compared against node-b the first time it is looked at again).
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (a->hand_over_waits() == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  ASSERT_EQ(a->hand_over_waits(), 1u) << "the refused change did not wait for the take request";
  a->begin_hand_over("dev", "node-b");  // node-b's take request
  EXPECT_TRUE(a->flush(10s));
  a->end_hand_over("dev");
  EXPECT_EQ(decide(*a, last), outcome::durable);
  EXPECT_EQ(records_of("dev"), 1u) << "the change made before the takeover is not in etcd for the new owner";
  EXPECT_TRUE(fenced().empty());
  a->stop();
}

}  // namespace
}  // namespace edgemq::cluster
