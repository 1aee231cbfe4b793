// A dataflow's disk buffer: the records between its source and its sink, in order, in RocksDB.
// One database (data_dir/dataflows) holds every dataflow's buffer under a key prefix (the
// dataflow's name); a record's key ends with its sequence number, so key order is buffer order.
// A record is written before its source acknowledges it upstream and deleted only once its sink
// acknowledged it (docs/dataflows.md, "At least once and the disk buffer"). Used on the runtime's
// I/O thread only; buffer_db is shared by the dataflows of that thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataflow/record.hpp"

namespace rocksdb {
class DB;
}

namespace edgemq::dataflow {

// The bound of each dataflow's buffer and what happens when a record does not fit.
struct buffer_limits {
  enum class policy { drop_oldest, stop };
  std::uint64_t max_bytes = std::uint64_t{256} << 20;  // encoded records
  std::uint64_t max_messages = 1'000'000;
  policy when_full = policy::drop_oldest;
};
const char* policy_name(buffer_limits::policy p);

// A write or read the database refused (disk full, I/O error): the record was not buffered.
struct buffer_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class buffer_db {
 public:
  // Opens (creating) the database at `path`; throws as persistence::open_rocksdb does.
  explicit buffer_db(const std::string& path);
  ~buffer_db();
  buffer_db(const buffer_db&) = delete;
  buffer_db& operator=(const buffer_db&) = delete;
  rocksdb::DB& db() { return *db_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
};

class disk_buffer {
 public:
  // Reads the index (sequence numbers and sizes) of what `name`'s buffer holds from `db`.
  disk_buffer(buffer_db& db, std::string name);

  enum class push_result { stored, full, too_large };
  // Stores `r` at the end (its seq is set). Under drop_oldest the oldest records are evicted to
  // make room (`evicted` counts them); under stop nothing is evicted and `full` is returned.
  // A record larger than max_bytes alone is never stored (too_large). Throws buffer_error.
  push_result push(record& r, const buffer_limits& lim, std::uint64_t& evicted);
  // Whether a record of `bytes` would fit without evicting.
  bool fits(std::uint64_t bytes, const buffer_limits& lim) const;
  // Up to `n` records from the front, in order, with their seq. Throws buffer_error.
  std::vector<record> peek(std::size_t n) const;
  // Removes the records with seq <= `seq` still held (a batch the sink acknowledged; some may
  // have been evicted meanwhile). Returns how many.
  std::size_t remove_through(std::uint64_t seq);
  // Deletes everything this dataflow buffered (its definition was removed).
  void erase_all();

  std::size_t messages() const { return index_.size(); }
  std::uint64_t bytes() const { return bytes_; }
  const std::string& name() const { return name_; }

 private:
  struct entry {
    std::uint64_t seq;
    std::uint64_t size;
  };
  std::string key(std::uint64_t seq) const;
  void evict_front();

  buffer_db& db_;
  std::string name_;
  std::string prefix_;  // name, then a 0 byte (names never hold one)
  std::deque<entry> index_;
  std::uint64_t bytes_ = 0;
  std::uint64_t next_seq_ = 1;
};

}  // namespace edgemq::dataflow
