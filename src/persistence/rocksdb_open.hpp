// Opening and closing a RocksDB database the same way for every edgemq store.
#pragma once

#include <memory>
#include <string>

namespace rocksdb {
class DB;
class Env;
}  // namespace rocksdb

namespace edgemq::persistence {

// Opens (creating if missing) the database at `path` with paranoid checks on, so corruption is
// refused rather than served. Throws std::runtime_error "cannot open <what> database '<path>': ..."
// RocksDB's own log goes to the process log (warnings and up), never to a LOG file beside the
// data: on a full disk a failed LOG write makes Debian's RocksDB abort (an assertion in its
// WritableFileWriter) where a failed data write is only an error. `env`: null for the default.
std::unique_ptr<rocksdb::DB> open_rocksdb(const std::string& path, const std::string& what, rocksdb::Env* env = nullptr);

// Closes the database (null is fine); `flush_wal` makes the WAL durable first, which must not be
// asked of a database whose last write failed (the WAL writer asserts on a previous error).
void close_rocksdb(std::unique_ptr<rocksdb::DB>& db, bool flush_wal = true);

}  // namespace edgemq::persistence
