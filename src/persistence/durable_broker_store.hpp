// broker::durable_store on RocksDB (database <data dir>/broker). Changes are queued by the
// worker threads and written by one writer thread in atomic batches. `sync`: each batch is
// fsynced before its tickets count as committed (group commit: everything queued meanwhile shares
// the fsync). `batch`: committed once in the WAL, which is fsynced every batch_ms (survives
// kill -9; power loss can take the last batch_ms). `none`: never fsynced by us.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker.hpp"
#include "broker/durable_store.hpp"

namespace rocksdb {
class DB;
}
namespace spdlog {
class logger;
}

namespace edgemq::persistence {

enum class durability { sync, batch, none };

class durable_broker_store final : public broker::durable_store {
 public:
  // Opens or creates the database; throws std::runtime_error naming the path and the reason.
  durable_broker_store(const std::string& path, durability policy, std::chrono::milliseconds batch_window,
                       std::shared_ptr<spdlog::logger> log);
  ~durable_broker_store() override;

  // Start-up: loads retained messages and sessions into `b` (dropping what expired while the
  // broker was down) and returns wills that became due meanwhile, to be published.
  std::vector<broker::message_ptr> restore(broker::broker& b);
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
  std::uint64_t put_will(const std::string& client_id, const broker::message& will, std::uint64_t publish_at_wall_ms) override;
  std::uint64_t erase_will(const std::string& client_id) override;
  std::uint64_t committed() const override { return committed_.load(std::memory_order_acquire); }
  void notify_when_committed(std::uint64_t ticket, std::weak_ptr<broker::link> l) override;

  std::uint64_t batches_written() const noexcept { return batches_.load(std::memory_order_relaxed); }

 private:
  struct op {
    enum class kind : std::uint8_t { put, erase, erase_range } type;
    std::string key;
    std::string value;  // put: the value; erase_range: the end key
  };
  std::uint64_t queue(std::vector<op> ops);
  void run();

  std::unique_ptr<rocksdb::DB> db_;
  std::string path_;
  durability policy_;
  std::chrono::milliseconds batch_window_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<op> pending_;
  std::uint64_t last_ticket_ = 0;
  std::multimap<std::uint64_t, std::weak_ptr<broker::link>> waiters_;
  std::atomic<std::uint64_t> committed_{0};
  std::atomic<std::uint64_t> batches_{0};
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace edgemq::persistence
