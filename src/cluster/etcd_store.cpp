#include "cluster/etcd_store.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <variant>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/etcd_watch_stream.hpp"
#include "edgemq/mqtt/codec.hpp"
#include "edgemq/statestore/resp3.hpp"
#include "statestore/command.hpp"
#include "statestore/wire.hpp"

namespace edgemq::cluster {

using json = nlohmann::json;
using statestore::command;
using statestore::hlc;
using statestore::response;
namespace resp3 = statestore::resp3;
namespace err = statestore::err;

namespace {

constexpr std::int64_t pending_revision = std::numeric_limits<std::int64_t>::max();
constexpr int max_attempts = 16;  // decisions per request before giving up on a contended key
constexpr std::uint64_t admin_queue = ~std::uint64_t{0};

// The three etcd keys of one state store key, as read at one revision (0: absent).
struct key_state {
  std::int64_t v_mod = 0, m_mod = 0, ft_mod = 0;
  std::string value;
  std::optional<hlc> version, ft;
  std::optional<std::uint64_t> expires_at_ms;
  bool live(std::uint64_t now) const { return v_mod != 0 && !(expires_at_ms && *expires_at_ms <= now); }
};

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

std::string encode_meta(const hlc& version, std::optional<std::uint64_t> expires) {
  json m = {{"ts", version.to_string()}};
  if (expires) m["exp"] = *expires;
  return m.dump();
}

void decode_meta(const std::string& text, key_state& st) {
  auto m = json::parse(text, nullptr, false);
  if (!m.is_object()) return;
  if (auto ts = m.find("ts"); ts != m.end() && ts->is_string()) st.version = hlc::parse(ts->get<std::string>());
  if (auto exp = m.find("exp"); exp != m.end() && exp->is_number_unsigned())
    st.expires_at_ms = exp->get<std::uint64_t>();
}

json compare_unchanged(const std::string& key, std::int64_t mod) {
  if (mod == 0)
    return {{"key", etcd_client::b64(key)}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}};
  return {
      {"key", etcd_client::b64(key)}, {"target", "MOD"}, {"result", "EQUAL"}, {"mod_revision", std::to_string(mod)}};
}

json range_of(const std::string& key) {
  return {{"request_range", {{"key", etcd_client::b64(key)}}}};
}

json put_of(const std::string& key, std::string_view value, std::int64_t lease) {
  json p = {{"key", etcd_client::b64(key)}, {"value", etcd_client::b64(value)}};
  if (lease) p["lease"] = std::to_string(lease);
  return {{"request_put", p}};
}

json delete_of(const std::string& key) {
  return {{"request_delete_range", {{"key", etcd_client::b64(key)}}}};
}

void key_view::apply(const std::string& etcd_key, bool put, std::int64_t mod, const std::string& value) {
  const bool is_v = etcd_key.starts_with(vp), is_m = !is_v && etcd_key.starts_with(mp),
             is_ft = !is_v && !is_m && etcd_key.starts_with(fp);
  if (!is_v && !is_m && !is_ft) return;
  const auto key = etcd_key.substr(is_v ? vp.size() : is_m ? mp.size() : fp.size());
  auto it = keys.find(key);
  if (it == keys.end()) {
    if (!put) return;
    it = keys.emplace(key, key_state{}).first;
  }
  auto& st = it->second;
  if (!put) mod = 0;
  if (is_v) {
    if (st.v_mod) {
      --usage.keys;
      usage.bytes -= statestore::quota_usage::entry_bytes(key, st.value);
    }
    st.v_mod = mod;
    st.value = put ? value : std::string();
    if (st.v_mod) {
      ++usage.keys;
      usage.bytes += statestore::quota_usage::entry_bytes(key, st.value);
    }
  } else if (is_m) {
    st.m_mod = mod;
    st.version.reset();
    st.expires_at_ms.reset();
    if (put) decode_meta(value, st);
  } else {
    st.ft_mod = mod;
    st.ft = put ? hlc::parse(value) : std::nullopt;
  }
  if (!st.v_mod && !st.m_mod && !st.ft_mod) keys.erase(it);
}

std::optional<json> first_kv(const json& response) {
  const auto r = response.find("response_range");
  if (r == response.end()) return std::nullopt;
  const auto kvs = r->find("kvs");
  if (kvs == r->end() || !kvs->is_array() || kvs->empty()) return std::nullopt;
  return (*kvs)[0];
}

}  // namespace

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
  hlc tick(const hlc* seen = nullptr) {
    std::lock_guard g(clock_mu_);
    return clock_.tick(wall_ms_(), seen);
  }
  std::string last_version() {
    std::lock_guard g(clock_mu_);
    return clock_.last().to_string();
  }
  void observe(const std::optional<hlc>& v) {
    if (!v) return;
    std::lock_guard g(clock_mu_);
    if (clock_.last() < *v) clock_.tick(wall_ms_(), &*v);
  }

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

  key_state guess(const std::string& key) {
    std::lock_guard g(mirror_mu_);
    auto it = view_.keys.find(key);
    return it == view_.keys.end() ? key_state{} : it->second;
  }

  bool view_loaded() {
    std::lock_guard g(mirror_mu_);
    return view_loaded_;
  }

  // The view's count without `key`: a SET is judged on the other keys as this node has seen them
  // and on `key` as the request knows it (possibly read more recently than the view).
  statestore::quota_usage usage_without(const std::string& key) {
    std::lock_guard g(mirror_mu_);
    auto u = view_.usage;
    if (auto it = view_.keys.find(key); it != view_.keys.end() && it->second.v_mod) {
      --u.keys;
      u.bytes -= statestore::quota_usage::entry_bytes(key, it->second.value);
    }
    return u;
  }

  void mirror(const json& events) {
    std::lock_guard g(mirror_mu_);
    for (const auto& e : events) {
      const auto& kv = e.value("kv", json::object());
      const bool put = e.value("type", "PUT") == "PUT";
      view_.apply(etcd_client::unb64(kv.value("key", "")), put, put ? json_int(kv, "mod_revision") : 0,
                  put ? etcd_client::unb64(kv.value("value", "")) : std::string());
    }
  }

  // Reads every key of the store, at one revision and a page at a time, into a fresh view that
  // replaces the node's: the revision read, 0 when etcd could not be read. The watch must not be
  // applying events meanwhile (start, or the ticker with the watch cancelled); call_sync, so
  // never on the client's thread.
  std::int64_t load_view() {
    key_view fresh(opts_.prefix);
    const auto end = etcd_client::prefix_end(opts_.prefix);
    std::string from = opts_.prefix;
    std::int64_t revision = 0;
    for (;;) {
      json q = {
          {"key", etcd_client::b64(from)}, {"range_end", etcd_client::b64(end)}, {"limit", std::to_string(load_page)}};
      if (revision) q["revision"] = std::to_string(revision);
      auto [e, answer] = client_->call_sync("/v3/kv/range", std::move(q));
      if (e) {
        if (e.code == etcd_error::kind::unavailable) healthy_.store(false);
        if (log_) log_->warn("state store: cannot read its keys ({}); trying again", e.message);
        return 0;
      }
      if (!revision) revision = json_int(answer.value("header", json::object()), "revision");
      const auto kvs = answer.value("kvs", json::array());
      for (const auto& kv : kvs)
        fresh.apply(etcd_client::unb64(kv.value("key", "")), true, json_int(kv, "mod_revision"),
                    etcd_client::unb64(kv.value("value", "")));
      if (!answer.value("more", false) || kvs.empty()) break;
      from = etcd_client::unb64(kvs.back().value("key", "")) + std::string(1, '\0');
    }
    healthy_.store(true);
    std::lock_guard g(mirror_mu_);
    view_ = std::move(fresh);
    view_loaded_ = true;
    return revision;
  }

  // --- in-process watchers under watch_mu_
  std::mutex watch_mu_;
  std::atomic<watch_id> next_watch_{1};
  std::unordered_map<watch_id, watcher> watchers_;

  std::atomic<bool> healthy_{false};
  std::atomic<std::uint64_t> write_failures_{0};
  std::atomic<std::size_t> size_{0};
  broker::latency_histogram latency_;
  etcd_client::watch_id node_watch_ = 0;

  // ------------------------------------------------------------------ etcd calls
  // Every call is counted so that stop() can wait for the last callback.
  void call(std::string path, json body, std::function<void(const etcd_error&, json)> done) {
    {
      std::lock_guard g(mu_);
      ++in_flight_;
    }
    client_->call(std::move(path), std::move(body),
                  [self = shared_from_this(), done = std::move(done)](const etcd_error& e, json answer) {
                    if (!e)
                      self->healthy_.store(true);
                    else if (e.code == etcd_error::kind::unavailable)
                      self->healthy_.store(false);
                    done(e, std::move(answer));
                    std::lock_guard g(self->mu_);
                    if (--self->in_flight_ == 0) self->drained_.notify_all();
                  });
  }

  json read_txn(const std::string& key) const {
    return {{"success", json::array({range_of(v_key(key)), range_of(m_key(key)), range_of(ft_key(key))})}};
  }

  key_state parse_state(const json& answer) const {
    key_state st;
    const auto rs = answer.find("responses");
    if (rs == answer.end() || !rs->is_array() || rs->size() < 3) return st;
    if (auto kv = first_kv((*rs)[0])) {
      st.v_mod = json_int(*kv, "mod_revision");
      st.value = etcd_client::unb64(kv->value("value", ""));
    }
    if (auto kv = first_kv((*rs)[1])) {
      st.m_mod = json_int(*kv, "mod_revision");
      decode_meta(etcd_client::unb64(kv->value("value", "")), st);
    }
    if (auto kv = first_kv((*rs)[2])) {
      st.ft_mod = json_int(*kv, "mod_revision");
      st.ft = hlc::parse(etcd_client::unb64(kv->value("value", "")));
    }
    return st;
  }

  // ------------------------------------------------------------------ queues
  void enqueue(std::uint64_t queue_id, job j) {
    {
      std::lock_guard g(mu_);
      auto& q = queues_[queue_id];
      q.jobs.push_back(std::move(j));
      if (q.busy) return;
      q.busy = true;
    }
    pump(queue_id);
  }

  // Runs the queue's jobs in order; one that waits for etcd resumes the queue when answered.
  void pump(std::uint64_t queue_id) {
    for (;;) {
      job j;
      bool stopping = false;
      {
        std::lock_guard g(mu_);
        auto it = queues_.find(queue_id);
        if (it == queues_.end()) return;
        if (it->second.jobs.empty()) {
          queues_.erase(it);
          return;
        }
        j = std::move(it->second.jobs.front());
        it->second.jobs.pop_front();
        stopping = stopping_;
      }
      if (j.closed_only) {
        connection_closed(j.req.connection_id);
        continue;
      }
      auto o = std::make_shared<op>();
      o->j = std::move(j);
      if (stopping) {
        finish(o, {resp3::error(statestore::store::storage_error), std::nullopt}, true, false);
        continue;
      }
      if (!start(o, queue_id)) continue;  // answered without etcd
      return;
    }
  }

  // False when answered at once (a refused or local request).
  bool start(const std::shared_ptr<op>& o, std::uint64_t queue_id) {
    std::uint64_t denied = 0;
    auto parsed = statestore::parse_command(o->j.req, wall_ms_(), opts_.max_clock_skew_ms, auth_, denied);
    if (denied) {
      std::lock_guard g(mu_);
      stats_.denied += denied;
    }
    if (auto* refused = std::get_if<response>(&parsed)) {
      auto resp = std::move(*refused);
      if (!resp.version && statestore::is_set_request(o->j.req.payload)) resp.version = last_version();
      finish(o, std::move(resp), false, false);
      return false;
    }
    o->cmd = std::move(std::get<command>(parsed));
    if (o->cmd.op == command::verb::set || o->cmd.op == command::verb::del || o->cmd.op == command::verb::vdel)
      o->state = guess(o->cmd.key);  // not read: the guards of the first txn check it
    auto resume = [self = shared_from_this(), queue_id] { self->pump(queue_id); };
    switch (o->cmd.op) {
      case command::verb::keynotify_stop:
        finish(o, keynotify_stop(o->j.req, o->cmd.key), false, false);
        return false;
      case command::verb::keynotify:
        return keynotify(o, std::move(resume));
      case command::verb::get:
        read_then(o, std::move(resume));
        return true;
      case command::verb::set:
        if (o->cmd.px) {
          grant_then_decide(o, std::move(resume));
          return true;
        }
        [[fallthrough]];
      default:
        decide(o, std::move(resume));
        return true;
    }
  }

  void finish(const std::shared_ptr<op>& o, response resp, bool storage_failed, bool = true) {
    if (o->j.answer) {
      o->j.answer(resp, storage_failed);
    } else {
      statestore::publish_reply(broker_, o->j.response_topic, o->j.correlation_data, std::move(resp));
    }
    latency_.record(std::chrono::steady_clock::now() - o->j.arrived);
  }

  response unavailable_reply(const etcd_error& e, bool was_write) {
    if (was_write) write_failures_.fetch_add(1, std::memory_order_relaxed);
    if (log_) log_->warn("state store: {}", e.message);
    return {resp3::error(statestore::store::storage_error), std::nullopt};
  }

  // ------------------------------------------------------------------ GET
  void read_then(const std::shared_ptr<op>& o, std::function<void()> resume) {
    call("/v3/kv/txn", read_txn(o->cmd.key),
         [self = shared_from_this(), o, resume = std::move(resume)](const etcd_error& e, json answer) {
           if (e) {
             self->finish(o, self->unavailable_reply(e, false), true);
             return resume();
           }
           const auto st = self->parse_state(answer);
           self->observe(st.version);
           {
             std::lock_guard g(self->mu_);
             ++self->stats_.retrievals;
           }
           const auto now = self->wall_ms_();
           if (!st.live(now)) {
             if (st.v_mod) self->arm_expiry(o->cmd.key, st.v_mod, now);   // expired, not yet deleted
             self->finish(o, {resp3::null_bulk(), std::nullopt}, false);  // a miss carries no version
           } else {
             self->finish(o, {resp3::bulk(st.value), st.version ? st.version->to_string() : self->last_version()},
                          false);
           }
           resume();
         });
  }

  // ------------------------------------------------------------------ SET / DEL / VDEL
  void grant_then_decide(const std::shared_ptr<op>& o, std::function<void()> resume) {
    // The lease is the garbage collector of a PX key (its exact deadline is in the metadata):
    // it outlives the deadline, and etcd's minimum TTL is 2 s.
    const std::int64_t ttl = std::max<std::int64_t>(2, static_cast<std::int64_t>((*o->cmd.px + 999) / 1000) + 1);
    call("/v3/lease/grant", json{{"TTL", std::to_string(ttl)}},
         [self = shared_from_this(), o, resume = std::move(resume)](const etcd_error& e, json answer) mutable {
           o->lease = e ? 0 : json_int(answer, "ID");
           if (e || o->lease == 0) {
             self->finish(o, self->unavailable_reply(e ? e : etcd_error{etcd_error::kind::refused, "no lease"}, true),
                          true);
             return resume();
           }
           self->decide(o, std::move(resume));
         });
  }

  struct decision {
    response reply;
    json writes = json::array();
    bool insert = false, modify = false, remove = false;
    std::optional<std::uint64_t> expires_at_ms;
  };

  static decision refusal(response r) {
    decision d;
    d.reply = std::move(r);
    return d;
  }

  decision decide_set(op& o) {
    const auto now = wall_ms_();
    const auto& c = o.cmd;
    const auto& st = o.state;
    const bool live = st.live(now);
    const hlc* ts = c.ts ? &*c.ts : nullptr;
    decision d;
    if (live && st.ft) {
      if (!c.ft) return refusal({resp3::error(err::ft_required), last_version()});
      if (*c.ft < *st.ft) return refusal({resp3::error(err::ft_lower), last_version()});
    }
    if ((c.cond == command::condition::nx && live) ||
        (c.cond == command::condition::nex && live && st.value != c.value))
      return refusal({resp3::integer(-1), tick(ts).to_string()});
    // The quota (single node's rule) on this node's view of the other keys: writes it has not
    // seen yet (other nodes', or in flight through this one) are not counted, so concurrent
    // inserts can overshoot max_keys/max_bytes by those writes (docs/cluster.md).
    auto usage = usage_without(c.key);
    if (live) {
      ++usage.keys;
      usage.bytes += statestore::quota_usage::entry_bytes(c.key, st.value);
    }
    if (statestore::quota_exceeded(opts_.quota, usage, c.key, c.value,
                                   live ? std::optional<std::string_view>(st.value) : std::nullopt))
      return refusal({resp3::error(err::quota), last_version()});
    const auto version = tick(ts);
    std::optional<hlc> ft;
    if (live && st.ft)
      ft = std::max(*st.ft, *c.ft);
    else if (c.ft)
      ft = *c.ft;
    if (c.px) d.expires_at_ms = now + *c.px;
    d.writes.push_back(put_of(v_key(c.key), c.value, o.lease));
    d.writes.push_back(put_of(m_key(c.key), encode_meta(version, d.expires_at_ms), o.lease));
    if (ft)
      d.writes.push_back(put_of(ft_key(c.key), ft->to_string(), o.lease));
    else if (st.ft_mod)
      d.writes.push_back(delete_of(ft_key(c.key)));  // the token of an expired key went with it
    (live ? d.modify : d.insert) = true;
    d.reply = {resp3::ok(), version.to_string()};
    return d;
  }

  decision decide_del(op& o) {
    const auto now = wall_ms_();
    const auto& c = o.cmd;
    const auto& st = o.state;
    const hlc* ts = c.ts ? &*c.ts : nullptr;
    decision d;
    const auto erase_all = [&] {
      d.writes.push_back(delete_of(v_key(c.key)));
      d.writes.push_back(delete_of(m_key(c.key)));
      d.writes.push_back(delete_of(ft_key(c.key)));
    };
    if (!st.live(now)) {
      if (st.v_mod || st.m_mod || st.ft_mod) erase_all();  // expired: gone now, its watchers told
      d.reply = {resp3::integer(0), tick(ts).to_string()};
      return d;
    }
    if (st.ft) {
      if (!c.ft) return refusal({resp3::error(err::ft_required), std::nullopt});
      if (*c.ft < *st.ft) return refusal({resp3::error(err::ft_lower), std::nullopt});
    }
    if (c.op == command::verb::vdel && st.value != c.value) return refusal({resp3::integer(-1), tick(ts).to_string()});
    const auto version = tick(ts);
    erase_all();
    d.remove = true;
    d.reply = {resp3::integer(1), version.to_string()};
    return d;
  }

  // Decides on what is known of the key and commits with guards on it; a guard that fails
  // brings the key's current state back, and the request is decided again on that.
  void decide(const std::shared_ptr<op>& o, std::function<void()> resume) {
    if (++o->attempts > max_attempts) {
      if (o->lease) client_->revoke_lease(o->lease);
      finish(o, unavailable_reply({etcd_error::kind::unavailable, "a key kept changing under the request"}, true),
             true);
      return resume();
    }
    if (o->cmd.op == command::verb::set && !view_loaded()) {  // the quota cannot be judged yet
      if (o->lease) client_->revoke_lease(o->lease);
      finish(o, unavailable_reply({etcd_error::kind::unavailable, "the keys have not been read yet"}, true), true);
      return resume();
    }
    auto d = o->cmd.op == command::verb::set ? decide_set(*o) : decide_del(*o);
    if (d.writes.empty() && o->state_read) {
      if (o->lease) client_->revoke_lease(o->lease);
      finish(o, std::move(d.reply), false);
      return resume();
    }
    const auto& k = o->cmd.key;
    json txn = {{"compare",
                 json::array({compare_unchanged(v_key(k), o->state.v_mod), compare_unchanged(m_key(k), o->state.m_mod),
                              compare_unchanged(ft_key(k), o->state.ft_mod)})},
                {"success", d.writes},
                {"failure", read_txn(k)["success"]}};
    const bool writes = !d.writes.empty();
    call("/v3/kv/txn", std::move(txn),
         [self = shared_from_this(), o, d = std::move(d), writes, resume = std::move(resume)](const etcd_error& e,
                                                                                              json answer) mutable {
           if (e) {
             if (o->lease) self->client_->revoke_lease(o->lease);
             self->finish(o, self->unavailable_reply(e, writes), true);
             return resume();
           }
           if (!answer.value("succeeded", false)) {
             o->state = self->parse_state(answer);
             o->state_read = true;
             self->observe(o->state.version);
             return self->decide(o, std::move(resume));
           }
           if (o->lease && !d.expires_at_ms) self->client_->revoke_lease(o->lease);
           {
             std::lock_guard g(self->mu_);
             self->stats_.insertions += d.insert;
             self->stats_.modifications += d.modify;
             self->stats_.deletions += d.remove;
           }
           const auto rev = json_int(answer.value("header", json::object()), "revision");
           if (d.expires_at_ms) self->arm_expiry(o->cmd.key, rev, *d.expires_at_ms);
           if (!writes) {
             self->finish(o, std::move(d.reply), false);
             return resume();
           }
           self->after_watch(rev, [self, o, reply = std::move(d.reply), resume = std::move(resume)]() mutable {
             self->finish(o, std::move(reply), false);
             resume();
           });
         });
  }

  void after_watch(std::int64_t revision, std::function<void()> f) {
    {
      std::lock_guard g(mu_);
      if (watch_seen_ < revision && !stopping_) {
        after_watch_.emplace(revision, std::make_pair(std::chrono::steady_clock::now() + watch_wait, std::move(f)));
        return;
      }
    }
    f();
  }

  // Waiters up to `revision` (all of them when `revision` is max), and those waiting too long.
  void release_waiters(std::int64_t revision) {
    std::vector<std::function<void()>> ready;
    {
      std::lock_guard g(mu_);
      if (revision > watch_seen_) watch_seen_ = revision;
      const auto now = std::chrono::steady_clock::now();
      for (auto it = after_watch_.begin(); it != after_watch_.end();) {
        if (it->first <= watch_seen_ || it->second.first <= now || stopping_) {
          ready.push_back(std::move(it->second.second));
          it = after_watch_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& f : ready) f();
  }

  // ------------------------------------------------------------------ KEYNOTIFY
  response keynotify_stop(const statestore::request& r, const std::string& key) {
    std::lock_guard g(mu_);
    ++stats_.keynotify_requests;
    auto it = keynotify_.find(key);
    if (it == keynotify_.end() || !it->second.contains(r.client_id)) return {resp3::integer(0), std::nullopt};
    const auto conn = it->second[r.client_id].connection;
    it->second.erase(r.client_id);
    if (it->second.empty()) keynotify_.erase(it);
    by_connection_[conn].erase({key, r.client_id});
    return {resp3::ok(), std::nullopt};
  }

  // Registers at once (changes seen from now on are held), then reads the current revision R
  // linearizably: changes after R are the watcher's, the held ones up to R are not.
  bool keynotify(const std::shared_ptr<op>& o, std::function<void()> resume) {
    const auto& r = o->j.req;
    const auto& key = o->cmd.key;
    {
      std::lock_guard g(mu_);
      ++stats_.keynotify_requests;
    }
    if (statestore::notification_topic_size(r.client_id, key) > mqtt::max_field_length) {
      finish(o, {resp3::error(err::notify_too_long), std::nullopt}, false);
      return false;
    }
    {
      std::lock_guard g(mu_);
      auto& by_client = keynotify_[key];
      auto existing = by_client.find(r.client_id);
      if (existing != by_client.end() && existing->second.min_revision != pending_revision) {
        // Already watching: only the connection changes.
        if (existing->second.connection != r.connection_id)
          by_connection_[existing->second.connection].erase({key, r.client_id});
        existing->second.connection = r.connection_id;
        by_connection_[r.connection_id].insert({key, r.client_id});
        finish(o, {resp3::ok(), std::nullopt}, false);
        return false;
      }
      auto& reg = by_client[r.client_id];
      reg.connection = r.connection_id;
      by_connection_[r.connection_id].insert({key, r.client_id});
    }
    call(
        "/v3/kv/range", json{{"key", etcd_client::b64(v_key(key))}, {"count_only", true}},
        [self = shared_from_this(), o, resume = std::move(resume)](const etcd_error& e, json answer) {
          const auto& key = o->cmd.key;
          const auto& client = o->j.req.client_id;
          std::vector<change> held;
          {
            std::lock_guard g(self->mu_);
            auto k = self->keynotify_.find(key);
            auto reg = k == self->keynotify_.end() ? decltype(k->second.end()){} : k->second.find(client);
            if (k != self->keynotify_.end() && reg != k->second.end() && reg->second.min_revision == pending_revision) {
              if (e) {
                self->by_connection_[reg->second.connection].erase({key, client});
                k->second.erase(reg);
                if (k->second.empty()) self->keynotify_.erase(k);
              } else {
                reg->second.min_revision = json_int(answer.value("header", json::object()), "revision") + 1;
                for (auto& ch : reg->second.held)
                  if (ch.revision >= reg->second.min_revision) held.push_back(std::move(ch));
                reg->second.held.clear();
              }
            }
          }
          if (e) {
            self->finish(o, self->unavailable_reply(e, false), true);
            return resume();
          }
          self->finish(o, {resp3::ok(), std::nullopt}, false);
          for (auto& ch : held) self->send_notification(client, ch);
          resume();
        });
    return true;
  }

  void send_notification(const std::string& client, const change& ch) {
    statestore::notification n;
    n.client_id = client;
    n.key = ch.key;
    n.version = ch.version;
    n.payload = ch.value ? resp3::request({"NOTIFY", "SET", "VALUE", *ch.value}) : resp3::request({"NOTIFY", "DELETE"});
    {
      std::lock_guard g(mu_);
      ++stats_.notifications;
    }
    statestore::deliver_notification(broker_, std::move(n));
  }

  void connection_closed(std::uint64_t connection_id) {
    std::lock_guard g(mu_);
    auto it = by_connection_.find(connection_id);
    if (it == by_connection_.end()) return;
    for (const auto& [key, client] : it->second) {
      auto w = keynotify_.find(key);
      if (w == keynotify_.end()) continue;
      if (auto c = w->second.find(client); c != w->second.end() && c->second.connection == connection_id)
        w->second.erase(c);
      if (w->second.empty()) keynotify_.erase(w);
    }
    by_connection_.erase(it);
  }

  // ------------------------------------------------------------------ the node's watch
  void on_watch_events(const json& events) {
    healthy_.store(true);
    mirror(events);
    const std::string vp = opts_.prefix + "v/", mp = opts_.prefix + "m/";
    std::map<std::pair<std::string, std::int64_t>, std::optional<hlc>> versions;  // from ss/m/ puts
    for (const auto& e : events) {
      const auto& kv = e.value("kv", json::object());
      auto key = etcd_client::unb64(kv.value("key", ""));
      if (!key.starts_with(mp) || e.value("type", "PUT") != "PUT") continue;
      key_state st;
      decode_meta(etcd_client::unb64(kv.value("value", "")), st);
      versions[{key.substr(mp.size()), json_int(kv, "mod_revision")}] = st.version;
    }
    std::vector<change> changes;
    for (const auto& e : events) {
      const auto& kv = e.value("kv", json::object());
      auto key = etcd_client::unb64(kv.value("key", ""));
      if (!key.starts_with(vp)) continue;
      change ch;
      ch.key = key.substr(vp.size());
      ch.revision = json_int(kv, "mod_revision");
      std::optional<hlc> version;
      if (e.value("type", "PUT") == "PUT") {
        ch.value = etcd_client::unb64(kv.value("value", ""));
        if (auto it = versions.find({ch.key, ch.revision}); it != versions.end()) version = it->second;
      }
      observe(version);
      ch.version = version ? version->to_string() : tick().to_string();  // a deletion has no stored version
      changes.push_back(std::move(ch));
    }
    std::int64_t last = 0;
    for (const auto& e : events) last = std::max(last, json_int(e.value("kv", json::object()), "mod_revision"));
    if (changes.empty()) return release_waiters(last);
    std::vector<std::pair<std::string, const change*>> to_send;
    {
      std::lock_guard g(mu_);
      for (auto& ch : changes) {
        auto it = keynotify_.find(ch.key);
        if (it == keynotify_.end()) continue;
        for (auto& [client, reg] : it->second) {
          if (reg.min_revision == pending_revision)
            reg.held.push_back(ch);
          else if (ch.revision >= reg.min_revision)
            to_send.emplace_back(client, &ch);
        }
      }
    }
    for (const auto& [client, ch] : to_send) send_notification(client, *ch);
    {
      std::lock_guard g(watch_mu_);
      for (auto& [id, w] : watchers_)
        for (const auto& ch : changes) {
          if (ch.key != w.key) continue;
          if (w.min_revision == pending_revision)
            w.held.push_back(ch);
          else if (ch.revision >= w.min_revision)
            w.changed(ch.value);
        }
    }
    release_waiters(last);
  }

  void on_watch_error(const etcd_error& e) {
    if (e.code == etcd_error::kind::unavailable) {
      healthy_.store(false);
      if (log_) log_->warn("state store: {} (resuming)", e.message);
    } else {
      // Compacted past the last revision seen: changes in between cannot be told, and the view
      // (the quota's count) may have missed some: it is read again.
      if (log_)
        log_->error("state store: {}; KEYNOTIFY resumes from now, changes in the gap are not notified", e.message);
      {
        std::lock_guard g(mu_);
        reload_view_ = true;
        reload_at_ = std::chrono::steady_clock::now();
      }
      ticker_cv_.notify_all();
    }
  }

  // The node's watch, from `revision` (0: now).
  void start_watch(std::int64_t revision) {
    std::weak_ptr<impl> weak = shared_from_this();
    node_watch_ = client_->watch(
        opts_.prefix, etcd_client::prefix_end(opts_.prefix), revision,
        [weak](const json& events, std::int64_t) {
          if (auto self = weak.lock()) self->on_watch_events(events);
        },
        [weak](const etcd_error& e) {
          if (auto self = weak.lock()) self->on_watch_error(e);
        });
  }

  // Reads every key and watches from there (the ticker, never with mu_ held): at start when etcd
  // could not be read, and after a watch that could not resume. The old watch is cancelled first,
  // so that no change is applied or notified twice.
  void reload_view() {
    if (node_watch_) client_->cancel_watch(node_watch_);
    node_watch_ = 0;
    const auto revision = load_view();
    if (!revision) {
      std::lock_guard g(mu_);
      reload_view_ = true;
      reload_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      return;
    }
    start_watch(revision + 1);
    release_waiters(revision);
  }

  // ------------------------------------------------------------------ in-process watches
  void first_read(watch_id id) {
    std::string key;
    {
      std::lock_guard g(watch_mu_);
      auto it = watchers_.find(id);
      if (it == watchers_.end()) return;
      key = it->second.key;
    }
    call("/v3/kv/txn", read_txn(key), [self = shared_from_this(), id](const etcd_error& e, json answer) {
      if (e) {
        std::lock_guard g(self->mu_);
        self->watch_retries_.push_back(id);  // the ticker tries again
        return;
      }
      const auto st = self->parse_state(answer);
      const auto rev = json_int(answer.value("header", json::object()), "revision");
      std::lock_guard g(self->watch_mu_);
      auto it = self->watchers_.find(id);
      if (it == self->watchers_.end()) return;
      auto& w = it->second;
      w.min_revision = rev + 1;
      w.changed(st.live(self->wall_ms_()) ? std::optional<std::string>(st.value) : std::nullopt);
      for (const auto& ch : w.held)
        if (ch.revision > rev) w.changed(ch.value);
      w.held.clear();
    });
  }

  // ------------------------------------------------------------------ ticker: PX deadlines, probe
  void arm_expiry(const std::string& key, std::int64_t revision, std::uint64_t deadline_ms) {
    {
      std::lock_guard g(mu_);
      expiries_.emplace(deadline_ms, std::make_pair(key, revision));
    }
    ticker_cv_.notify_all();
  }

  void expire(const std::string& key, std::int64_t revision) {
    // Deleted only if unchanged since the SET that set the deadline: a later SET keeps it.
    json txn = {{"compare", json::array({compare_unchanged(v_key(key), revision)})},
                {"success", json::array({delete_of(v_key(key)), delete_of(m_key(key)), delete_of(ft_key(key))})}};
    call("/v3/kv/txn", std::move(txn), [self = shared_from_this(), key, revision](const etcd_error& e, json answer) {
      if (e) {
        if (e.code == etcd_error::kind::unavailable) self->arm_expiry(key, revision, self->wall_ms_() + 1000);
        return;
      }
      if (answer.value("succeeded", false)) {
        std::lock_guard g(self->mu_);
        ++self->stats_.deletions;
      }
    });
  }

  void probe() {
    call("/v3/kv/range",
         json{{"key", etcd_client::b64(opts_.prefix + "v/")},
              {"range_end", etcd_client::b64(etcd_client::prefix_end(opts_.prefix + "v/"))},
              {"count_only", true}},
         [self = shared_from_this()](const etcd_error& e, json answer) {
           if (!e) self->size_.store(static_cast<std::size_t>(json_int(answer, "count")));
         });
  }

  void run_ticker() {
    auto next_probe = std::chrono::steady_clock::now();
    std::unique_lock lk(mu_);
    while (!stopping_) {
      const auto now = wall_ms_();
      std::vector<std::pair<std::string, std::int64_t>> due;
      while (!expiries_.empty() && expiries_.begin()->first <= now) {
        due.push_back(std::move(expiries_.begin()->second));
        expiries_.erase(expiries_.begin());
      }
      auto retries = std::move(watch_retries_);
      watch_retries_.clear();
      const bool overdue =
          !after_watch_.empty() && std::any_of(after_watch_.begin(), after_watch_.end(), [](const auto& w) {
            return w.second.first <= std::chrono::steady_clock::now();
          });
      if (overdue) {
        lk.unlock();
        release_waiters(0);
        lk.lock();
        continue;
      }
      const bool probe_now = std::chrono::steady_clock::now() >= next_probe;
      const bool reload_now = reload_view_ && std::chrono::steady_clock::now() >= reload_at_;
      if (reload_now) reload_view_ = false;
      if (!due.empty() || !retries.empty() || probe_now || reload_now) {
        lk.unlock();
        if (reload_now) reload_view();
        for (auto& [key, rev] : due) expire(key, rev);
        for (auto id : retries) first_read(id);
        if (probe_now) {
          probe();
          next_probe = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        }
        lk.lock();
        continue;
      }
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_probe - std::chrono::steady_clock::now());
      if (!expiries_.empty())
        wait = std::min(wait,
                        std::chrono::milliseconds(expiries_.begin()->first > now ? expiries_.begin()->first - now : 0));
      if (!after_watch_.empty()) wait = std::min(wait, std::chrono::milliseconds(100));
      if (reload_view_)
        wait = std::min(
            wait, std::chrono::duration_cast<std::chrono::milliseconds>(reload_at_ - std::chrono::steady_clock::now()));
      ticker_cv_.wait_for(lk, std::max(wait, std::chrono::milliseconds(1)));
    }
  }
};

// -------------------------------------------------------------------------------------------

etcd_store::etcd_store(broker::broker& br, std::shared_ptr<etcd_client> client, etcd_store_options opts,
                       std::shared_ptr<spdlog::logger> log, statestore::key_authorizer auth,
                       std::function<std::uint64_t()> wall_ms)
    : client_(std::move(client)),
      impl_(std::make_shared<impl>(br, client_.get(), std::move(opts), std::move(log), std::move(auth),
                                   std::move(wall_ms))) {
  br.services().add(std::string(statestore::request_topic), this);
}

etcd_store::~etcd_store() {
  stop();
}

void etcd_store::start() {
  auto& s = *impl_;
  // Every key read at one revision (the view: first guesses and the quota's count), then one
  // watch per node on every key of the store from the next: KEYNOTIFY and in-process watchers of
  // every key are served from it. Until etcd answers, SETs get the storage error and the ticker
  // tries again every second.
  if (const auto revision = s.load_view()) {
    s.start_watch(revision + 1);
  } else {
    std::lock_guard g(s.mu_);
    s.reload_view_ = true;
    s.reload_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  }
  s.ticker_ = std::thread([&s] { s.run_ticker(); });
  if (s.log_) s.log_->info("state store: in etcd (cluster node '{}')", s.opts_.node_id);
}

void etcd_store::stop() {
  auto& s = *impl_;
  {
    std::lock_guard g(s.mu_);
    if (s.stopping_ && !s.ticker_.joinable()) return;
    s.stopping_ = true;
  }
  s.ticker_cv_.notify_all();
  if (s.ticker_.joinable()) s.ticker_.join();
  if (s.node_watch_) s.client_->cancel_watch(s.node_watch_);
  s.node_watch_ = 0;
  // Every call ends within the client's request timeout; its callback may still publish a reply.
  {
    std::unique_lock lk(s.mu_);
    s.drained_.wait(lk, [&s] { return s.in_flight_ == 0; });
  }
  s.release_waiters(0);  // stopping: every reply still waiting for the watch goes now
}

mqtt::reason_code etcd_store::on_publish(const broker::publish_context& ctx, mqtt::publish& p) {
  mqtt::reason_code refusal{};
  auto in = statestore::read_request(ctx, p, refusal, impl_->log_.get());
  if (!in) return refusal;
  impl::job j;
  j.req = std::move(in->req);
  j.response_topic = std::move(in->response_topic);
  j.correlation_data = std::move(in->correlation_data);
  j.arrived = std::chrono::steady_clock::now();
  const auto conn = j.req.connection_id;
  impl_->enqueue(conn, std::move(j));
  return mqtt::reason_code::success;
}

void etcd_store::on_connection_closed(std::string_view client_id, std::uint64_t connection_id) {
  impl::job j;
  j.closed_only = true;
  j.req.client_id = std::string(client_id);
  j.req.connection_id = connection_id;
  impl_->enqueue(connection_id, std::move(j));
}

void etcd_store::submit(operator_request r, std::function<void(operator_reply)> done) {
  auto& s = *impl_;
  if (r.op != operator_request::verb::list) {
    impl::job j;
    j.req = statestore::operator_request_as(r, s.wall_ms_());
    j.arrived = std::chrono::steady_clock::now();
    j.answer = [r = std::move(r), done = std::move(done)](const response& resp, bool failed) {
      done(statestore::operator_reply_from(r, resp, failed));
    };
    return s.enqueue(admin_queue, std::move(j));
  }
  // list: one linearizable txn reads the page's values and their metadata.
  const std::string vp = s.opts_.prefix + "v/", mp = s.opts_.prefix + "m/";
  std::string from = r.prefix;
  if (!r.after.empty() && r.after >= from) from = r.after + std::string(1, '\0');
  const auto end = etcd_client::prefix_end(r.prefix);
  const auto range = [&](const std::string& p) {
    json q = {{"key", etcd_client::b64(p + from)},
              {"range_end", etcd_client::b64(r.prefix.empty() ? etcd_client::prefix_end(p) : p + end)},
              {"limit", std::to_string(r.limit + 1)}};
    return json{{"request_range", q}};
  };
  json txn = {{"success", json::array({range(vp), range(mp)})}};
  s.call("/v3/kv/txn", std::move(txn),
         [self = impl_, r = std::move(r), done = std::move(done), vp, mp](const etcd_error& e, json answer) {
           operator_reply out;
           if (e) {
             out.code = operator_reply::status::unavailable;
             out.message = std::string(storage_error);
             return done(std::move(out));
           }
           const auto rs = answer.value("responses", json::array());
           std::map<std::string, key_state> meta;
           if (rs.size() > 1)
             for (const auto& kv : rs[1].value("response_range", json::object()).value("kvs", json::array()))
               decode_meta(etcd_client::unb64(kv.value("value", "")),
                           meta[etcd_client::unb64(kv.value("key", "")).substr(mp.size())]);
           const auto now = self->wall_ms_();
           if (!rs.empty()) {
             const auto& page = rs[0].value("response_range", json::object());
             for (const auto& kv : page.value("kvs", json::array())) {
               auto key = etcd_client::unb64(kv.value("key", "")).substr(vp.size());
               const auto& m = meta[key];
               if (m.expires_at_ms && *m.expires_at_ms <= now) continue;
               out.items.push_back({std::move(key), etcd_client::unb64(kv.value("value", "")),
                                    m.version ? m.version->to_string() : std::string()});
             }
             out.more = out.items.size() > r.limit || page.value("more", false);
             if (out.items.size() > r.limit) out.items.resize(r.limit);
           }
           done(std::move(out));
         });
}

etcd_store::watch_id etcd_store::watch(std::string key, watch_callback changed) {
  auto& s = *impl_;
  const watch_id id = s.next_watch_.fetch_add(1);
  {
    std::lock_guard g(s.watch_mu_);
    impl::watcher w;
    w.key = std::move(key);
    w.changed = std::move(changed);
    s.watchers_.emplace(id, std::move(w));
  }
  s.first_read(id);
  return id;
}

void etcd_store::unwatch(watch_id id) {
  std::lock_guard g(impl_->watch_mu_);
  impl_->watchers_.erase(id);
}

statestore::service_stats etcd_store::stats() const {
  std::lock_guard g(impl_->mu_);
  return impl_->stats_;
}

std::size_t etcd_store::size() const {
  return impl_->size_.load();
}

bool etcd_store::healthy() const noexcept {
  return impl_->healthy_.load();
}

std::uint64_t etcd_store::write_failures() const noexcept {
  return impl_->write_failures_.load();
}

const broker::latency_histogram& etcd_store::request_latency() const noexcept {
  return impl_->latency_;
}

}  // namespace edgemq::cluster
