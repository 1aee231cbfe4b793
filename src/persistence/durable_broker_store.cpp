#include "persistence/durable_broker_store.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "broker/link.hpp"
#include "broker/memory_release.hpp"
#include "persistence/broker_records.hpp"
#include "persistence/rocksdb_open.hpp"

namespace edgemq::persistence {
namespace {
constexpr std::string_view probe_key = "~probe";  // no record kind: skipped by restore()
}

durable_broker_store::durable_broker_store(const std::string& path, options opts, std::shared_ptr<spdlog::logger> log)
    : path_(path), opts_(opts), log_(std::move(log)) {
  db_ = open_rocksdb(path, "broker", opts_.env);
}

durable_broker_store::~durable_broker_store() {
  stop();
  close_rocksdb(db_, healthy());
}

void durable_broker_store::start() {
  writer_ = std::thread([this] { run(); });
}

void durable_broker_store::stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::uint64_t durable_broker_store::queue(std::optional<std::string> value, op o) {
  if (!value) return refuse();
  o.value = std::move(*value);
  return queue({std::move(o)});
}

std::uint64_t durable_broker_store::refuse() {
  std::uint64_t ticket;
  {
    std::lock_guard g(mu_);
    ticket = ++last_ticket_;
    refused_.push_back(ticket);
  }
  refused_writes_.fetch_add(1, std::memory_order_relaxed);
  cv_.notify_one();
  return ticket;
}

std::uint64_t durable_broker_store::queue(std::vector<op> ops) {
  std::uint64_t ticket;
  {
    std::lock_guard g(mu_);
    for (auto& o : ops) pending_.push_back(std::move(o));
    ticket = ++last_ticket_;
  }
  cv_.notify_one();
  return ticket;
}

void durable_broker_store::notify_when_decided(std::uint64_t ticket, std::weak_ptr<broker::link> l) {
  {
    std::lock_guard g(mu_);
    if (ticket > decided()) {
      waiters_.emplace(ticket, std::move(l));
      return;
    }
  }
  if (auto s = l.lock()) s->notify();
}

broker::durable_store::outcome durable_broker_store::outcome_of(std::uint64_t ticket) const {
  if (ticket > decided_.load(std::memory_order_acquire)) return outcome::pending;
  // last_failed_ is stored before decided_ (release), so it is current for any decided ticket.
  if (ticket > last_failed_.load(std::memory_order_acquire)) return outcome::durable;
  std::lock_guard g(mu_);
  const auto it = std::lower_bound(failed_.begin(), failed_.end(), ticket,
                                   [](const auto& range, std::uint64_t t) { return range.second < t; });
  return it != failed_.end() && it->first <= ticket ? outcome::failed : outcome::durable;
}

void durable_broker_store::decide(std::uint64_t ticket, bool durable) {
  std::vector<std::weak_ptr<broker::link>> wake;
  {
    std::lock_guard g(mu_);
    const auto from = decided_.load(std::memory_order_relaxed) + 1;
    if (ticket < from) return;
    const auto mark_failed = [&](std::uint64_t first, std::uint64_t last) {
      if (!failed_.empty() && failed_.back().second + 1 == first)
        failed_.back().second = last;
      else
        failed_.emplace_back(first, last);
      last_failed_.store(last, std::memory_order_release);
    };
    if (!durable) {
      mark_failed(from, ticket);
    } else {
      // Refused writes (nothing to write) fail alone, in ticket order, among the durable ones.
      for (const auto t : refused_)
        if (t >= from && t <= ticket) mark_failed(t, t);
    }
    std::erase_if(refused_, [&](std::uint64_t t) { return t <= ticket; });
    decided_.store(ticket, std::memory_order_release);
    auto end = waiters_.upper_bound(ticket);
    for (auto it = waiters_.begin(); it != end; ++it) wake.push_back(std::move(it->second));
    waiters_.erase(waiters_.begin(), end);
  }
  for (auto& w : wake)
    if (auto l = w.lock()) l->notify();
}

bool durable_broker_store::write(const std::vector<op>& batch) {
  if (!db_) return false;  // a reopen failed: the next retry tries again
  rocksdb::WriteBatch wb;
  for (const auto& o : batch) {
    switch (o.type) {
      case op::kind::put:
        wb.Put(o.key, o.value);
        break;
      case op::kind::erase:
        wb.Delete(o.key);
        break;
      case op::kind::erase_range:
        wb.DeleteRange(o.key, o.value);
        break;
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = opts_.policy == durability::sync;  // group commit: one fsync for all of them
  const auto st = db_->Write(wo, &wb);
  if (st.ok()) return true;
  failed(st, batch.size());
  return false;
}

bool durable_broker_store::sync_wal() {
  if (!db_) return false;
  const auto st = db_->SyncWAL();
  if (st.ok()) return true;
  failed(st, 0);
  return false;
}

void durable_broker_store::failed(const rocksdb::Status& st, std::size_t changes) {
  write_failures_.fetch_add(1, std::memory_order_relaxed);
  refusal_.store(st.IsNoSpace() ? mqtt::reason_code::quota_exceeded : mqtt::reason_code::unspecified_error,
                 std::memory_order_relaxed);
  if (healthy_.exchange(false, std::memory_order_acq_rel) && log_)
    log_->critical("persistence: {} ({} changes): refusing work that needs durability until writes succeed again",
                   st.ToString(), changes);
}

void durable_broker_store::keep_for_retry(std::vector<op>& batch) {
  for (auto& o : batch) {
    const auto bytes = o.key.size() + o.value.size() + sizeof(op);
    if (retry_bytes_ + bytes > opts_.max_retry_bytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    retry_bytes_ += bytes;
    retry_.push_back(std::move(o));
  }
  batch.clear();
}

void durable_broker_store::run() {
  using clock = std::chrono::steady_clock;
  std::vector<op> batch;
  bool unsynced = false;  // `batch` policy: written to the WAL, fsync still owed
  auto last_sync = clock::now();
  auto next_retry = clock::now();
  for (;;) {
    std::uint64_t ticket = 0;
    bool stopping = false;
    {
      std::unique_lock lk(mu_);
      const auto ready = [&] { return stopping_ || !pending_.empty() || !refused_.empty(); };
      if (!healthy())
        cv_.wait_until(lk, next_retry, ready);
      else if (unsynced)
        cv_.wait_until(lk, last_sync + opts_.batch_window, ready);
      else
        cv_.wait(lk, ready);
      stopping = stopping_;
      if (pending_.empty() && stopping && !unsynced && healthy()) return;
      batch.swap(pending_);
      ticket = last_ticket_;
    }
    if (!healthy()) {
      // Failed at once, written later with the rest: nobody waits for the disk to come back.
      keep_for_retry(batch);
      decide(ticket, false);
      if (clock::now() < next_retry && !stopping) continue;
      // A key restore() ignores, so that the retry really writes (and with `sync`, fsyncs).
      if (retry_.empty() || retry_.back().key != probe_key)
        retry_.push_back({op::kind::put, std::string(probe_key), {}});
      // A full disk is cleared by RocksDB itself once there is space (Resume() is Busy meanwhile);
      // an I/O error needs the database reopened.
      if (db_) db_->Resume();
      if ((db_ && write(retry_)) || (reopen_rocksdb(db_, path_, "broker", opts_.env) && write(retry_))) {
        healthy_.store(true, std::memory_order_release);
        if (log_)
          log_->warn("persistence: writes succeed again ({} changes written late, {} dropped over the cap)",
                     retry_.size(), dropped_.load(std::memory_order_relaxed));
        retry_.clear();
        retry_bytes_ = 0;
        unsynced = opts_.policy == durability::batch;
      } else {
        next_retry = clock::now() + opts_.retry_interval;
        if (stopping) return;  // what is still owed is lost with the process, and was never acknowledged
      }
      continue;
    }
    if (!batch.empty()) {
      const auto began = clock::now();
      const bool ok = write(batch);
      batches_.fetch_add(1, std::memory_order_relaxed);
      if (ok) commit_latency_.record(clock::now() - began);
      if (!ok) {
        keep_for_retry(batch);
        decide(ticket, false);
        next_retry = clock::now() + opts_.retry_interval;
        continue;
      }
      batch.clear();
      unsynced = opts_.policy == durability::batch;
    }
    // `batch`: the WAL is fsynced at most batch_ms after a write, bounding the loss window on
    // power failure; the write itself already survives the process being killed.
    if (unsynced && (clock::now() - last_sync >= opts_.batch_window || stopping)) {
      unsynced = false;
      last_sync = clock::now();
      if (!sync_wal()) next_retry = last_sync + opts_.retry_interval;
    }
    decide(ticket, true);
  }
}

std::uint64_t durable_broker_store::save_session(const broker::session_image& s) {
  return queue({{op::kind::put, session_key(s.client_id), encode_session(s)}});
}

std::uint64_t durable_broker_store::erase_session(const std::string& c) {
  return queue({{op::kind::erase, session_key(c), {}},
                {op::kind::erase, will_key(c), {}},
                {op::kind::erase_range, client_range_begin('M', c), client_range_end('M', c)},
                {op::kind::erase_range, client_range_begin('Q', c), client_range_end('Q', c)}});
}

std::uint64_t durable_broker_store::put_message(const std::string& c, std::uint64_t seq, broker::stored_stage stage,
                                                std::uint16_t packet_id, const broker::delivery& d) {
  const auto now = broker::clock::now();
  const auto expires = d.msg->expires_at ? broker::to_wall_ms(*d.msg->expires_at, now) : 0;
  return queue(encode_delivery(stage, packet_id, d, expires), {op::kind::put, message_key(c, seq), {}});
}

std::uint64_t durable_broker_store::erase_message(const std::string& c, std::uint64_t seq) {
  return queue({{op::kind::erase, message_key(c, seq), {}}});
}

std::uint64_t durable_broker_store::put_inbound_qos2(const std::string& c, std::uint16_t id) {
  return queue({{op::kind::put, qos2_key(c, id), encode_qos2_record()}});
}

std::uint64_t durable_broker_store::erase_inbound_qos2(const std::string& c, std::uint16_t id) {
  return queue({{op::kind::erase, qos2_key(c, id), {}}});
}

std::uint64_t durable_broker_store::put_retained(const broker::message& m) {
  const auto expires = m.expires_at ? broker::to_wall_ms(*m.expires_at, broker::clock::now()) : 0;
  return queue(encode_retained_record(m, expires), {op::kind::put, retained_key(m.topic), {}});
}

std::uint64_t durable_broker_store::erase_retained(const std::string& topic) {
  return queue({{op::kind::erase, retained_key(topic), {}}});
}

std::uint64_t durable_broker_store::put_will(const std::string& c, const broker::message& will,
                                             std::uint64_t at_wall_ms) {
  const auto expires = will.expires_at ? broker::to_wall_ms(*will.expires_at, broker::clock::now()) : 0;
  return queue(encode_will_record(will, at_wall_ms, expires), {op::kind::put, will_key(c), {}});
}

std::uint64_t durable_broker_store::erase_will(const std::string& c) {
  return queue({{op::kind::erase, will_key(c), {}}});
}

namespace {

// What restore() gathers from the records, one kind at a time (decoders: broker_records.hpp).
struct restore_pass {
  broker::broker& b;
  // Read together at the pass's start; every deadline is converted against this pair
  // (durable_store.hpp), however long the pass takes.
  broker::clock::time_point now;
  std::uint64_t wall;
  std::map<std::string, broker::session_registry::restored_session> sessions;
  std::vector<std::string> expired;  // records that expired while the broker was down: erased
  std::size_t retained = 0;

  // False: the record cannot be read.
  bool add(record_kind kind, std::string_view key, std::string_view value) {
    switch (kind) {
      case record_kind::retained:
        return add_retained(key, decode_retained_record(value));
      case record_kind::session:
        return add_session(decode_session_record(key, value));
      case record_kind::message:
        return add_message(key, decode_message_record(key, value));
      case record_kind::inbound_qos2:
        return add_qos2(decode_qos2_record(key, value));
      case record_kind::will:
        return add_will(decode_will_record(key, value));
    }
    return false;
  }

  bool gone(std::uint64_t expires_wall_ms) const { return expires_wall_ms && expires_wall_ms <= wall; }

  bool add_retained(std::string_view key, std::optional<timed_message> m) {
    if (!m) return false;
    if (gone(m->expires_wall_ms)) {
      expired.emplace_back(key);
      return true;
    }
    if (m->expires_wall_ms) m->msg.expires_at = broker::from_wall_ms(m->expires_wall_ms, now, wall);
    b.retained().restore(m->msg);  // copied into the store's compact form: no shared message
    ++retained;
    return true;
  }
  bool add_session(std::optional<broker::session_image> s) {
    if (!s) return false;
    sessions[s->client_id].image = std::move(*s);
    return true;
  }
  bool add_message(std::string_view key, std::optional<message_record> r) {
    if (!r) return false;
    auto& sd = r->delivery;
    if (gone(sd.expires_wall_ms)) {
      expired.emplace_back(key);
      return true;
    }
    if (sd.expires_wall_ms) {
      auto m = std::const_pointer_cast<broker::message>(sd.d.msg);
      m->expires_at = broker::from_wall_ms(sd.expires_wall_ms, now, wall);
    }
    sessions[r->client_id].messages.push_back({sd.stage, {sd.packet_id, std::move(sd.d)}});
    return true;
  }
  bool add_qos2(std::optional<qos2_record> r) {
    if (!r) return false;
    sessions[r->client_id].inbound_qos2.push_back(r->packet_id);
    return true;
  }
  bool add_will(std::optional<will_record> w) {
    if (!w) return false;
    auto& s = sessions[w->client_id];
    s.will = to_message(std::move(w->will), now, wall);  // a will keeps its expiry even when due
    s.will_at_wall_ms = w->at_wall_ms;
    return true;
  }
};

}  // namespace

std::vector<broker::message_ptr> durable_broker_store::restore(broker::broker& b) {
  auto due_wills = restore_records(b);
  // The pass's gathered sessions, decoded records and the iterator's blocks are freed now but
  // would stay resident in malloc's arenas (100,000 sessions: ~40 MB): give them back once.
  broker::release_free_memory();
  return due_wills;
}

void durable_broker_store::wills_published() {
  for (const auto& [client, whole_session] : after_wills_) {
    if (whole_session)
      erase_session(client);
    else
      erase_will(client);
  }
  after_wills_.clear();
  after_wills_.shrink_to_fit();
}

std::vector<broker::message_ptr> durable_broker_store::restore_records(broker::broker& b) {
  restore_pass pass{b, broker::clock::now(), broker::wall_now_ms(), {}, {}, 0};
  std::size_t corrupt = 0;
  // One pass over everything: its blocks would only evict the block cache's useful ones (and
  // grow RSS), and reading ahead saves a read per block.
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = 4 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    const auto kind = record_kind_of(key);
    if (!kind) continue;  // not a record (the writer's probe key)
    if (!pass.add(*kind, key, std::string_view(it->value().data(), it->value().size()))) ++corrupt;
  }
  if (const auto st = it->status(); !st.ok()) {
    const auto message = "cannot read broker database '" + path_ + "': " + st.ToString();
    if (st.IsCorruption()) throw corruption_error(message);
    throw std::runtime_error(message);
  }
  if (corrupt)
    throw corruption_error("broker database '" + path_ + "' has " + std::to_string(corrupt) +
                           " unreadable records (corrupt, or written by a newer edgemq)");

  // Sessions, from their records gathered above.
  const auto wall = pass.wall;
  std::vector<broker::message_ptr> due_wills;
  std::size_t restored = 0, expired = 0;
  // Each gathered session is erased as soon as it is restored (or dropped): its records' memory
  // goes back to malloc while the sessions are built, so the peak does not hold both copies.
  for (auto node = pass.sessions.begin(); node != pass.sessions.end(); node = pass.sessions.erase(node)) {
    const auto& client = node->first;
    auto& s = node->second;
    const bool orphan = s.image.client_id.empty();  // records without their session record
    const bool ended = !orphan && s.image.expiry_interval != 0xFFFFFFFF && s.image.disconnected_wall_ms &&
                       s.image.disconnected_wall_ms + std::uint64_t{s.image.expiry_interval} * 1000 <= wall;
    if (orphan || ended) {
      // The session ended while we were down, or had ended, its will written back due until it
      // was published (session_registry::end_locked): the will goes now, then its records.
      if (s.will) {
        due_wills.push_back(s.will);
        after_wills_.emplace_back(client, true);
      } else {
        erase_session(client);
      }
      ++expired;
      continue;
    }
    if (s.will && s.will_at_wall_ms <= wall) {
      due_wills.push_back(std::move(s.will));
      after_wills_.emplace_back(client, false);
      s.will.reset();
    }
    b.sessions().restore(std::move(s), pass.now, pass.wall);
    ++restored;
  }
  for (const auto& k : pass.expired) queue({{op::kind::erase, k, {}}});
  if (log_)
    log_->info("persistence: restored {} sessions and {} retained messages from {} ({} ended while down)", restored,
               pass.retained, path_, expired);
  return due_wills;
}

}  // namespace edgemq::persistence
