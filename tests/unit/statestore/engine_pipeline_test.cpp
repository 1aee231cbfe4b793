// Pipelined group commit (engine.hpp, ADR 0030): with a backend that syncs and requests waiting,
// the next batch is executed and written while the previous one's fsync runs, but nothing is answered before the
// fsync that covers it; a failed fsync takes back every batch not yet synced and answers them
// with the storage error.
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "statestore/engine.hpp"
#include "watch_recorder.hpp"

namespace edgemq::statestore {
namespace {

using namespace std::chrono_literals;
using reply = engine::operator_reply;

// Writes go to memory once the write gate is open (it is, unless the test closes it); each sync
// waits until the sync gate opens, then succeeds or fails as the test says. Records whether each
// sync ran on the thread that made the last write (the engine's) or another (the syncer).
class gated_sync_backend final : public backend {
 public:
  std::error_code load(const std::function<void(std::string, key_record)>& visit) override {
    return inner_.load(visit);
  }
  std::error_code apply(const std::vector<mutation>& batch) override { return inner_.apply(batch); }
  std::error_code write_unsynced(const std::vector<mutation>& batch) override {
    std::unique_lock lk(mu_);
    ++writing_;
    cv_.notify_all();
    cv_.wait(lk, [&] { return write_open_; });
    ++written_;
    writer_ = std::this_thread::get_id();
    cv_.notify_all();
    return inner_.apply(batch);
  }
  std::error_code sync() override {
    std::unique_lock lk(mu_);
    ++syncing_;
    synced_by_writer_.push_back(std::this_thread::get_id() == writer_);
    cv_.notify_all();
    cv_.wait(lk, [&] { return open_; });
    return fail_ ? std::make_error_code(std::errc::io_error) : std::error_code{};
  }
  bool syncs() const noexcept override { return true; }

  void open(bool fail) {
    {
      std::lock_guard g(mu_);
      open_ = true;
      fail_ = fail;
    }
    cv_.notify_all();
  }
  void close() {
    std::lock_guard g(mu_);
    open_ = false;
  }
  void hold_writes(bool hold) {
    {
      std::lock_guard g(mu_);
      write_open_ = !hold;
    }
    cv_.notify_all();
  }
  bool wait(int written, int syncing) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, 10s, [&] { return written_ >= written && syncing_ >= syncing; });
  }
  int writing() {
    std::lock_guard g(mu_);
    return writing_;
  }
  bool wait_writing(int n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, 10s, [&] { return writing_ >= n; });
  }
  std::vector<bool> synced_by_writer() {
    std::lock_guard g(mu_);
    return synced_by_writer_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int writing_ = 0, written_ = 0, syncing_ = 0;
  bool open_ = false, fail_ = false, write_open_ = true;
  std::thread::id writer_;
  std::vector<bool> synced_by_writer_;
  memory_backend inner_;
};

struct fixture {
  fixture() {
    auto b = std::make_unique<gated_sync_backend>();
    be = b.get();
    eng = std::make_unique<engine>(core, std::move(b), service_limits{}, nullptr);
    eng->start();
  }
  ~fixture() {
    be->open(false);
    eng->stop();
  }
  std::future<reply> submit(engine::operator_request::verb v, std::string key, std::string value = {}) {
    engine::operator_request r;
    r.op = v;
    r.key = key;
    r.value = std::move(value);
    auto p = std::make_shared<std::promise<reply>>();
    auto f = p->get_future();
    eng->submit(std::move(r), [this, p, k = std::move(key)](reply out) {
      {
        std::lock_guard g(mu);
        answered.push_back(k);
      }
      p->set_value(std::move(out));
    });
    return f;
  }
  // Submits `first` and `second` so that the second is queued while the first is being written:
  // requests are waiting, so the first batch is handed to the syncer (the pipeline engages).
  std::pair<std::future<reply>, std::future<reply>> submit_two_queued(std::string first_key, std::string first_value,
                                                                      std::string second_key,
                                                                      std::string second_value) {
    be->hold_writes(true);
    const int before = be->writing();
    auto a = submit(engine::operator_request::verb::put, std::move(first_key), std::move(first_value));
    EXPECT_TRUE(be->wait_writing(before + 1));
    auto b = submit(engine::operator_request::verb::put, std::move(second_key), std::move(second_value));
    be->hold_writes(false);
    return {std::move(a), std::move(b)};
  }
  broker::broker core{broker::limits{}};
  gated_sync_backend* be = nullptr;
  std::unique_ptr<engine> eng;
  std::mutex mu;
  std::vector<std::string> answered;
};

bool ready(std::future<reply>& f) {
  return f.wait_for(0s) == std::future_status::ready;
}

// Nothing waiting and the syncer idle: the engine thread syncs and answers the batch itself.
TEST(EnginePipeline, ALoneBatchIsSyncedByTheThreadThatWroteIt) {
  fixture f;
  auto a = f.submit(engine::operator_request::verb::put, "a", "1");
  ASSERT_TRUE(f.be->wait(1, 1));
  EXPECT_FALSE(ready(a)) << "answered before its sync";
  f.be->open(false);
  EXPECT_EQ(a.get().code, reply::status::ok);
  EXPECT_EQ(f.be->synced_by_writer(), (std::vector<bool>{true})) << "a lone batch was handed to the syncer";
}

TEST(EnginePipeline, TheNextBatchIsWrittenWhileOneSyncsAndEachIsAnsweredOnlyAfterItsSync) {
  fixture f;
  auto [a, b] = f.submit_two_queued("a", "1", "b", "2");
  // The second batch is written while the first one's sync is still running: the pipeline.
  ASSERT_TRUE(f.be->wait(2, 1)) << "the second batch waited for the first one's sync";
  EXPECT_FALSE(ready(a)) << "answered before its sync";
  EXPECT_FALSE(ready(b)) << "answered before its sync";
  f.be->open(false);
  EXPECT_EQ(a.get().code, reply::status::ok);
  EXPECT_EQ(b.get().code, reply::status::ok);
  EXPECT_EQ(f.answered, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(f.be->synced_by_writer().at(0)) << "a batch with requests waiting behind it was synced in line";
  EXPECT_EQ(f.submit(engine::operator_request::verb::get, "b").get().code, reply::status::ok);
  EXPECT_TRUE(f.eng->healthy());
}

TEST(EnginePipeline, AFailedSyncTakesBackEveryBatchNotYetSynced) {
  fixture f;
  f.be->open(false);
  ASSERT_EQ(f.submit(engine::operator_request::verb::put, "a", "old").get().code, reply::status::ok);
  f.be->close();
  auto [first, second] = f.submit_two_queued("a", "new", "b", "on top");
  ASSERT_TRUE(f.be->wait(3, 2));
  f.be->open(true);  // the disk refuses the sync
  EXPECT_EQ(first.get().code, reply::status::unavailable);
  EXPECT_EQ(second.get().code, reply::status::unavailable) << "a batch executed on a refused one was answered";
  EXPECT_FALSE(f.eng->healthy());
  auto a = f.submit(engine::operator_request::verb::get, "a").get();
  ASSERT_EQ(a.code, reply::status::ok);
  ASSERT_EQ(a.items.size(), 1u);
  EXPECT_EQ(a.items[0].value, "old") << "a change whose sync failed is still shown";
  EXPECT_EQ(f.submit(engine::operator_request::verb::get, "b").get().code, reply::status::not_found);
  f.be->open(false);
  EXPECT_EQ(f.submit(engine::operator_request::verb::put, "c", "3").get().code, reply::status::ok);
  EXPECT_TRUE(f.eng->healthy());
}

TEST(EnginePipeline, AFailedSyncInLineTakesBackTheBatch) {
  fixture f;
  f.be->open(false);
  ASSERT_EQ(f.submit(engine::operator_request::verb::put, "a", "old").get().code, reply::status::ok);
  f.be->open(true);
  EXPECT_EQ(f.submit(engine::operator_request::verb::put, "a", "new").get().code, reply::status::unavailable);
  EXPECT_FALSE(f.eng->healthy());
  f.be->open(false);
  auto a = f.submit(engine::operator_request::verb::get, "a").get();
  ASSERT_EQ(a.code, reply::status::ok);
  ASSERT_EQ(a.items.size(), 1u);
  EXPECT_EQ(a.items[0].value, "old") << "a change whose sync failed is still shown";
  EXPECT_EQ(f.be->synced_by_writer(), (std::vector<bool>{true, true}));
}

// A watcher's value is the one the batch stored, never a later batch's that is not synced yet.
TEST(EnginePipeline, WatchersAreToldWhatWasSyncedInOrder) {
  fixture f;
  f.be->open(false);
  statestore::testing::watch_recorder r;
  f.eng->watch("k", r.callback());
  ASSERT_TRUE(r.wait_for(1));
  f.be->close();
  auto [one, two] = f.submit_two_queued("k", "one", "k", "two");
  ASSERT_TRUE(f.be->wait(2, 1));
  EXPECT_EQ(r.seen().size(), 1u) << "a watcher was told of a change before its sync";
  f.be->open(false);
  ASSERT_EQ(one.get().code, reply::status::ok);
  ASSERT_EQ(two.get().code, reply::status::ok);
  ASSERT_TRUE(r.wait_for(3));
  EXPECT_EQ(r.seen()[1], "one");
  EXPECT_EQ(r.seen()[2], "two");
}

}  // namespace
}  // namespace edgemq::statestore
