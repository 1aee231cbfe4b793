#include "persistence/rocksdb_open.hpp"

#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <spdlog/spdlog.h>

namespace edgemq::persistence {
namespace {

// RocksDB's info log, forwarded to the process's default logger.
class spdlog_info_log final : public rocksdb::Logger {
 public:
  explicit spdlog_info_log(std::string what) : rocksdb::Logger(rocksdb::WARN_LEVEL), what_(std::move(what)) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::INFO_LEVEL, format, ap); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    const auto lvl = level >= rocksdb::FATAL_LEVEL   ? spdlog::level::critical
                     : level >= rocksdb::ERROR_LEVEL ? spdlog::level::err
                     : level >= rocksdb::WARN_LEVEL  ? spdlog::level::warn
                                                     : spdlog::level::debug;
    spdlog::default_logger_raw()->log(lvl, "rocksdb ({} database): {}", what_, line);
  }

 private:
  std::string what_;
};

}  // namespace

std::unique_ptr<rocksdb::DB> open_rocksdb(const std::string& path, const std::string& what, rocksdb::Env* env,
                                          bool write_mostly) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.paranoid_checks = true;
  opts.IncreaseParallelism(2);
  opts.OptimizeLevelStyleCompaction(64 << 20);
  opts.info_log = std::make_shared<spdlog_info_log>(what);
  if (write_mostly) {
    opts.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
    opts.allow_concurrent_memtable_write = false;  // the vector memtable takes one writer at a time
  }
  if (env) opts.env = env;
  std::error_code ec;  // created first: RocksDB logs an error for a missing directory
  std::filesystem::create_directories(path, ec);
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

void close_rocksdb(std::unique_ptr<rocksdb::DB>& db, bool flush_wal) {
  if (!db) return;
  if (flush_wal) db->FlushWAL(true);
  db->Close();
  db.reset();
}

bool reopen_rocksdb(std::unique_ptr<rocksdb::DB>& db, const std::string& path, const std::string& what,
                    rocksdb::Env* env, bool write_mostly) noexcept {
  close_rocksdb(db, false);
  try {
    db = open_rocksdb(path, what, env, write_mostly);
    return true;
  } catch (const std::exception& e) {
    spdlog::default_logger_raw()->warn("{}", e.what());
    return false;
  }
}

// By type only: open_rocksdb() and durable_broker_store::restore() throw corruption_error for
// unreadable data and nothing else, so no message wording is matched.
bool is_corruption(const std::exception& e) noexcept {
  return dynamic_cast<const corruption_error*>(&e) != nullptr;
}

}  // namespace edgemq::persistence
