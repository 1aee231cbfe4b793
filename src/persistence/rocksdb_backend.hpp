// The state store backend on RocksDB: one key per state store key under the "s/" prefix, the
// value an encoded key_record. Every batch is one atomic WriteBatch through the WAL; with the
// `sync` policy it is fsynced before the batch returns (and so before anyone is answered).
#pragma once

#include <memory>
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

 private:
  std::error_code write(rocksdb::WriteBatch& wb);

  std::unique_ptr<rocksdb::DB> db_;
  std::string path_;
  sync_policy policy_;
  rocksdb::Env* env_;
  bool failed_ = false;  // the last write was refused
};

}  // namespace edgemq::persistence
