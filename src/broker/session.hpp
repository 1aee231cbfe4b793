// A client's session state: what survives a reconnect (subscriptions, queued and in-flight
// messages, inbound QoS 2 packet ids). Deliveries arrive from any thread through enqueue();
// everything else is used under lock() by the session's connection (on whichever worker holds
// its owner lock), the registry and the sweep. Lock order: docs/adr/0001-layering-and-threading.md,
// "Threads and locks today" (tree -> session -> store; never the tree with lock() held).
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
#include "broker/limits.hpp"
#include "broker/link.hpp"
#include "broker/message.hpp"

namespace edgemq::broker {

// Who is connected to a session, for operators (the admin API): set at attach, kept after the
// connection ends (the last connection's), guarded by session::lock().
struct connection_info {
  std::optional<std::string> username;
  std::uint32_t listener = 0;  // index in the server's listeners
  mqtt::protocol_version version = mqtt::protocol_version::v5;
  std::uint64_t connected_at_ms = 0;  // wall clock, ms since the epoch
  bool clean_start = false;           // as the CONNECT asked
};

struct subscription_record {
  mqtt::subscribe_options options;
  std::uint32_t subscription_id = 0;  // 0: none
};

enum class inflight_stage : std::uint8_t { awaiting_ack, awaiting_pubcomp };

// Inbound QoS 2 packet ids awaiting their PUBREL: a sorted vector (at most Receive Maximum ids;
// empty it costs 24 bytes per session, an unordered_set 56).
class packet_id_set {
 public:
  bool contains(std::uint16_t id) const noexcept { return std::binary_search(ids_.begin(), ids_.end(), id); }
  void insert(std::uint16_t id) {
    const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    if (it == ids_.end() || *it != id) ids_.insert(it, id);
  }
  std::size_t erase(std::uint16_t id) noexcept {
    const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    if (it == ids_.end() || *it != id) return 0;
    ids_.erase(it);
    return 1;
  }
  std::size_t size() const noexcept { return ids_.size(); }

 private:
  std::vector<std::uint16_t> ids_;
};

struct inflight_message {
  delivery d;
  inflight_stage stage = inflight_stage::awaiting_ack;
};

class session {
 public:
  session(std::string client_id, const limits& lim, counters& stats, durable_store* store = nullptr)
      : client_id_(std::move(client_id)), limits_(lim), stats_(stats), store_(store) {}

  const std::string& client_id() const noexcept { return client_id_; }

  // Any thread. Queues the delivery (or drops and counts it when the budget is spent) and
  // wakes the connection, once per batch. Returns the durable-store ticket of the queued
  // message (0 when nothing was persisted).
  std::uint64_t enqueue(delivery d);

  // Any thread. The state below is guarded by this mutex; notify() a link only after releasing it.
  std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(mu_); }

  // --- guarded by lock() ---
  std::shared_ptr<link> link_;
  connection_info connection_;
  bool notified_ = false;
  delivery_queue queue_;
  std::size_t queued_bytes_ = 0;
  std::map<std::uint16_t, inflight_message> inflight_;
  std::uint16_t next_packet_id_ = 1;
  packet_id_set inbound_qos2_;
  std::map<std::string, subscription_record, std::less<>> subscriptions_;
  std::uint32_t expiry_interval_ = 0;  // seconds; 0xFFFFFFFF never
  clock::time_point disconnected_at_{};
  bool ended_ = false;  // removed from the registry; late deliveries are discarded
  // A will waiting for its Will Delay Interval (MQTT 3.1.3.2.2); cancelled by a reconnect.
  message_ptr pending_will_;
  clock::time_point will_at_{};

  // Next packet id not in flight, or 0 when all 65,535 are in use.
  std::uint16_t allocate_packet_id();

  // --- durable state (lock held) ---
  // The store, when this session outlives its connection (expiry interval > 0).
  durable_store* durable() const noexcept { return expiry_interval_ != 0 ? store_ : nullptr; }
  durable_store* store() const noexcept { return store_; }
  // Session lock held. Start-up only: the sessions a store restored exist before the broker is
  // given that store (broker::set_durable_store), and must journal their changes to it too.
  void set_store_locked(durable_store* s) noexcept { store_ = s; }
  session_image image_locked(std::uint64_t disconnected_wall_ms) const;
  std::uint64_t next_seq_ = 1;
  bool persisted_ = false;  // records of this session may exist in the store

  counters& stats() noexcept { return stats_; }

  // Whether a connection is attached; read without the lock to pick share group members.
  bool online() const noexcept { return online_.load(std::memory_order_relaxed); }
  void set_online(bool v) noexcept { online_.store(v, std::memory_order_relaxed); }

 private:
  std::string client_id_;
  const limits& limits_;
  counters& stats_;
  durable_store* store_;
  std::mutex mu_;
  std::atomic<bool> online_{false};
};

using session_ptr = std::shared_ptr<session>;

}  // namespace edgemq::broker
