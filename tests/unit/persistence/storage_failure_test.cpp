// What the stores do when the disk refuses writes (a fault-injecting RocksDB file system): a
// refused write is never reported durable, work queued meanwhile fails at once, nothing aborts,
// writes resume by themselves once the disk accepts them again, and what was refused is written
// late so the disk converges to what the broker holds in memory.
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "broker/link.hpp"
#include "fault_injection_fs.hpp"
#include "persistence/durable_broker_store.hpp"
#include "persistence/rocksdb_backend.hpp"
#include "statestore/service.hpp"

namespace edgemq::persistence {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::fault;
using outcome = broker::durable_store::outcome;

// A connection stand-in that can be waited on: notify() is the store's "decided" event.
struct waiting_link : broker::link {
  std::mutex mu;
  std::condition_variable cv;
  int notified = 0;
  void notify() override {
    std::lock_guard g(mu);
    ++notified;
    cv.notify_all();
  }
  void kick(mqtt::reason_code) override {}
};

// Waits for `ticket` to be decided (through the store's notification, not by polling).
void await_decided(durable_broker_store& store, std::uint64_t ticket) {
  auto l = std::make_shared<waiting_link>();
  store.notify_when_decided(ticket, l);
  std::unique_lock lk(l->mu);
  ASSERT_TRUE(l->cv.wait_for(lk, 10s, [&] { return l->notified > 0; })) << "ticket " << ticket << " never decided";
}

// Recovery has no event of its own (it is the disk coming back): polled, with a deadline.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds limit = 30s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

broker::session_image session(std::string id) {
  return broker::session_image{std::move(id), 3600, broker::wall_now_ms(), {{"t/#", {mqtt::qos::at_least_once}, 0}}};
}

class StorageFailureTest : public ::testing::TestWithParam<fault> {
 protected:
  fs::path dir_ = fs::temp_directory_path() /
                  ("edgemq-faults-" + std::to_string(::getpid()) + "-" + std::to_string(static_cast<int>(GetParam())));
  testing::faulty_env faulty_;
  void SetUp() override { fs::remove_all(dir_); }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<durable_broker_store> open(rocksdb::Env* env) {
    durable_broker_store::options o;
    o.policy = durability::sync;
    o.retry_interval = 20ms;
    o.env = env;
    return std::make_unique<durable_broker_store>(dir_.string(), o, nullptr);
  }
  // On the faulty file system, restored into a scratch broker and writing.
  std::unique_ptr<durable_broker_store> open_started() {
    auto store = open(faulty_.env.get());
    broker::broker b{broker::limits{}};
    store->restore(b);
    store->start();
    return store;
  }
  mqtt::reason_code expected_refusal() const {
    return GetParam() == fault::no_space ? mqtt::reason_code::quota_exceeded : mqtt::reason_code::unspecified_error;
  }
};

TEST_P(StorageFailureTest, RefusedWritesAreFailedNeverDurableAndWrittenOnceTheDiskRecovers) {
  {
    auto store = open_started();
    const auto before = store->save_session(session("before"));
    await_decided(*store, before);
    EXPECT_EQ(store->outcome_of(before), outcome::durable);
    EXPECT_TRUE(store->healthy());

    faulty_.fs->arm(GetParam());
    broker::delivery d;
    auto m = std::make_shared<broker::message>();
    m->topic = "t/1";
    m->payload = "refused";
    d.msg = m;
    d.qos = mqtt::qos::at_least_once;
    d.seq = 1;
    const auto refused = store->put_message("before", 1, broker::stored_stage::queued, 0, d);
    await_decided(*store, refused);
    EXPECT_EQ(store->outcome_of(refused), outcome::failed);
    EXPECT_FALSE(store->healthy());
    EXPECT_EQ(store->refusal(), expected_refusal());
    EXPECT_GE(store->write_failures(), 1u);
    // Queued while unhealthy: failed at once, not after the disk comes back.
    const auto meanwhile = store->save_session(session("meanwhile"));
    await_decided(*store, meanwhile);
    EXPECT_EQ(store->outcome_of(meanwhile), outcome::failed);
    EXPECT_EQ(store->outcome_of(before), outcome::durable);  // what was durable stays so

    faulty_.fs->arm(fault::none);
    ASSERT_TRUE(eventually([&] { return store->healthy(); })) << "writes never resumed";
    const auto after = store->save_session(session("after"));
    await_decided(*store, after);
    EXPECT_EQ(store->outcome_of(after), outcome::durable);
    EXPECT_EQ(store->outcome_of(meanwhile), outcome::failed);  // a decision is never revised
    store->stop();
  }
  // Everything refused was kept and written late: the disk holds what memory held.
  auto store = open(nullptr);
  broker::broker b{broker::limits{}};
  store->restore(b);
  for (const char* id : {"before", "meanwhile", "after"}) EXPECT_TRUE(b.sessions().find(id)) << id;
  auto s = b.sessions().find("before");
  ASSERT_TRUE(s);
  auto sl = s->lock();
  ASSERT_TRUE(s->state());
  ASSERT_EQ(s->state()->queue_.size(), 1u);
  EXPECT_EQ(s->state()->queue_.front().msg->payload, "refused");
}

TEST_P(StorageFailureTest, StoppingWhileTheDiskFailsNeitherAbortsNorLosesWhatWasDurable) {
  {
    auto store = open_started();
    const auto kept = store->save_session(session("kept"));
    await_decided(*store, kept);
    faulty_.fs->arm(GetParam());
    const auto lost = store->save_session(session("lost"));
    await_decided(*store, lost);
    EXPECT_EQ(store->outcome_of(lost), outcome::failed);
    store->stop();  // and close: the WAL must not be flushed (Debian's RocksDB would abort)
  }
  faulty_.fs->arm(fault::none);
  auto store = open(nullptr);
  broker::broker b{broker::limits{}};
  store->restore(b);
  EXPECT_TRUE(b.sessions().find("kept"));
}

TEST_P(StorageFailureTest, StateStoreBackendReportsTheFailureAndResumes) {
  const auto path = (dir_ / "statestore").string();
  statestore::key_record r;
  r.value = "v";
  {
    rocksdb_backend backend(path, sync_policy::sync, faulty_.env.get());
    EXPECT_FALSE(backend.apply({{"a", r}}));
    faulty_.fs->arm(GetParam());
    const auto ec = backend.apply({{"b", r}});
    EXPECT_EQ(ec, GetParam() == fault::no_space ? std::make_error_code(std::errc::no_space_on_device)
                                                : std::make_error_code(std::errc::io_error));
    EXPECT_TRUE(backend.probe());
    faulty_.fs->arm(fault::none);
    ASSERT_TRUE(eventually([&] { return !backend.probe(); })) << "writes never resumed";
    EXPECT_FALSE(backend.apply({{"c", r}}));
    faulty_.fs->arm(GetParam());
  }  // closed while failing again: no abort
  faulty_.fs->arm(fault::none);
  rocksdb_backend backend(path, sync_policy::sync);
  std::vector<std::string> keys;
  EXPECT_FALSE(backend.load([&](std::string k, statestore::key_record) { keys.push_back(std::move(k)); }));
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "c"}));  // "b" was refused; the probe key is not a key
}

INSTANTIATE_TEST_SUITE_P(Faults, StorageFailureTest, ::testing::Values(fault::no_space, fault::io_error),
                         [](const auto& info) { return info.param == fault::no_space ? "NoSpace" : "IOError"; });

}  // namespace
}  // namespace edgemq::persistence
