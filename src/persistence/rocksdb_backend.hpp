// The state store backend on RocksDB: one key per state store key under the "s/" prefix, the
// value an encoded key_record. Every batch is one atomic WriteBatch through the WAL; with the
// `sync` policy it is fsynced before the batch returns (and so before anyone is answered).
#pragma once

#include <atomic>
#include <memory>
#include <shared_mutex>
#include <string>

#include "statestore/backend.hpp"

namespace rocksdb {
class DB;
class Env;
class WriteBatch;
}  // namespace rocksdb

namespace edgemq::persistence {

enum class sync_policy { sync, none };

class rocksdb_backend final : public statestore::backend {
 public:
  // Opens (creating if missing) the database at `path`. Throws std::runtime_error naming the
  // path and RocksDB's reason if it cannot be opened (e.g. corruption).
  // A refused batch leaves the database in an error state: the next write first asks RocksDB to
  // resume (a full disk is cleared by RocksDB itself once space is back) and, if it is still
  // refused, reopens the database (an I/O error leaves the WAL writer failed); the WAL is not
  // flushed on close (Debian's RocksDB asserts on a WAL writer that has seen an error).
  rocksdb_backend(const std::string& path, sync_policy policy, rocksdb::Env* env = nullptr);
  ~rocksdb_backend() override;

  std::error_code load(const std::function<void(std::string, statestore::key_record)>& visit) override;
  std::error_code apply(const std::vector<statestore::mutation>& batch) override;
  std::error_code probe() override;
  bool syncs() const noexcept override { return policy_ == sync_policy::sync; }
  // With `sync`: written to the WAL without fsync, then one SyncWAL for every batch written before
  // it (RocksDB allows both at once). With `none`, sync() has nothing to do.
  std::error_code write_unsynced(const std::vector<statestore::mutation>& batch) override;
  std::error_code sync() override;

 private:
  std::error_code write(rocksdb::WriteBatch& wb, bool sync);
  static rocksdb::WriteBatch batch_of(const std::vector<statestore::mutation>& batch);

  // Shared by writes and syncs (which RocksDB runs concurrently); exclusive while the database is
  // reopened after a refused write.
  std::shared_mutex db_mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::string path_;
  sync_policy policy_;
  rocksdb::Env* env_;
  std::atomic<bool> failed_{false};  // the last write or sync was refused
};

}  // namespace edgemq::persistence
