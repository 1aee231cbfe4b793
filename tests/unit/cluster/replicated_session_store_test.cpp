// replicated_session_store (src/cluster/replicated_session_store.hpp): a change to a persistent
// session is decided only once etcd committed it AND the local store has it, so a PUBACK that
// waits for its ticket means "durable in more than one place"; etcd failures fail the ticket.
// etcd is replaced by a transaction writer the test controls.
#include "cluster/replicated_session_store.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "broker/link.hpp"
#include "cluster/session_etcd_http.hpp"
#include "cluster/session_records.hpp"
#include "persistence/broker_records.hpp"
#include "test_delivery.hpp"

namespace edgemq::cluster {
namespace {

using outcome = broker::durable_store::outcome;

// The local store: tickets decided when the test says.
class fake_local final : public broker::durable_store {
 public:
  std::uint64_t save_session(const broker::session_image&) override { return next(); }
  std::uint64_t erase_session(const std::string&) override { return next(); }
  std::uint64_t put_message(const std::string&, std::uint64_t, broker::stored_stage, std::uint16_t,
                            const broker::delivery&) override {
    return next();
  }
  std::uint64_t erase_message(const std::string&, std::uint64_t) override { return next(); }
  std::uint64_t put_inbound_qos2(const std::string&, std::uint16_t) override { return next(); }
  std::uint64_t erase_inbound_qos2(const std::string&, std::uint16_t) override { return next(); }
  std::uint64_t put_retained(const broker::message&) override { return next(); }
  std::uint64_t erase_retained(const std::string&) override { return next(); }
  std::uint64_t put_will(const std::string&, const broker::message&, std::uint64_t) override { return next(); }
  std::uint64_t erase_will(const std::string&) override { return next(); }
  std::uint64_t decided() const override { return decided_; }
  outcome outcome_of(std::uint64_t t) const override { return t <= decided_ ? outcome::durable : outcome::pending; }
  // Called by the store's writer thread too: the waiters are locked.
  void notify_when_decided(std::uint64_t t, std::weak_ptr<broker::link> l) override {
    {
      std::lock_guard g(mu_);
      if (t > decided_) {
        waiting_.emplace_back(t, std::move(l));
        return;
      }
    }
    if (auto s = l.lock()) s->notify();
  }
  bool healthy() const override { return true; }
  mqtt::reason_code refusal() const override { return mqtt::reason_code::unspecified_error; }

  void decide_all() {
    std::vector<std::pair<std::uint64_t, std::weak_ptr<broker::link>>> wake;
    {
      std::lock_guard g(mu_);
      decided_ = issued_.load();
      wake.swap(waiting_);
    }
    for (auto& [t, l] : wake)
      if (auto s = l.lock()) s->notify();
  }

 private:
  std::uint64_t next() { return ++issued_; }
  std::atomic<std::uint64_t> issued_{0}, decided_{0};
  std::mutex mu_;
  std::vector<std::pair<std::uint64_t, std::weak_ptr<broker::link>>> waiting_;
};

// etcd: holds every transaction until opened; answers `ok`.
struct fake_etcd {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  bool ok = true;
  std::vector<nlohmann::json> txns;

  replicated_session_store::txn_writer writer() {
    return [this](const nlohmann::json& txn, std::string& error) -> std::optional<nlohmann::json> {
      std::unique_lock g(mu);
      cv.wait(g, [&] { return open; });
      txns.push_back(txn);
      if (!ok) {
        error = "refused by the test";
        return std::nullopt;
      }
      return nlohmann::json{{"succeeded", true}};
    };
  }
  void set(bool is_open, bool is_ok = true) {
    {
      std::lock_guard g(mu);
      open = is_open;
      ok = is_ok;
    }
    cv.notify_all();
  }
};

struct counting_link final : broker::link {
  std::atomic<int> notified{0};
  void notify() override { ++notified; }
  void kick(mqtt::reason_code) override {}
};

broker::delivery make_delivery(std::uint64_t seq) {
  return testing::qos1_delivery("t", "p", seq);
}

template <class F>
bool eventually(F f) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return f();
}

TEST(ReplicatedSessionStore, DecidedOnlyOnceEtcdAndTheLocalStoreHaveIt) {
  fake_local local;
  fake_etcd etcd;
  replicated_session_store store(&local, etcd.writer(), "r/", nullptr);
  store.start();
  const auto t = store.put_message("c", 1, broker::stored_stage::queued, 0, make_delivery(1));
  ASSERT_NE(t, 0u);
  EXPECT_LT(store.decided(), t);
  local.decide_all();  // the local disk has it, etcd not yet
  EXPECT_LT(store.decided(), t);
  EXPECT_EQ(store.outcome_of(t), outcome::pending);
  etcd.set(true);
  ASSERT_TRUE(store.flush(std::chrono::seconds(5)));
  EXPECT_GE(store.decided(), t);
  EXPECT_EQ(store.outcome_of(t), outcome::durable);
  store.stop();
}

TEST(ReplicatedSessionStore, EtcdFirstThenTheLocalStore) {
  fake_local local;
  fake_etcd etcd;
  etcd.set(true);
  replicated_session_store store(&local, etcd.writer(), "r/", nullptr);
  store.start();
  auto link = std::make_shared<counting_link>();
  const auto t = store.put_inbound_qos2("c", 7);
  ASSERT_TRUE(store.flush(std::chrono::seconds(5)));
  EXPECT_LT(store.decided(), t) << "the local store has not decided";
  store.notify_when_decided(t, link);
  EXPECT_EQ(link->notified, 0);
  local.decide_all();
  EXPECT_EQ(link->notified, 1);
  EXPECT_GE(store.decided(), t);
  store.stop();
}

TEST(ReplicatedSessionStore, WaitingLinkIsNotifiedWhenEtcdCommits) {
  fake_etcd etcd;
  replicated_session_store store(nullptr, etcd.writer(), "r/", nullptr);
  store.start();
  auto link = std::make_shared<counting_link>();
  const auto t = store.save_session({"c", 60, 0, {}});
  store.notify_when_decided(t, link);
  EXPECT_EQ(link->notified, 0);
  etcd.set(true);
  EXPECT_TRUE(eventually([&] { return link->notified == 1; }));
  EXPECT_EQ(store.outcome_of(t), outcome::durable);
  store.stop();
}

TEST(ReplicatedSessionStore, EtcdRefusalFailsTheTicketAndTheStoreIsUnhealthyUntilAWriteSucceeds) {
  fake_etcd etcd;
  etcd.set(true, false);
  replicated_session_store store(nullptr, etcd.writer(), "r/", nullptr, std::chrono::milliseconds(50));
  store.start();
  const auto t = store.put_message("c", 1, broker::stored_stage::queued, 0, make_delivery(1));
  ASSERT_TRUE(store.flush(std::chrono::seconds(5)));
  EXPECT_EQ(store.outcome_of(t), outcome::failed);
  EXPECT_FALSE(store.healthy());
  etcd.set(true, true);
  const auto t2 = store.erase_message("c", 1);
  ASSERT_TRUE(store.flush(std::chrono::seconds(5)));
  EXPECT_EQ(store.outcome_of(t2), outcome::durable);
  EXPECT_TRUE(store.healthy());
  store.stop();
}

// A message queued, sent and acknowledged before the writer's next pass is one delete in etcd:
// each key at most once per transaction (etcd's rule), its last change, in order.
TEST(ReplicatedSessionStore, TransactionsNameEachKeyOnceWithItsLastChangeAndKeepTheOrder) {
  fake_etcd etcd;
  replicated_session_store store(nullptr, etcd.writer(), "r/", nullptr);
  store.start();
  // Held while queued, so they all wait for the same writer pass.
  const auto first = store.put_message("c", 1, broker::stored_stage::queued, 0, make_delivery(1));
  store.put_message("c", 2, broker::stored_stage::queued, 0, make_delivery(2));
  store.put_message("c", 1, broker::stored_stage::awaiting_ack, 5, make_delivery(1));
  const auto acked = store.erase_message("c", 1);
  store.erase_session("c");
  const auto last = store.save_session({"c", 60, 0, {}});
  etcd.set(true);
  ASSERT_TRUE(store.flush(std::chrono::seconds(5)));
  store.stop();
  EXPECT_GE(store.decided(), last);
  for (const auto t : {first, acked}) EXPECT_EQ(store.outcome_of(t), outcome::durable);
  const auto prefix = session_records_prefix("r/", "c");
  std::vector<std::string> order;
  for (const auto& txn : etcd.txns) {
    std::set<std::string> keys;
    for (const auto& op : txn["success"]) {
      const auto& body = op.contains("request_put") ? op["request_put"] : op["request_delete_range"];
      const auto key = session_etcd_http::unb64(body["key"].get<std::string>());
      EXPECT_TRUE(keys.insert(key).second) << "a key twice in one transaction";
      ASSERT_EQ(key.compare(0, prefix.size(), prefix), 0);
      order.push_back((op.contains("request_put")   ? "put "
                       : body.contains("range_end") ? "range "
                                                    : "del ") +
                      key.substr(prefix.size()));
    }
  }
  using namespace persistence;
  const std::vector<std::string> expected = {"put " + message_key("c", 2), "del " + message_key("c", 1), "range ",
                                             "put " + session_key("c")};
  EXPECT_EQ(order, expected);
  EXPECT_EQ(etcd.txns.size(), 3u) << "a repeated key must not end the transaction";
}

TEST(ReplicatedSessionStore, RetainedMessagesStayLocal) {
  fake_local local;
  fake_etcd etcd;
  replicated_session_store store(&local, etcd.writer(), "r/", nullptr);
  store.start();
  broker::message m;
  m.topic = "r";
  const auto t = store.put_retained(m);
  local.decide_all();
  EXPECT_GE(store.decided(), t) << "no etcd write to wait for";
  store.stop();
  EXPECT_TRUE(etcd.txns.empty());
  replicated_session_store no_local(nullptr, etcd.writer(), "r/", nullptr);
  EXPECT_EQ(no_local.put_retained(m), 0u);
}

// A retained message has no etcd part, but its ticket comes after one that has: a PUBACK waiting
// for it registered while that etcd write was in flight must still be notified once the write
// lands (it used to wait for an etcd write of its own ticket, which never comes).
TEST(ReplicatedSessionStore, LocalOnlyTicketQueuedBehindAnEtcdWriteIsNotified) {
  for (const bool local_first : {true, false}) {
    SCOPED_TRACE(local_first ? "local store decides first" : "etcd commits first");
    fake_local local;
    fake_etcd etcd;
    replicated_session_store store(&local, etcd.writer(), "r/", nullptr);
    store.start();
    const auto before = store.erase_session("c");  // a connecting client's session: to etcd
    broker::message m;
    m.topic = "r";
    const auto t = store.put_retained(m);  // then its retained QoS 1 publish: local only
    ASSERT_GT(t, before);
    auto link = std::make_shared<counting_link>();
    store.notify_when_decided(t, link);
    if (local_first) local.decide_all();
    EXPECT_EQ(link->notified, 0);
    etcd.set(true);
    ASSERT_TRUE(store.flush(std::chrono::seconds(5)));
    if (!local_first) local.decide_all();
    EXPECT_TRUE(eventually([&] { return link->notified == 1; })) << "the PUBACK would wait forever";
    EXPECT_GE(store.decided(), t);
    EXPECT_EQ(store.outcome_of(t), outcome::durable);
    store.stop();
  }
}

// Cluster-wide QoS 1/2 (ADR 0038): a remote ticket holds back every later decision until the
// other nodes' confirmations settle it; a failed one is never reported durable.
TEST(ReplicatedSessionStore, ARemoteTicketIsDecidedWhenSettledAndInOrder) {
  fake_etcd etcd;
  etcd.set(true);
  replicated_session_store store(nullptr, etcd.writer(), "r/", nullptr);
  store.start();
  const auto remote = store.open_remote();
  const auto later = store.save_session({"c", 60, 0, {}});
  ASSERT_GT(later, remote);
  auto link = std::make_shared<counting_link>();
  store.notify_when_decided(later, link);
  ASSERT_TRUE(store.flush(std::chrono::seconds(5)));
  EXPECT_LT(store.decided(), remote) << "decided before the other nodes confirmed";
  EXPECT_EQ(store.outcome_of(later), outcome::pending) << "a later ticket overtook an unsettled one";
  EXPECT_EQ(link->notified, 0);
  store.settle_remote(remote, true);
  EXPECT_EQ(store.outcome_of(remote), outcome::durable);
  EXPECT_EQ(store.outcome_of(later), outcome::durable);
  EXPECT_EQ(link->notified, 1);

  const auto refused = store.open_remote();
  store.notify_when_decided(refused, link);
  store.settle_remote(refused, false);
  EXPECT_EQ(store.outcome_of(refused), outcome::failed);
  EXPECT_EQ(link->notified, 2);
  store.stop();
}

}  // namespace
}  // namespace edgemq::cluster
