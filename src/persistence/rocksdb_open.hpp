// Opening and closing a RocksDB database the same way for every edgemq store, and the kinds of
// failure a caller must tell apart: only unreadable data may ever be moved aside.
#pragma once

#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

namespace rocksdb {
class DB;
class Env;
}  // namespace rocksdb

namespace edgemq::persistence {

// The data on disk cannot be read: RocksDB reports corruption (checksums, manifest), or a record
// cannot be decoded. The only failure persistence.move_aside_on_corruption may act on.
struct corruption_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The database's lock is held (by another process, or another handle in this one).
struct in_use_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Opens (creating if missing) the database at `path` with paranoid checks on, so corruption is
// refused rather than served. Throws corruption_error, in_use_error, or std::runtime_error for
// anything else (I/O, permissions); each message is "cannot open <what> database '<path>': ...".
// RocksDB's own log goes to the process log (warnings and up), never to a LOG file beside the
// data: on a full disk a failed LOG write makes Debian's RocksDB abort (an assertion in its
// WritableFileWriter) where a failed data write is only an error. `env`: null for the default.
// `write_mostly`: a database read only by iterating it at start (the state store, which serves
// reads from memory): its memtable is an unsorted vector (an O(1) insert instead of a skip list's
// O(log n); sorted once when flushed or iterated). Point reads (Get) would be linear: never for
// a store that makes them (ADR 0030).
std::unique_ptr<rocksdb::DB> open_rocksdb(const std::string& path, const std::string& what, rocksdb::Env* env = nullptr,
                                          bool write_mostly = false);

// Closes the database (null is fine); `flush_wal` makes the WAL durable first, which must not be
// asked of a database whose last write failed (the WAL writer asserts on a previous error).
void close_rocksdb(std::unique_ptr<rocksdb::DB>& db, bool flush_wal = true);

// After a refused write, when DB::Resume() is not enough (an I/O error leaves RocksDB's WAL writer
// failed for good): closes the database without flushing its WAL and opens it again (the WAL is
// replayed). False, with `db` null, if it cannot be opened yet; call again later.
bool reopen_rocksdb(std::unique_ptr<rocksdb::DB>& db, const std::string& path, const std::string& what,
                    rocksdb::Env* env, bool write_mostly = false) noexcept;

// Whether a failure while opening or reading back a store means its data is unreadable: it is a
// corruption_error. Lock, I/O and permission errors are not.
bool is_corruption(const std::exception& e) noexcept;

}  // namespace edgemq::persistence
