// The broker's durable store in cluster mode (docs/adr/0029): every change to a persistent
// session (its image, queued and in-flight deliveries, inbound QoS 2 ids, delayed will) goes to
// the node's local store, if persistence is on, AND to etcd, where any node can read the session
// back after this node dies. A ticket is decided once both copies have it: etcd answers a write
// only after a majority of its members made it durable, so a PUBACK that waits for the ticket
// (client_channel::send_ack) is sent only when the message is durable in more than one place.
// Retained messages stay local (the routing layer's business).
//
// Fencing (docs/cluster.md, "One owner"): with fence_by_owner(), every transaction compares the
// owner key of each client it writes (`<root>o/<client>` == this node). A node that lost a client
// while cut off from the others (its lease lapsed, another node took the client over) cannot
// overwrite what the new owner writes: its late changes fail (their tickets fail, so nothing they
// carry is acknowledged) and the client's session here ends (fenced handler), while the changes
// of the other clients in the same transaction are written.
//
// Threads: durable_store calls come from any worker, often under a session lock; they only queue
// (this store's mutex, then the local store's: nothing calls back). One writer thread sends the
// queue to etcd in transactions of up to max_txn_ops, in order; links are notified, and the fenced
// handler called, outside the mutex.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "broker/durable_store.hpp"
#include "broker/session_registry.hpp"
#include "cluster/connection_security.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::cluster {

class replicated_session_store final : public broker::durable_store {
 public:
  // `local`: the node's own store (null: persistence off), which must outlive this one.
  // `security`: TLS and the etcd user for https:// endpoints (connection_security.hpp).
  replicated_session_store(broker::durable_store* local, std::vector<std::string> etcd_endpoints, std::string root,
                           std::shared_ptr<spdlog::logger> log, const connection_security& security = {});
  // Sends one transaction body (etcd's /v3/kv/txn JSON) and returns etcd's answer (its JSON:
  // "succeeded", "responses"), or nullopt when etcd did not take it (`error` says why); called on
  // the writer thread only. The constructor above sends it to etcd; tests give their own.
  using txn_writer = std::function<std::optional<nlohmann::json>(const nlohmann::json& txn, std::string& error)>;
  replicated_session_store(broker::durable_store* local, txn_writer writer, std::string root,
                           std::shared_ptr<spdlog::logger> log,
                           std::chrono::milliseconds write_deadline = std::chrono::milliseconds(4000));
  ~replicated_session_store() override;  // stop()
  // Before start(): writes of a client go through only while its owner key names `node`. A client
  // found owned by another node (`owner`), or by none, is given to `fenced` (writer thread, no lock
  // held) once per refused transaction.
  // `hand_over_grace`: a client found owned by another node is first given that long for the
  // node's take request to arrive (begin_hand_over): a node claims the owner key and only then
  // asks, so this node's last changes may reach etcd between the two. Those were made while the
  // client was this node's and are written for the new owner, as a flush during the hand-over
  // would; only when no hand-over comes (this node was cut off) are they refused.
  using fenced_handler = std::function<void(const std::string& client_id, const std::string& owner)>;
  void fence_by_owner(std::string node, fenced_handler fenced,
                      std::chrono::milliseconds hand_over_grace = std::chrono::milliseconds(2000));
  void start();
  void stop();  // writes what is queued (bounded by the etcd timeout), then joins the writer

  std::uint64_t save_session(const broker::session_image& s) override;
  std::uint64_t erase_session(const std::string& client_id) override;
  std::uint64_t put_message(const std::string& client_id, std::uint64_t seq, broker::stored_stage stage,
                            std::uint16_t packet_id, const broker::delivery& d) override;
  std::uint64_t erase_message(const std::string& client_id, std::uint64_t seq) override;
  std::uint64_t put_inbound_qos2(const std::string& client_id, std::uint16_t packet_id) override;
  std::uint64_t erase_inbound_qos2(const std::string& client_id, std::uint16_t packet_id) override;
  std::uint64_t put_retained(const broker::message& m) override;
  std::uint64_t erase_retained(const std::string& topic) override;
  std::uint64_t put_will(const std::string& client_id, const broker::message& will,
                         std::uint64_t publish_at_wall_ms) override;
  std::uint64_t erase_will(const std::string& client_id) override;
  // An open connection's will for etcd only (session_directory::arm_will; session_records.hpp's
  // armed_will_at): the local store has nothing to do with a will its own node would publish.
  std::uint64_t arm_will(const std::string& client_id, const broker::message& will, std::uint32_t delay_s);
  std::uint64_t disarm_will(const std::string& client_id);  // erases it from etcd
  std::uint64_t decided() const override;
  outcome outcome_of(std::uint64_t ticket) const override;
  void notify_when_decided(std::uint64_t ticket, std::weak_ptr<broker::link> l) override;
  bool healthy() const override;
  mqtt::reason_code refusal() const override;

  // Cluster-wide QoS 1/2 (nats_bus.hpp): a ticket decided, in order with the others, when
  // settle_remote is called for it — durable once every other node holding a matching persistent
  // session confirmed the message, failed otherwise. Any thread.
  std::uint64_t open_remote();
  void settle_remote(std::uint64_t ticket, bool durable);

  // Told the filters of each persistent session this node journals: on every save_session (the
  // session's subscriptions) and when the session goes from here (erase_session, forget_local:
  // `filters` null). Called without this store's mutex, on the caller's thread (workers); set
  // before start().
  using interest_listener = std::function<void(const std::string& client_id, const std::vector<std::string>* filters)>;
  void set_interest_listener(interest_listener l) { interest_ = std::move(l); }

  // Waits until every etcd change queued so far is written (or failed); false on timeout.
  bool flush(std::chrono::milliseconds timeout);
  // Handing `client_id` over to `new_owner`: that node took the owner key before asking, and
  // reads the session only once this node answered (after a flush()), so meanwhile this node's
  // changes of the client are written while the key names `new_owner`. After end_hand_over(),
  // they are fenced again.
  void begin_hand_over(const std::string& client_id, std::string new_owner);
  void end_hand_over(const std::string& client_id);
  // A session handed over to another node: this node's local copy goes, etcd's stays.
  void forget_local(const std::string& client_id);
  // A session brought here from etcd: the local store gets its records (etcd has them already).
  void adopt_local(const broker::session_registry::restored_session& s);

  std::uint64_t etcd_writes() const;  // transactions written, for /metrics
  std::uint64_t etcd_failures() const;
  std::uint64_t fenced_writes() const;  // changes refused because another node owns their client
  // Transactions that found a client claimed by another node and waited for its take request.
  std::uint64_t hand_over_waits() const;

 private:
  struct op {
    enum class kind : std::uint8_t { put, erase, erase_range } k;
    std::string key, value;  // value: the range end for erase_range
    std::uint64_t ticket;
    std::string client;  // whose session (the owner key compared when fencing)
    // A later change of the same key in the same transaction replaces it: left out of the
    // transaction, its ticket decided with it.
    bool superseded = false;
  };
  struct write_result {
    bool written = false;  // etcd took the transaction (less the fenced clients' changes)
    std::vector<std::pair<std::string, std::string>> fenced;  // (client id, its owner: "" for none)
  };
  struct pending_ticket {
    std::uint64_t ticket;
    bool etcd;                 // it has an etcd part
    std::uint64_t inner_upto;  // local store tickets up to this one must be decided
    std::uint64_t inner;       // its own local ticket (0: none)
    bool remote = false;       // open_remote: decided by settle_remote
    bool settled = false;
    bool remote_failed = false;
  };
  // Mutex held. Queues `ops` (etcd keys below the client's prefix) under one new ticket.
  std::uint64_t queue_locked(const std::string& client_id, std::vector<op> ops, std::uint64_t inner_ticket);
  std::uint64_t local_only_locked(std::uint64_t inner_ticket);
  // Mutex held. A change that cannot be written (its record could not be encoded): a ticket
  // that fails, decided in order with the others.
  std::uint64_t refused_locked(std::uint64_t inner_ticket);
  std::string key_of(const std::string& client_id, const std::string& record_key) const;
  std::uint64_t decided_locked() const;
  // Highest ticket up to which every etcd part is written (or failed) and every remote one
  // settled: past it, only the local store's decisions are left.
  std::uint64_t etcd_written_through_locked() const;
  // Mutex held. The waiters whose tickets are now past etcd and the remote confirmations.
  std::vector<std::pair<std::uint64_t, std::weak_ptr<broker::link>>> take_ready_waiters_locked();
  void run();
  write_result write(const std::vector<op>& batch);
  // (client id, the owner its changes need: this node, or the one it is being handed over to)
  using owner_check = std::pair<std::string, std::string>;
  nlohmann::json transaction(const std::vector<op>& batch, const std::vector<std::string>& skip,
                             std::vector<owner_check>& compared) const;

  broker::durable_store* local_;
  txn_writer writer_;  // used by the writer thread only
  std::string root_;
  std::shared_ptr<spdlog::logger> log_;
  std::chrono::milliseconds write_deadline_;
  std::string node_;  // fencing: the owner name compared (empty: no fencing)
  fenced_handler fenced_;
  std::chrono::milliseconds hand_over_grace_{2000};
  interest_listener interest_;
  std::map<std::string, std::string> handing_over_;  // mu_: client id -> the node taking it over
  // Writer thread. Waits up to hand_over_grace_ for `client` to be handed over to `owner`.
  bool await_hand_over(const std::string& client, const std::string& owner);

  mutable std::mutex mu_;
  std::condition_variable cv_;  // the writer waits for work, flush() for progress
  std::deque<op> ops_;
  mutable std::deque<pending_ticket> pending_;
  mutable std::set<std::uint64_t> failed_;
  std::set<std::uint64_t> etcd_failed_;
  mutable std::uint64_t decided_ = 0;
  std::uint64_t next_ticket_ = 1;
  std::uint64_t inner_upto_ = 0;
  std::uint64_t last_etcd_ticket_ = 0;
  std::uint64_t etcd_done_ = 0;
  bool etcd_healthy_ = true;
  bool stopping_ = false;
  std::uint64_t writes_ = 0, failures_ = 0, fenced_writes_ = 0, hand_over_waits_ = 0;
  std::vector<std::pair<std::uint64_t, std::weak_ptr<broker::link>>> waiters_;
  std::thread thread_;
};

}  // namespace edgemq::cluster
