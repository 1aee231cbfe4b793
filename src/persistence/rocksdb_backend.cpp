#include "persistence/rocksdb_backend.hpp"

#include <stdexcept>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "persistence/rocksdb_open.hpp"

namespace edgemq::persistence {
namespace {
constexpr std::string_view prefix = "s/";
}

rocksdb_backend::rocksdb_backend(const std::string& path, sync_policy policy, rocksdb::Env* env)
    : path_(path), policy_(policy), env_(env) {
  // Read only by the load at start (the engine serves reads from memory): a vector memtable.
  db_ = open_rocksdb(path, "state store", env, /*write_mostly=*/true);
}

rocksdb_backend::~rocksdb_backend() {
  close_rocksdb(db_, !failed_);
}

std::error_code rocksdb_backend::load(const std::function<void(std::string, statestore::key_record)>& visit) {
  if (!db_) return std::make_error_code(std::errc::io_error);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Valid() && it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size())); it->Next()) {
    auto rec = statestore::decode(std::string_view(it->value().data(), it->value().size()));
    if (!rec) return std::make_error_code(std::errc::illegal_byte_sequence);
    visit(std::string(it->key().data() + prefix.size(), it->key().size() - prefix.size()), std::move(*rec));
  }
  if (!it->status().ok()) return std::make_error_code(std::errc::io_error);
  return {};
}

rocksdb::WriteBatch rocksdb_backend::batch_of(const std::vector<statestore::mutation>& batch) {
  rocksdb::WriteBatch wb;
  std::string key;
  for (const auto& m : batch) {
    key.assign(prefix);
    key += m.key;
    if (m.record)
      wb.Put(key, statestore::encode(*m.record));
    else
      wb.Delete(key);
  }
  return wb;
}

std::error_code rocksdb_backend::apply(const std::vector<statestore::mutation>& batch) {
  auto wb = batch_of(batch);
  return write(wb, policy_ == sync_policy::sync);
}

std::error_code rocksdb_backend::write_unsynced(const std::vector<statestore::mutation>& batch) {
  auto wb = batch_of(batch);
  return write(wb, false);
}

std::error_code rocksdb_backend::sync() {
  if (policy_ != sync_policy::sync) return {};
  std::shared_lock g(db_mu_);
  const auto st = db_ ? db_->SyncWAL() : rocksdb::Status::IOError("database closed");
  if (st.ok()) return {};
  failed_ = true;  // the next write resumes or reopens the database
  return std::make_error_code(st.IsNoSpace() ? std::errc::no_space_on_device : std::errc::io_error);
}

std::error_code rocksdb_backend::probe() {
  rocksdb::WriteBatch wb;
  wb.Put("~probe", {});  // outside the "s/" prefix: never loaded
  return write(wb, policy_ == sync_policy::sync);
}

std::error_code rocksdb_backend::write(rocksdb::WriteBatch& wb, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  auto st = rocksdb::Status::IOError("database closed");
  {
    std::shared_lock g(db_mu_);
    if (db_) {
      if (failed_) db_->Resume();  // Busy while RocksDB recovers from a full disk by itself
      st = db_->Write(wo, &wb);
    }
  }
  // Still refused after an earlier failure: an I/O error needs the database reopened.
  if (!st.ok() && failed_) {
    std::unique_lock g(db_mu_);
    if (reopen_rocksdb(db_, path_, "state store", env_, /*write_mostly=*/true)) st = db_->Write(wo, &wb);
  }
  failed_ = !st.ok();
  if (st.ok()) return {};
  return std::make_error_code(st.IsNoSpace() ? std::errc::no_space_on_device : std::errc::io_error);
}

}  // namespace edgemq::persistence
