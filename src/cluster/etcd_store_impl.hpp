// The inside of etcd_store (etcd_store.hpp): the node's view of the keys and `etcd_store::impl`,
// its members and the methods that the etcd_store*.cpp files define, a file a responsibility:
//   etcd_store_codec.cpp     the keys' metadata and the txn parts that read, write and guard them
//   etcd_store_view.cpp      the clock, and the node's view of the keys (read at start, mirrored)
//   etcd_store_requests.cpp  etcd calls, the per-connection queues, GET
//   etcd_store_writes.cpp    SET / DEL / VDEL: decisions, guarded txns, replies after the watch
//   etcd_store_notify.cpp    KEYNOTIFY, the node's watch, in-process watches
//   etcd_store_ticker.cpp    PX deadlines, the probe, the ticker thread
//   etcd_store.cpp           the public class
// Private to src/cluster/etcd_store*.cpp.
//
// Threads: requests arrive on connection threads and are queued per connection (a client's
// requests are answered in order); etcd answers on the etcd client's thread; a ticker thread
// deletes keys at their PX deadline and probes etcd every second (healthy(), size()).
// Locks: mu_ (queues, KEYNOTIFY registrations, stats) and watch_mu_ (in-process watchers, held
// while their callbacks run) are never held together; clock_mu_ is a leaf.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/etcd_client.hpp"
#include "cluster/etcd_store.hpp"
#include "cluster/etcd_store_codec.hpp"
#include "edgemq/statestore/resp3.hpp"
#include "statestore/command.hpp"
#include "statestore/quota.hpp"

namespace edgemq::cluster {

using statestore::command;
using statestore::response;
namespace resp3 = statestore::resp3;
namespace err = statestore::err;

inline constexpr std::int64_t pending_revision = std::numeric_limits<std::int64_t>::max();

// The node's view of the store: each key's three etcd keys, and the quota's count of the keys
// and bytes (key + value) of the live-or-not-yet-deleted ones (those with an ss/v/ entry).
struct key_view {
  explicit key_view(const std::string& prefix) : vp(prefix + "v/"), mp(prefix + "m/"), fp(prefix + "ft/") {}
  std::string vp, mp, fp;
  std::unordered_map<std::string, key_state> keys;
  statestore::quota_usage usage;

  // An etcd key put at `mod`, or deleted; keys outside ss/{v,m,ft}/ are not the store's.
  void apply(const std::string& etcd_key, bool put, std::int64_t mod, const std::string& value);
};

// A change seen on the node's watch.
struct change {
  std::int64_t revision = 0;
  std::string key;
  std::optional<std::string> value;  // nullopt: deleted (DEL, VDEL, expiry)
  std::string version;
};

struct etcd_store::impl : std::enable_shared_from_this<impl> {
  struct job {
    statestore::request req;
    std::string response_topic, correlation_data;
    std::chrono::steady_clock::time_point arrived{};
    bool closed_only = false;
    // Set: an operator request, answered through it instead of a reply message.
    std::function<void(const response&, bool failed)> answer;
  };
  struct queue {
    std::deque<job> jobs;
    bool busy = false;
  };
  struct registration {  // one client's KEYNOTIFY on one key
    std::uint64_t connection = 0;
    std::int64_t min_revision = pending_revision;  // pending: its first read has not answered
    std::vector<change> held;                      // seen while pending
  };
  struct watcher {
    std::string key;
    watch_callback changed;
    std::int64_t min_revision = pending_revision;
    std::vector<change> held;
  };
  // One request in flight: what it asks and what is known of its key.
  struct op {
    job j;
    command cmd;
    key_state state;
    bool state_read = false;  // false: a guess (the node's mirror, or absent) that the guards check
    int attempts = 0;
    std::int64_t lease = 0;
  };

  impl(broker::broker& br, etcd_client* c, etcd_store_options o, std::shared_ptr<spdlog::logger> l,
       statestore::key_authorizer a, std::function<std::uint64_t()> w)
      : broker_(br),
        client_(c),
        opts_(std::move(o)),
        log_(std::move(l)),
        auth_(std::move(a)),
        wall_ms_(w ? std::move(w) : statestore::system_wall_ms),
        clock_(opts_.node_id) {}

  broker::broker& broker_;
  etcd_client* client_;  // owned by the etcd_store, which outlives every use
  etcd_store_options opts_;
  std::shared_ptr<spdlog::logger> log_;
  statestore::key_authorizer auth_;
  std::function<std::uint64_t()> wall_ms_;

  std::string v_key(std::string_view k) const { return opts_.prefix + "v/" + std::string(k); }
  std::string m_key(std::string_view k) const { return opts_.prefix + "m/" + std::string(k); }
  std::string ft_key(std::string_view k) const { return opts_.prefix + "ft/" + std::string(k); }

  // --- clock (leaf lock)
  std::mutex clock_mu_;
  statestore::hlc_clock clock_;
  hlc tick(const hlc* seen = nullptr);
  std::string last_version();
  void observe(const std::optional<hlc>& v);

  // --- state under mu_
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, queue> queues_;
  std::unordered_map<std::string, std::map<std::string, registration>> keynotify_;
  std::unordered_map<std::uint64_t, std::set<std::pair<std::string, std::string>>> by_connection_;
  statestore::service_stats stats_;
  bool stopping_ = false;
  std::size_t in_flight_ = 0;  // etcd calls whose callback has not returned
  std::condition_variable drained_;
  std::multimap<std::uint64_t, std::pair<std::string, std::int64_t>> expiries_;  // deadline -> key, v mod revision
  std::condition_variable ticker_cv_;
  std::thread ticker_;
  std::vector<std::uint64_t> watch_retries_;  // in-process watches whose first read failed
  bool reload_view_ = false;                  // the ticker reads every key again at reload_at_
  std::chrono::steady_clock::time_point reload_at_{};
  // A write is answered once the node's watch has seen its revision, so that its notifications
  // (to this node's watchers) go out before its reply, as the single-node store does; at most
  // `watch_wait` later if the watch lags.
  static constexpr std::chrono::milliseconds watch_wait{1000};
  std::int64_t watch_seen_ = 0;
  std::multimap<std::int64_t, std::pair<std::chrono::steady_clock::time_point, std::function<void()>>> after_watch_;

  // --- the keys as read at start and then seen on the node's watch (leaf lock): a write's first
  // guess, so that it usually commits in one txn (a stale guess only makes the guards fail and
  // return the truth), and the quota's count.
  std::mutex mirror_mu_;
  key_view view_{opts_.prefix};
  bool view_loaded_ = false;  // false until the first read of every key answered
  static constexpr int load_page = 1000;

  // --- in-process watchers under watch_mu_
  std::mutex watch_mu_;
  std::atomic<watch_id> next_watch_{1};
  std::unordered_map<watch_id, watcher> watchers_;

  std::atomic<bool> healthy_{false};
  std::atomic<std::uint64_t> write_failures_{0};
  std::atomic<std::size_t> size_{0};
  broker::latency_histogram latency_;
  etcd_client::watch_id node_watch_ = 0;

  // --- the node's view (etcd_store_view.cpp)
  key_state guess(const std::string& key);
  bool view_loaded();
  statestore::quota_usage usage_without(const std::string& key);
  void mirror(const json& events);
  std::int64_t load_view();

  // ------------------------------------------------------------------ etcd calls, queues, GET
  // (etcd_store_requests.cpp)
  void call(std::string path, json body, std::function<void(const etcd_error&, json)> done);
  json read_txn(const std::string& key) const;
  key_state parse_state(const json& answer) const;

  void enqueue(std::uint64_t queue_id, job j);
  void pump(std::uint64_t queue_id);
  bool start(const std::shared_ptr<op>& o, std::uint64_t queue_id);
  void finish(const std::shared_ptr<op>& o, response resp, bool storage_failed, bool = true);
  response unavailable_reply(const etcd_error& e, bool was_write);

  void read_then(const std::shared_ptr<op>& o, std::function<void()> resume);

  // ------------------------------------------------------------------ SET / DEL / VDEL
  // (etcd_store_writes.cpp)
  struct decision {
    response reply;
    json writes = json::array();
    bool insert = false, modify = false, remove = false;
    std::optional<std::uint64_t> expires_at_ms;
  };

  void grant_then_decide(const std::shared_ptr<op>& o, std::function<void()> resume);
  static decision refusal(response r);
  decision decide_set(op& o);
  decision decide_del(op& o);
  void decide(const std::shared_ptr<op>& o, std::function<void()> resume);
  void after_watch(std::int64_t revision, std::function<void()> f);
  void release_waiters(std::int64_t revision);

  // ------------------------------------------------------------------ KEYNOTIFY, the node's watch,
  // in-process watches (etcd_store_notify.cpp)
  response keynotify_stop(const statestore::request& r, const std::string& key);
  bool keynotify(const std::shared_ptr<op>& o, std::function<void()> resume);
  void send_notification(const std::string& client, const change& ch);
  void connection_closed(std::uint64_t connection_id);

  void on_watch_events(const json& events);
  void on_watch_error(const etcd_error& e);
  void start_watch(std::int64_t revision);
  void reload_view();

  void first_read(watch_id id);

  // ------------------------------------------------------------------ ticker: PX deadlines, probe
  // (etcd_store_ticker.cpp)
  void arm_expiry(const std::string& key, std::int64_t revision, std::uint64_t deadline_ms);
  void expire(const std::string& key, std::int64_t revision);
  void probe();
  void run_ticker();
};

}  // namespace edgemq::cluster
