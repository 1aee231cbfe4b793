#include "persistence/rocksdb_open.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <string_view>

namespace edgemq::persistence {

std::unique_ptr<rocksdb::DB> open_rocksdb(const std::string& path, const std::string& what) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.paranoid_checks = true;
  opts.IncreaseParallelism(2);
  opts.OptimizeLevelStyleCompaction(64 << 20);
  opts.keep_log_file_num = 4;
  rocksdb::DB* db = nullptr;
  const auto st = rocksdb::DB::Open(opts, path, &db);
  if (st.ok()) return std::unique_ptr<rocksdb::DB>(db);
  const auto message = "cannot open " + what + " database '" + path + "': " + st.ToString();
  if (st.IsCorruption()) throw corruption_error(message);
  // RocksDB reports its LOCK file held as an I/O error ("While lock file: ...", or "lock hold by
  // current process"); it has no status subcode for it.
  const auto text = st.ToString();
  if (st.IsIOError() && (text.find("lock file") != std::string::npos || text.find("lock hold") != std::string::npos))
    throw in_use_error(message);
  throw std::runtime_error(message);
}

void close_rocksdb(std::unique_ptr<rocksdb::DB>& db) {
  if (!db) return;
  db->FlushWAL(true);
  db->Close();
  db.reset();
}

bool is_corruption(const std::exception& e) noexcept {
  if (dynamic_cast<const corruption_error*>(&e)) return true;
  if (dynamic_cast<const in_use_error*>(&e) || !dynamic_cast<const std::runtime_error*>(&e)) return false;
  // durable_broker_store::restore() reports what it cannot read as std::runtime_error (records
  // it cannot decode, or a RocksDB read status): recognised by its wording until it throws
  // corruption_error itself (a unit test pins that wording to the real store).
  const std::string_view what = e.what();
  return what.find("unreadable records") != std::string_view::npos ||
         (what.starts_with("cannot read broker database") && what.find(": Corruption: ") != std::string_view::npos);
}

}  // namespace edgemq::persistence
