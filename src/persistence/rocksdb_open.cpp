#include "persistence/rocksdb_open.hpp"

#include <stdexcept>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

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
  if (!st.ok()) throw std::runtime_error("cannot open " + what + " database '" + path + "': " + st.ToString());
  return std::unique_ptr<rocksdb::DB>(db);
}

void close_rocksdb(std::unique_ptr<rocksdb::DB>& db) {
  if (!db) return;
  db->FlushWAL(true);
  db->Close();
  db.reset();
}

}  // namespace edgemq::persistence
