// Opening and closing a RocksDB database the same way for every edgemq store.
#pragma once

#include <memory>
#include <string>

namespace rocksdb {
class DB;
}

namespace edgemq::persistence {

// Opens (creating if missing) the database at `path` with paranoid checks on, so corruption is
// refused rather than served. Throws std::runtime_error "cannot open <what> database '<path>': ..."
std::unique_ptr<rocksdb::DB> open_rocksdb(const std::string& path, const std::string& what);

// Makes the WAL durable and closes the database (null is fine).
void close_rocksdb(std::unique_ptr<rocksdb::DB>& db);

}  // namespace edgemq::persistence
