// Client id -> session. Decides on connect whether a session is resumed or started anew and
// which older connection must be taken over; ends sessions whose expiry has passed.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "broker/session.hpp"

namespace edgemq::broker {

class topic_tree;

struct attach_result {
  session_ptr s;
  bool session_present = false;
  std::shared_ptr<link> taken_over;  // the previous connection of this client, to be kicked
};

class session_registry {
 public:
  session_registry(topic_tree& tree, const limits& lim, counters& stats) : tree_(tree), env_(lim, stats) {}

  // Attaches `l` to the session of `client_id`, resuming it unless `clean_start`.
  attach_result attach(const std::string& client_id, bool clean_start, std::uint32_t expiry_interval,
                       std::shared_ptr<link> l, connection_info info = {});

  // The connection `l` is gone. Ends the session if its expiry interval is 0, unless another
  // connection has taken it over meanwhile.
  // `will` (may be null) is published when its delay passes or the session ends, whichever is
  // first; it is returned for immediate publication when the session ends now.
  message_ptr detach(const session_ptr& s, const link* l, clock::time_point now, message_ptr will = nullptr,
                     std::uint32_t will_delay = 0);

  // Ends offline sessions whose expiry interval has passed and collects wills whose delay has
  // passed (or whose session ended first): the caller publishes them, then calls
  // wills_published(). Until then the durable store keeps each will's record (a session that
  // ended keeps only that): a will is in its subscribers' queues before its record goes, so a
  // crash in between publishes it again after the restart rather than never (at least once).
  // `expired_ids`, if given, receives the client ids of the sessions ended (lifecycle events).
  struct due_will {
    message_ptr will;
    std::string client_id;
  };
  std::size_t expire(clock::time_point now, std::vector<due_will>& due_wills,
                     std::vector<std::string>* expired_ids = nullptr);
  // The records of these published wills go from the store, except where the client has a newer
  // will pending by now (it reconnected and left again: that record is the newer will's).
  void wills_published(const std::vector<due_will>& published);

  session_ptr find(const std::string& client_id) const;

  // Also given to the sessions already there (restored from that store before it was set).
  void set_store(durable_store* s);
  // Start-up: an offline session as the durable store had it.
  struct restored_session {
    session_image image;
    std::vector<std::pair<stored_stage, std::pair<std::uint16_t, delivery>>> messages;  // in seq order
    std::vector<std::uint16_t> inbound_qos2;
    message_ptr will;
    std::uint64_t will_at_wall_ms = 0;
  };
  // `now` and `wall_ms`: the steady and wall clocks read together (durable_store.hpp).
  session_ptr restore(restored_session r, clock::time_point now);
  session_ptr restore(restored_session r, clock::time_point now, std::uint64_t wall_ms);
  std::size_t size() const;
  std::size_t connected() const;

  // Operator queries (the admin API), callable from any thread. They take the registry mutex and
  // then each session's lock, the order attach/detach use, copy what they report and call no
  // link under either: a connect or disconnect waits for at most one such walk over the sessions.
  struct client_summary {
    std::string client_id;
    connection_info connection;
    std::size_t subscriptions = 0;
    std::size_t queued = 0;    // messages waiting in the session queue
    std::size_t inflight = 0;  // sent, not yet acknowledged
  };
  // Connected clients whose id starts with `prefix` and sorts after `after` (a paging cursor:
  // the last id of the previous page; empty: from the start), in id order, at most `limit`.
  // `more` tells whether further clients match.
  std::vector<client_summary> connected_clients(std::string_view prefix, std::string_view after, std::size_t limit,
                                                bool& more) const;
  // Connected clients by (listener, protocol version).
  std::map<std::pair<std::uint32_t, mqtt::protocol_version>, std::size_t> connected_by_listener() const;
  // Messages waiting in every session's queue (and their topic and payload bytes) and sent but not yet
  // acknowledged, connected sessions and offline ones alike: the queue depth gauges of /metrics.
  struct queue_totals {
    std::size_t queued = 0;
    std::size_t queued_bytes = 0;
    std::size_t inflight = 0;
  };
  queue_totals queues() const;
  // Closes the connection of `client_id` (MQTT 5: DISCONNECT with `why`); the session stays,
  // as for any lost connection. False when no such client is connected.
  bool disconnect(const std::string& client_id, mqtt::reason_code why);

  // One session in detail, connected or not (the last connection's info when not).
  struct subscription_summary {
    std::string filter;  // as subscribed, $share/<group>/ included
    mqtt::subscribe_options options;
    std::uint32_t subscription_id = 0;
  };
  struct session_detail {
    std::string client_id;
    bool connected = false;
    connection_info connection;
    std::uint32_t expiry_interval = 0;                // seconds; 0xFFFFFFFF never
    std::vector<subscription_summary> subscriptions;  // in filter order
    std::size_t queued = 0;
    std::size_t queued_bytes = 0;
    std::size_t inflight = 0;
    bool will_pending = false;  // a delayed will waits (offline only)
  };
  // Nullopt when `client_id` has no session. Registry mutex, then the session's lock.
  std::optional<session_detail> describe(const std::string& client_id) const;
  // Ends the session of `client_id` as an expiry would (subscriptions, queue, stored records; a
  // delayed will is discarded), after kicking its connection (`why`) when it has one: the
  // connection closes on its owner's thread and, finding its session ended, detaches without
  // touching it (as after a clean-start takeover). False when there is no such session.
  bool end_session(const std::string& client_id, mqtt::reason_code why);
  // Cluster mode: another node takes the session of `client_id` over (session_directory.hpp). As
  // end_session, except that the durable store is not told to erase it: its records are the copy
  // the new owner reads (the caller drops this node's local copy). False when there is no such session.
  bool hand_over(const std::string& client_id, mqtt::reason_code why);

 private:
  // Registry mutex held, session mutex not held. A pending will is moved to `wills` (its record
  // stays in the store: wills_published erases it).
  void end_locked(const session_ptr& s, std::vector<due_will>* wills = nullptr);
  bool end_or_hand_over(const std::string& client_id, mqtt::reason_code why, bool keep_records);

  // The sessions, found by their own client id: a set of pointers rather than a map from a
  // second copy of the id (a node of 32 bytes rather than 64 plus that copy's buffer).
  struct id_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view id) const noexcept { return std::hash<std::string_view>{}(id); }
    std::size_t operator()(const session_ptr& s) const noexcept { return (*this)(s->client_id()); }
  };
  struct id_equal {
    using is_transparent = void;
    static std::string_view id(std::string_view v) noexcept { return v; }
    static std::string_view id(const session_ptr& s) noexcept { return s->client_id(); }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return id(a) == id(b);
    }
  };
  // Registry mutex held.
  session_ptr find_locked(std::string_view client_id) const {
    auto it = sessions_.find(client_id);
    return it == sessions_.end() ? nullptr : *it;
  }

  topic_tree& tree_;
  session_env env_;  // shared by every session of this registry, which it outlives
  mutable std::mutex mu_;
  std::unordered_set<session_ptr, id_hash, id_equal> sessions_;
};

}  // namespace edgemq::broker
