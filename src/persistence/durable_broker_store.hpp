// broker::durable_store on RocksDB (database <data dir>/broker). Changes are queued by the
// worker threads and written by one writer thread in atomic batches. `sync`: each batch is
// fsynced before its tickets count as committed (group commit: everything queued meanwhile shares
// the fsync). `batch`: committed once in the WAL, which is fsynced every batch_ms (survives
// kill -9; power loss can take the last batch_ms). `none`: never fsynced by us.
//
// A batch the disk refuses (ENOSPC, EIO) decides its tickets as failed and makes the store
// unhealthy. Its changes are kept, with everything queued after them, and retried every
// retry_interval until a write succeeds (RocksDB clears a full-disk error by itself once space
// is back; otherwise DB::Resume(), then a reopen of the database); tickets queued while unhealthy are failed
// at once, so nobody waits for the disk to come back. What is retried is capped at
// max_retry_bytes: beyond it changes are dropped and counted (the disk converges to memory only
// up to that point; a restart then loses them). Never calls SyncWAL/FlushWAL on a database in
// an error state: Debian's RocksDB asserts on a WAL writer that has seen an error.
// Threads: the methods below are called from any thread, often under a session lock; mu_ is a
// leaf, and waiters are notified only after it is released (docs/adr/0001-layering-and-threading.md,
// "Threads and locks today").
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker.hpp"
#include "broker/durable_store.hpp"
#include "broker/latency_histogram.hpp"

namespace rocksdb {
class DB;
class Env;
class Status;
}  // namespace rocksdb
namespace spdlog {
class logger;
}

namespace edgemq::persistence {

enum class durability { sync, batch, none };

class durable_broker_store final : public broker::durable_store {
 public:
  // Opens or creates the database; throws std::runtime_error naming the path and the reason.
  struct options {
    durability policy = durability::sync;
    std::chrono::milliseconds batch_window{5};
    std::chrono::milliseconds retry_interval{1000};
    std::size_t max_retry_bytes = std::size_t{64} << 20;
    rocksdb::Env* env = nullptr;  // tests: a fault-injecting file system
  };
  durable_broker_store(const std::string& path, options opts, std::shared_ptr<spdlog::logger> log);
  durable_broker_store(const std::string& path, durability policy, std::chrono::milliseconds batch_window,
                       std::shared_ptr<spdlog::logger> log)
      : durable_broker_store(path, options{policy, batch_window}, std::move(log)) {}
  ~durable_broker_store() override;

  // Start-up: loads retained messages and sessions into `b` (dropping what expired while the
  // broker was down) and returns wills that became due meanwhile, to be published. Throws
  // corruption_error for records it cannot decode or a read that RocksDB reports as corruption,
  // std::runtime_error for other read errors.
  std::vector<broker::message_ptr> restore(broker::broker& b);
  // Once restore()'s wills are published (queued for their subscribers): their records go, and
  // the sessions that ended with them. A crash before leaves them to publish again at the next
  // start (at least once, never lost).
  void wills_published();
  void start();
  void stop();  // writes everything queued, then stops the writer

  std::uint64_t save_session(const broker::session_image& s) override;
  std::uint64_t erase_session(const std::string& client_id) override;
  std::uint64_t put_message(const std::string& client_id, std::uint64_t seq, broker::stored_stage stage,
                            std::uint16_t packet_id, const broker::delivery& d) override;
  std::uint64_t erase_message(const std::string& client_id, std::uint64_t seq) override;
  std::uint64_t put_inbound_qos2(const std::string& client_id, std::uint16_t packet_id) override;
  std::uint64_t erase_inbound_qos2(const std::string& client_id, std::uint16_t packet_id) override;
  std::uint64_t put_retained(const broker::message& m) override;
  std::uint64_t erase_retained(const std::string& topic) override;
  std::uint64_t put_will(const std::string& client_id, const broker::message& will,
                         std::uint64_t publish_at_wall_ms) override;
  std::uint64_t erase_will(const std::string& client_id) override;
  std::uint64_t decided() const override { return decided_.load(std::memory_order_acquire); }
  outcome outcome_of(std::uint64_t ticket) const override;
  void notify_when_decided(std::uint64_t ticket, std::weak_ptr<broker::link> l) override;
  bool healthy() const override { return healthy_.load(std::memory_order_acquire); }
  mqtt::reason_code refusal() const override { return refusal_.load(std::memory_order_relaxed); }

  std::uint64_t batches_written() const noexcept { return batches_.load(std::memory_order_relaxed); }
  std::uint64_t write_failures() const noexcept { return write_failures_.load(std::memory_order_relaxed); }
  std::uint64_t dropped_changes() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  // Writes refused before reaching the disk (a message too large to store).
  std::uint64_t refused_writes() const noexcept { return refused_writes_.load(std::memory_order_relaxed); }
  // How long one group commit takes: the batch written (and, with `sync`, fsynced) in RocksDB.
  const broker::latency_histogram& commit_latency() const noexcept { return commit_latency_; }

 private:
  // restore() less the memory release after it.
  std::vector<broker::message_ptr> restore_records(broker::broker& b);
  struct op {
    enum class kind : std::uint8_t { put, erase, erase_range } type;
    std::string key;
    std::string value;  // put: the value; erase_range: the end key
  };
  std::uint64_t queue(std::vector<op> ops);
  // One put whose value could not be encoded (nullopt) is refused: its ticket fails.
  std::uint64_t queue(std::optional<std::string> value, op o);
  // A ticket that fails without a write, decided in order with the others.
  std::uint64_t refuse();
  void run();
  // Writes `batch` (sync as the policy says); false if the disk refused it.
  bool write(const std::vector<op>& batch);
  bool sync_wal();
  void failed(const rocksdb::Status& st, std::size_t changes);
  // Decides every ticket up to `ticket` (durable or failed) and wakes their waiters.
  void decide(std::uint64_t ticket, bool durable);
  // Unhealthy: keeps `batch` for the next retry (up to max_retry_bytes).
  void keep_for_retry(std::vector<op>& batch);

  // restore(): client ids whose due will's record (true: whole session) wills_published() erases.
  std::vector<std::pair<std::string, bool>> after_wills_;
  std::unique_ptr<rocksdb::DB> db_;
  std::string path_;
  options opts_;
  std::shared_ptr<spdlog::logger> log_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<op> pending_;
  std::uint64_t last_ticket_ = 0;
  std::multimap<std::uint64_t, std::weak_ptr<broker::link>> waiters_;
  // Failed ticket ranges [first, last], oldest first, guarded by mu_: one per outage, since
  // every ticket queued while unhealthy fails too.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> failed_;
  std::vector<std::uint64_t> refused_;  // refuse()d tickets not decided yet, ascending; guarded by mu_
  std::atomic<std::uint64_t> decided_{0};
  std::atomic<std::uint64_t> last_failed_{0};
  broker::latency_histogram commit_latency_;  // highest failed ticket: the fast path's bound
  std::atomic<bool> healthy_{true};
  std::atomic<mqtt::reason_code> refusal_{mqtt::reason_code::unspecified_error};
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> refused_writes_{0};
  std::atomic<std::uint64_t> write_failures_{0};
  std::atomic<std::uint64_t> dropped_{0};
  // Writer thread only.
  std::vector<op> retry_;
  std::size_t retry_bytes_ = 0;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace edgemq::persistence
