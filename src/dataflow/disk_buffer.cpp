#include "dataflow/disk_buffer.hpp"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "dataflow/record_codec.hpp"
#include "persistence/rocksdb_open.hpp"

namespace edgemq::dataflow {
namespace {

// Not synced: the WAL makes a write survive the process (a crash, kill -9), not the machine
// losing power; an fsync per record would cap a dataflow at the disk's fsync rate.
rocksdb::WriteOptions write_options() {
  rocksdb::WriteOptions wo;
  wo.sync = false;
  return wo;
}

void check(const rocksdb::Status& st, const char* what) {
  if (!st.ok()) throw buffer_error(std::string("dataflow buffer ") + what + ": " + st.ToString());
}

std::uint64_t read_seq(std::string_view suffix) {
  std::uint64_t v = 0;
  for (unsigned char c : suffix) v = v << 8 | c;
  return v;
}

}  // namespace

const char* policy_name(buffer_limits::policy p) {
  return p == buffer_limits::policy::stop ? "stop" : "drop_oldest";
}

buffer_db::buffer_db(const std::string& path) : path_(path), db_(persistence::open_rocksdb(path, "dataflow buffer")) {}

buffer_db::~buffer_db() {
  persistence::close_rocksdb(db_);
}

disk_buffer::disk_buffer(buffer_db& db, std::string name) : db_(db), name_(std::move(name)), prefix_(name_) {
  prefix_.push_back('\0');
  std::unique_ptr<rocksdb::Iterator> it(db_.db().NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix_); it->Valid() && it->key().starts_with(prefix_); it->Next()) {
    const auto k = it->key();
    if (k.size() != prefix_.size() + 8) continue;
    const auto seq = read_seq(std::string_view(k.data() + prefix_.size(), 8));
    index_.push_back({seq, it->value().size()});
    bytes_ += it->value().size();
    next_seq_ = seq + 1;
  }
  check(it->status(), "read");
}

std::string disk_buffer::key(std::uint64_t seq) const {
  std::string k = prefix_;
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>((seq >> shift) & 0xFF));
  return k;
}

bool disk_buffer::fits(std::uint64_t size, const buffer_limits& lim) const {
  return index_.size() + 1 <= lim.max_messages && bytes_ + size <= lim.max_bytes;
}

void disk_buffer::evict_front() {
  check(db_.db().Delete(write_options(), key(index_.front().seq)), "delete");
  bytes_ -= index_.front().size;
  index_.pop_front();
}

disk_buffer::push_result disk_buffer::push(record& r, const buffer_limits& lim, std::uint64_t& evicted) {
  std::string value;
  encode_record(r, value);
  if (value.size() > lim.max_bytes || lim.max_messages == 0) return push_result::too_large;
  if (!fits(value.size(), lim)) {
    if (lim.when_full == buffer_limits::policy::stop) return push_result::full;
    while (!index_.empty() && !fits(value.size(), lim)) {
      evict_front();
      ++evicted;
    }
  }
  const auto seq = next_seq_;
  check(db_.db().Put(write_options(), key(seq), value), "write");
  ++next_seq_;
  r.seq = seq;
  index_.push_back({seq, value.size()});
  bytes_ += value.size();
  return push_result::stored;
}

std::vector<record> disk_buffer::peek(std::size_t n) const {
  std::vector<record> out;
  if (index_.empty() || n == 0) return out;
  const auto first = key(index_.front().seq);
  // Bounded below by the first live key, so the tombstones of what was sent are never walked.
  rocksdb::ReadOptions ro;
  std::string upper = prefix_;
  upper.back() = '\x01';
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_.db().NewIterator(ro));
  for (it->Seek(first); it->Valid() && out.size() < n; it->Next()) {
    const auto k = it->key();
    if (k.size() != prefix_.size() + 8) continue;
    auto r = decode_record(std::string_view(it->value().data(), it->value().size()));
    if (!r) throw buffer_error("dataflow buffer of '" + name_ + "': a record cannot be decoded");
    r->seq = read_seq(std::string_view(k.data() + prefix_.size(), 8));
    out.push_back(std::move(*r));
  }
  check(it->status(), "read");
  return out;
}

std::size_t disk_buffer::remove_through(std::uint64_t seq) {
  if (index_.empty() || index_.front().seq > seq) return 0;
  rocksdb::WriteBatch batch;
  std::size_t n = 0;
  for (auto it = index_.begin(); it != index_.end() && it->seq <= seq; ++it, ++n) batch.Delete(key(it->seq));
  check(db_.db().Write(write_options(), &batch), "delete");
  for (std::size_t i = 0; i < n; ++i) {
    bytes_ -= index_.front().size;
    index_.pop_front();
  }
  return n;
}

void disk_buffer::erase_all() {
  std::string end = prefix_;
  end.back() = '\x01';
  check(db_.db().DeleteRange(write_options(), db_.db().DefaultColumnFamily(), prefix_, end), "delete");
  index_.clear();
  bytes_ = 0;
}

}  // namespace edgemq::dataflow
