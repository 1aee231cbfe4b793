// A client's session state: what survives a reconnect (subscriptions, queued and in-flight
// messages, inbound QoS 2 packet ids). Deliveries arrive from any thread through enqueue();
// everything else is used under lock() by the session's connection (on whichever worker holds
// its owner lock), the registry and the sweep. Lock order: docs/adr/0001-layering-and-threading.md,
// "Threads and locks today" (tree -> session -> store; never the tree with lock() held).
// Memory: an idle offline session is kept compact (client id, expiry, subscriptions, a pointer to
// the shared session_env and a null session_state); docs/adr/0036-compact-sessions.md. The lock
// is 4 bytes and the parts an idle connection does not use are made on first use (subscriptions,
// messages in flight, QoS 2 ids, delayed will); docs/adr/0039-idle-connection-memory.md.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "broker/counters.hpp"
#include "broker/delivery_queue.hpp"
#include "broker/durable_store.hpp"
#include "broker/lazy_map.hpp"
#include "broker/limits.hpp"
#include "broker/link.hpp"
#include "broker/message.hpp"
#include "broker/small_mutex.hpp"

namespace edgemq::broker {

// Who is connected to a session, for operators (the admin API): set at attach, kept after the
// connection ends (the last connection's), guarded by session::lock().
struct connection_info {
  // The principal's username, null for an anonymous client: a pointer into the connection's
  // principal (sharing its ownership), not a copy (16 bytes a session instead of 40).
  std::shared_ptr<const std::string> username;
  std::uint64_t connected_at_ms = 0;  // wall clock, ms since the epoch
  std::uint32_t listener = 0;         // index in the server's listeners
  mqtt::protocol_version version = mqtt::protocol_version::v5;
  bool clean_start = false;  // as the CONNECT asked
};

struct subscription_record {
  mqtt::subscribe_options options;
  std::uint32_t subscription_id = 0;  // 0: none
};

enum class inflight_stage : std::uint8_t { awaiting_ack, awaiting_pubcomp };

// Inbound QoS 2 packet ids awaiting their PUBREL: a sorted vector (at most Receive Maximum ids),
// allocated with the first id: empty it costs 8 bytes per session (a vector 24, an unordered_set 56).
class packet_id_set {
 public:
  bool contains(std::uint16_t id) const noexcept { return ids_ && std::binary_search(ids_->begin(), ids_->end(), id); }
  void insert(std::uint16_t id) {
    if (!ids_) ids_ = std::make_unique<std::vector<std::uint16_t>>();
    const auto it = std::lower_bound(ids_->begin(), ids_->end(), id);
    if (it == ids_->end() || *it != id) ids_->insert(it, id);
  }
  std::size_t erase(std::uint16_t id) noexcept {
    if (!ids_) return 0;
    const auto it = std::lower_bound(ids_->begin(), ids_->end(), id);
    if (it == ids_->end() || *it != id) return 0;
    ids_->erase(it);
    return 1;
  }
  std::size_t size() const noexcept { return ids_ ? ids_->size() : 0; }

 private:
  std::unique_ptr<std::vector<std::uint16_t>> ids_;
};

struct delayed_will {
  message_ptr msg;
  clock::time_point at;  // when it is due
};

struct inflight_message {
  delivery d;
  inflight_stage stage = inflight_stage::awaiting_ack;
};

// What every session of a registry shares instead of holding its own copy (8 bytes a session
// rather than 24 and growing): owned by the registry, which outlives its sessions.
struct session_env {
  session_env(const limits& l, counters& c) : lim(l), stats(c) {}
  const limits& lim;
  counters& stats;
  // Set once at start-up (session_registry::set_store), before any connection; atomic only so
  // that a session restored earlier reads it without a race.
  std::atomic<durable_store*> store{nullptr};
};

// The part of a session an idle offline one does not need: its connection, queue, in-flight
// messages, packet ids and delayed will. Allocated on first use and released when idle again
// (session::release_state_if_idle), so 100k restored sessions with nothing queued cost little
// more than their client ids and subscriptions (docs/adr/0036-compact-sessions.md).
struct session_state {
  std::shared_ptr<link> link_;
  // The last connection's; released with the state once the session is offline with nothing
  // left in it, after which an operator sees none (as for a session restored at start-up).
  connection_info connection_;
  delivery_queue queue_;
  std::size_t queued_bytes_ = 0;
  lazy_map<std::uint16_t, inflight_message> inflight_;
  packet_id_set inbound_qos2_;
  // A will waiting for its Will Delay Interval (MQTT 3.1.3.2.2); cancelled by a reconnect.
  // Behind a pointer: most sessions never have one.
  std::unique_ptr<delayed_will> pending_will_;
  std::uint16_t next_packet_id_ = 1;  // restarting at 1 is fine: released only with nothing in flight
  bool notified_ = false;

  // Nothing here that a new state would not have, the connection info aside.
  bool idle() const noexcept {
    return !link_ && queue_.empty() && inflight_.empty() && inbound_qos2_.size() == 0 && !pending_will_;
  }
  // Next packet id not in flight, or 0 when all 65,535 are in use.
  std::uint16_t allocate_packet_id();
};

class session {
 public:
  session(std::string client_id, session_env& env) : client_id_(std::move(client_id)), env_(env) {}

  const std::string& client_id() const noexcept { return client_id_; }

  // Any thread. Queues the delivery (or drops and counts it when the budget is spent) and
  // wakes the connection, once per batch. Returns the durable-store ticket of the queued
  // message (0 when nothing was persisted).
  std::uint64_t enqueue(delivery d);

  // Any thread. The state below is guarded by this mutex; notify() a link only after releasing it.
  std::unique_lock<small_mutex> lock() { return std::unique_lock<small_mutex>(mu_); }

  // --- guarded by lock() ---
  // The lazy state: null while the session has none (state() callers handle that), created by
  // ensure_state() and dropped by release_state_if_idle() or when the session ends.
  session_state* state() noexcept { return state_.get(); }
  const session_state* state() const noexcept { return state_.get(); }
  session_state& ensure_state() { return state_ ? *state_ : create_state(); }
  void release_state_if_idle() noexcept {
    if (state_ && state_->idle()) state_.reset();
  }
  void release_state() noexcept { state_.reset(); }
  // The attached connection, if any.
  link* current_link() const noexcept { return state_ ? state_->link_.get() : nullptr; }
  std::size_t queued() const noexcept { return state_ ? state_->queue_.size() : 0; }
  std::size_t queued_bytes() const noexcept { return state_ ? state_->queued_bytes_ : 0; }
  std::size_t inflight() const noexcept { return state_ ? state_->inflight_.size() : 0; }
  bool will_pending() const noexcept { return state_ && state_->pending_will_; }

  lazy_map<std::string, subscription_record, std::less<>> subscriptions_;
  clock::time_point disconnected_at_{};
  // Sequence of this session's next stored message. Kept here, not in the state: a released
  // state must not restart it while erasures of earlier records may still be on their way.
  std::uint64_t next_seq_ = 1;
  std::uint32_t expiry_interval_ = 0;  // seconds; 0xFFFFFFFF never
  bool ended_ = false;                 // removed from the registry; late deliveries are discarded
  bool persisted_ = false;             // records of this session may exist in the store

  // --- durable state (lock held) ---
  // The store, when this session outlives its connection (expiry interval > 0).
  durable_store* durable() const noexcept { return expiry_interval_ != 0 ? store() : nullptr; }
  durable_store* store() const noexcept { return env_.store.load(std::memory_order_relaxed); }
  session_image image_locked(std::uint64_t disconnected_wall_ms) const;

  counters& stats() noexcept { return env_.stats; }

  // Whether a connection is attached; read without the lock to pick share group members.
  bool online() const noexcept { return online_.load(std::memory_order_relaxed); }
  void set_online(bool v) noexcept { online_.store(v, std::memory_order_relaxed); }

 private:
  // Out of line: the allocation stays off the inlined fast path of enqueue() and the channel.
  session_state& create_state();

  std::string client_id_;
  session_env& env_;
  std::unique_ptr<session_state> state_;
  small_mutex mu_;
  std::atomic<bool> online_{false};
};

using session_ptr = std::shared_ptr<session>;

}  // namespace edgemq::broker
