// The state store's semantics, free of I/O and threads: SET/GET/DEL/VDEL/KEYNOTIFY over an
// in-memory key map, fencing tokens, HLC versions, key expiry, quotas and watches. Each call
// returns the reply and appends its effects (writes for the backend, notifications to send);
// the engine executes them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/authorizer.hpp"
#include "edgemq/statestore/hlc.hpp"
#include "edgemq/statestore/protocol.hpp"
#include "statestore/backend.hpp"
#include "statestore/store.hpp"

namespace edgemq::statestore {

struct request {
  std::string client_id;
  std::uint64_t connection_id = 0;
  std::string payload;
  std::optional<std::string> timestamp;      // __ts
  std::optional<std::string> fencing_token;  // __ft
  // The requesting connection's authorization policy, resolved at its CONNECT (null: none);
  // checked here, on the engine's thread, for every key the request touches.
  std::shared_ptr<const broker::client_permissions> permissions;
};

struct response {
  std::string payload;
  std::optional<std::string> version;  // __ts of the reply
};

struct notification {
  std::string client_id;
  std::string key;
  std::string payload;
  std::string version;  // __ts
};

struct effects {
  std::vector<mutation> writes;
  std::vector<notification> notifications;
};

enum class key_access : std::uint8_t { read, write };

// Authorization hook: Read = GET and KEYNOTIFY, Write = SET, DEL, VDEL.
using key_authorizer = std::function<bool(const std::string& client_id, std::string_view key, key_access)>;

struct command;

struct service_limits {
  std::size_t max_keys = 1'000'000;
  std::size_t max_bytes = std::size_t{1} << 30;  // keys + values
  std::uint64_t max_clock_skew_ms = 60'000;
  std::string node_id = "edgemq";
};

class service {
 public:
  service(service_limits lim, std::function<std::uint64_t()> wall_ms, key_authorizer auth = {});

  // Loads the keys of `b`; keys whose deadline passed while the daemon was down are removed
  // (their erase is appended to `fx`).
  std::error_code load(backend& b, effects& fx);

  response execute(const request& r, effects& fx);  // every SET reply carries a version

  // Removes keys whose deadline has passed, with a DELETE notification to their watchers.
  void expire(effects& fx);
  std::optional<std::uint64_t> next_expiry_ms() const;

  // Watches registered over this connection end with it.
  void connection_closed(std::uint64_t connection_id);

  // Undo journal (off by default): while on, every change to the key map remembers the key's
  // previous record, so that a batch the backend refused can be taken back (memory never runs
  // ahead of the disk). The engine keeps or undoes the changes of each batch.
  void enable_undo_journal() noexcept { journal_on_ = true; }
  bool changed_since_kept() const noexcept { return !journal_.empty(); }
  void keep_changes() noexcept { journal_.clear(); }
  void undo_changes();
  // Pipelined batches (engine): the journal holds the changes of every batch not yet synced, in
  // order. A batch marks where its changes start, keeps the oldest ones once synced, or takes
  // back its own when its write is refused.
  std::size_t changes_journaled() const noexcept { return journal_.size(); }
  void keep_oldest_changes(std::size_t n);
  void undo_changes_since(std::size_t mark);

  // Live keys starting with `prefix` and sorting after `after` (empty: from the start), in key
  // order, at most `limit`; `more`: further keys match. O(keys): for operators, not the hot path.
  std::vector<std::pair<std::string, const key_record*>> list(std::string_view prefix, std::string_view after,
                                                              std::size_t limit, bool& more) const;

  // The stored record of `key`, without expiring it or counting a retrieval (null: none).
  const key_record* peek(std::string_view key) const;

  // Every stored record, in no order (the engine fills its read index at start).
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [key, rec] : keys_) f(key, rec);
  }
  const service_limits& limits() const noexcept { return limits_; }

  const service_stats& stats() const noexcept { return stats_; }
  std::size_t size() const noexcept { return keys_.size(); }

 private:
  response dispatch(const request& r, effects& fx);
  response set(const request& r, const command& c, const hlc* ts, const hlc* ft, effects& fx);
  response get(std::string_view key, effects& fx);
  response del(const request& r, std::string_view key, const std::optional<std::string_view>& expected, const hlc* ts,
               const hlc* ft, effects& fx);
  response keynotify(const request& r, const command& c);
  // Reads a key, expiring it first if its deadline has passed.
  key_record* find_live(std::string_view key, effects& fx);
  void erase(const std::string& key, const hlc& version, effects& fx);
  void notify(const std::string& key, const std::string& payload, const hlc& version, effects& fx);
  void track_expiry(const std::string& key, const key_record& r);
  void untrack_expiry(const std::string& key, const key_record& r);

  void remember(const std::string& key, std::optional<key_record> previous);

  service_limits limits_;
  bool journal_on_ = false;
  std::vector<std::pair<std::string, std::optional<key_record>>> journal_;  // oldest first
  std::function<std::uint64_t()> wall_ms_;
  key_authorizer auth_;
  hlc_clock clock_;
  std::unordered_map<std::string, key_record> keys_;
  std::size_t bytes_ = 0;
  std::multimap<std::uint64_t, std::string> expiries_;  // deadline -> key
  // key -> (client id -> connection that registered it)
  std::unordered_map<std::string, std::map<std::string, std::uint64_t>> watches_;
  std::unordered_map<std::uint64_t, std::set<std::pair<std::string, std::string>>> watches_by_connection_;
  service_stats stats_;
};

// The notification topic for (client, key): upper-case hex of both. KEYNOTIFY refuses a watch
// whose topic would be longer than an MQTT topic can be (notification_topic_size tells).
std::string notification_topic(std::string_view client_id, std::string_view key);
std::size_t notification_topic_size(std::string_view client_id, std::string_view key);

}  // namespace edgemq::statestore
