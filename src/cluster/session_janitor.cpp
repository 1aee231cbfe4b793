#include "cluster/session_janitor.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "broker/durable_store.hpp"
#include "broker/log_safe.hpp"
#include "cluster/session_etcd_http.hpp"
#include "cluster/session_records.hpp"
#include "persistence/broker_records.hpp"

namespace edgemq::cluster {
namespace {

using json = nlohmann::json;
using b64 = session_etcd_http;

constexpr std::int64_t page = 1000;  // keys per keys-only range read
constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();

std::int64_t to_i64(const json& v) {
  if (v.is_string()) return std::stoll(v.get<std::string>());
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return 0;
}

std::optional<std::string> unhex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// An etcd answer that is one (not an error); `error` says why not.
std::optional<json> ok(std::optional<json> a, std::string& error) {
  if (a && a->contains("error")) {
    error = a->dump().substr(0, 300);
    return std::nullopt;
  }
  return a;
}

// Every key under `prefix`, keys only, page by page; `each(key, mod_revision)`.
template <class F>
bool range_keys(session_etcd_http& etcd, const std::string& prefix, std::string& error, F each) {
  std::string from = prefix;
  const auto end = b64::b64(session_etcd_http::prefix_end(prefix));
  for (;;) {
    auto a = ok(etcd.post("/v3/kv/range",
                          {{"key", b64::b64(from)}, {"range_end", end}, {"keys_only", true}, {"limit", page}}, &error),
                error);
    if (!a) return false;
    const auto kvs = a->value("kvs", json::array());
    std::string last;
    for (const auto& kv : kvs) {
      last = b64::unb64(kv.value("key", std::string()));
      each(last, to_i64(kv.value("mod_revision", json("0"))));
    }
    if (!a->value("more", false) || kvs.empty()) return true;
    from = last + '\0';
  }
}

}  // namespace

session_janitor::session_janitor(session_janitor_options opts, std::shared_ptr<spdlog::logger> log)
    : opts_(std::move(opts)), log_(std::move(log)) {
  if (!opts_.wall_now) opts_.wall_now = [] { return broker::wall_now_ms(); };
  etcd_ = std::make_unique<session_etcd_http>(opts_.etcd, std::chrono::milliseconds(2000), opts_.security);
}

session_janitor::~session_janitor() {
  stop();
}

void session_janitor::start() {
  thread_ = std::thread([this] { run(); });
}

void session_janitor::stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void session_janitor::run() {
  std::unique_lock g(mu_);
  while (!cv_.wait_for(g, opts_.period, [&] { return stopping_; })) {
    g.unlock();
    try {  // an answer of an unexpected shape (nlohmann throws) costs one round, not the process
      const auto r = run_once();
      if (r.error && log_) log_->debug("cluster sessions: janitor round incomplete (etcd)");
    } catch (const std::exception& e) {
      if (log_) log_->warn("cluster sessions: janitor: {}", e.what());
    }
    g.lock();
  }
}

bool session_janitor::elect(session_etcd_http& etcd, std::int64_t lease) {
  const auto key = b64::b64(opts_.root + "janitor");
  const auto me = b64::b64(opts_.node);
  const json txn = {{"compare", {{{"key", key}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}}}},
                    {"success", {{{"request_put", {{"key", key}, {"value", me}, {"lease", std::to_string(lease)}}}}}},
                    {"failure", {{{"request_range", {{"key", key}}}}}}};
  std::string error;
  auto a = ok(etcd.post("/v3/kv/txn", txn, &error), error);
  if (!a) return false;
  if (a->value("succeeded", false)) {
    if (log_) log_->info("cluster sessions: node '{}' is the session janitor", opts_.node);
    return true;
  }
  const auto responses = a->value("responses", json::array());
  if (responses.empty()) return false;
  const auto kvs = responses.at(0).value("response_range", json::object()).value("kvs", json::array());
  // Held under this node's current lease: still the janitor. Under an older lease of this node
  // (lost, renewed since): that key goes with it; the next round elects again.
  return !kvs.empty() && kvs[0].value("value", std::string()) == me &&
         to_i64(kvs[0].value("lease", json("0"))) == lease;
}

bool session_janitor::list_records(session_etcd_http& etcd, std::map<std::string, seen>& out) {
  const auto prefix = opts_.root + "s/";
  std::string error;
  const bool done = range_keys(etcd, prefix, error, [&](const std::string& key, std::int64_t mod) {
    const auto slash = key.find('/', prefix.size());
    if (slash == std::string::npos) return;
    auto& s = out[key.substr(prefix.size(), slash - prefix.size())];
    s.max_mod_revision = std::max(s.max_mod_revision, mod);
    ++s.keys;
  });
  if (!done && log_) log_->warn("cluster sessions: janitor cannot list the sessions: {}", error);
  return done;
}

bool session_janitor::list_owned(session_etcd_http& etcd, std::vector<std::string>& owned_hex) {
  const auto prefix = opts_.root + "o/";
  std::string error;
  const bool done = range_keys(etcd, prefix, error, [&](const std::string& key, std::int64_t) {
    owned_hex.push_back(key.substr(prefix.size()));
  });
  if (!done && log_) log_->warn("cluster sessions: janitor cannot list the owners: {}", error);
  return done;
}

session_janitor::round session_janitor::run_once() {
  round r;
  auto& etcd = *etcd_;
  const auto lease = opts_.lease ? opts_.lease() : 0;
  if (!lease || !elect(etcd, lease)) {
    cache_.clear();  // another node's decisions may change what it holds
    return r;
  }
  r.elected = true;
  std::map<std::string, seen> records;
  std::vector<std::string> owned;
  // Owners after records: a client whose records appear between the two reads is owned by then.
  if (!list_records(etcd, records) || !list_owned(etcd, owned)) {
    r.error = true;
    return r;
  }
  std::sort(owned.begin(), owned.end());
  const auto wall = opts_.wall_now();
  for (auto it = cache_.begin(); it != cache_.end();)
    it = records.contains(it->first) ? std::next(it) : cache_.erase(it);
  for (const auto& [hex, now_seen] : records) {
    if (std::binary_search(owned.begin(), owned.end(), hex)) {
      cache_.erase(hex);  // its owner may change it
      continue;
    }
    ++r.unowned;
    if (const auto c = cache_.find(hex); c != cache_.end() && c->second.max_mod_revision == now_seen.max_mod_revision &&
                                         c->second.keys == now_seen.keys && wall < c->second.next_due_wall_ms)
      continue;  // nothing changed, nothing due
    {
      std::lock_guard g(mu_);
      if (stopping_) break;
    }
    examine(etcd, hex, now_seen, lease, r);
  }
  return r;
}

bool session_janitor::mark_disconnected(session_etcd_http& etcd, const std::string& client_id,
                                        broker::session_image& img, decoded_session& d, std::uint64_t wall,
                                        const nlohmann::json& still_mine, seen& s) {
  const auto prefix = session_records_prefix(opts_.root, client_id);
  json puts = json::array();
  auto marked = img;
  if (!marked.disconnected_wall_ms) {
    marked.disconnected_wall_ms = wall;
    puts.push_back({{"request_put",
                     {{"key", b64::b64(prefix + persistence::session_key(client_id))},
                      {"value", b64::b64(persistence::encode_session(marked))}}}});
  }
  // The armed will of that connection becomes a delayed will from the disconnect on.
  std::uint64_t will_at = 0;
  if (d.armed_will) {
    will_at = marked.disconnected_wall_ms + std::uint64_t{d.armed_delay_s} * 1000;
    const auto& props = d.armed_will->props;
    const auto expires =
        props->message_expiry_interval ? will_at + std::uint64_t{*props->message_expiry_interval} * 1000 : 0;
    if (auto value = persistence::encode_will_record(*d.armed_will, will_at, expires))
      puts.push_back({{"request_put",
                       {{"key", b64::b64(prefix + persistence::will_key(client_id))}, {"value", b64::b64(*value)}}}});
  }
  std::string error;
  const auto done = ok(etcd.post("/v3/kv/txn", {{"compare", still_mine}, {"success", puts}}, &error), error);
  if (!done || !done->value("succeeded", false)) {
    if (!done && log_)
      log_->warn("cluster sessions: janitor cannot mark client '{}' disconnected: {}", log_safe(client_id), error);
    return false;
  }
  img.disconnected_wall_ms = marked.disconnected_wall_ms;
  if (d.armed_will) {
    d.session->will = std::move(d.armed_will);
    d.session->will_at_wall_ms = will_at;
  }
  // Its own write changed the prefix: remembered, so the next round does not read it again.
  s.max_mod_revision = to_i64(done->value("header", json::object()).value("revision", json("0")));
  if (log_)
    log_->info("cluster sessions: client '{}' was connected when its node went: its session expiry runs from now",
               log_safe(client_id));
  return true;
}

void session_janitor::examine(session_etcd_http& etcd, const std::string& hex, seen now_seen, std::int64_t lease,
                              round& r) {
  const auto client_id = unhex(hex);
  if (!client_id) return;  // not a key this broker writes
  if (opts_.begin_sweep && !opts_.begin_sweep(*client_id)) return;
  struct local_guard {
    session_janitor_options& o;
    const std::string& id;
    ~local_guard() {
      if (o.end_sweep) o.end_sweep(id);
    }
  } guard{opts_, *client_id};

  std::string error;
  const auto owner_key = b64::b64(session_owner_key(opts_.root, *client_id));
  const auto me = b64::b64(opts_.node);
  // The claim, as a CONNECT makes it.
  auto claimed =
      ok(etcd.post(
             "/v3/kv/txn",
             {{"compare", {{{"key", owner_key}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}}}},
              {"success", {{{"request_put", {{"key", owner_key}, {"value", me}, {"lease", std::to_string(lease)}}}}}}},
             &error),
         error);
  if (!claimed) {
    r.error = true;
    if (log_) log_->warn("cluster sessions: janitor cannot claim client '{}': {}", log_safe(*client_id), error);
    return;
  }
  if (!claimed->value("succeeded", false)) return;  // a CONNECT claimed it since the scan
  const auto claim_rev = to_i64(claimed->value("header", json::object()).value("revision", json("0")));
  // Every change below holds only while the owner key is still this claim.
  const json still_mine = {
      {{"key", owner_key}, {"target", "MOD"}, {"result", "EQUAL"}, {"mod_revision", std::to_string(claim_rev)}}};
  const auto release = [&] {
    std::string e;
    if (!ok(etcd.post("/v3/kv/txn",
                      {{"compare", still_mine}, {"success", {{{"request_delete_range", {{"key", owner_key}}}}}}}, &e),
            e) &&
        log_)
      log_->warn("cluster sessions: janitor cannot release client '{}' (its lease will): {}", log_safe(*client_id), e);
  };
  ++r.examined;

  const auto prefix = session_records_prefix(opts_.root, *client_id);
  auto a =
      ok(etcd.post("/v3/kv/range",
                   {{"key", b64::b64(prefix)}, {"range_end", b64::b64(session_etcd_http::prefix_end(prefix))}}, &error),
         error);
  if (!a) {
    r.error = true;
    release();
    return;
  }
  std::vector<std::pair<std::string, std::string>> recs;
  for (const auto& kv : a->value("kvs", json::array()))
    recs.emplace_back(b64::unb64(kv.value("key", std::string())).substr(prefix.size()),
                      b64::unb64(kv.value("value", std::string())));
  const auto wall = opts_.wall_now();
  auto d = decode_session_records(*client_id, recs, broker::clock::now(), wall);
  if (opts_.after_claim) opts_.after_claim(*client_id);

  // The armed will of a connection whose session ended with it (no session record: it had no
  // expiry; or expired) is due now.
  if (!d.session && d.armed_will) d.due_will = std::move(d.armed_will);
  // What to delete: the whole session (expired, or records without a session that all decoded),
  // or only its due will.
  json del;
  const bool erase_all = d.expired || (!d.session && !recs.empty() && d.unreadable == 0);
  if (erase_all)
    del = {{"request_delete_range",
            {{"key", b64::b64(prefix)}, {"range_end", b64::b64(session_etcd_http::prefix_end(prefix))}}}};
  else if (d.due_will)
    del = {{"request_delete_range", {{"key", b64::b64(prefix + persistence::will_key(*client_id))}}}};

  if (del.is_null()) {
    seen s = now_seen;
    s.next_due_wall_ms = never;
    if (d.session) {
      auto& img = d.session->image;
      // Connected when its node died (no disconnect was journaled): it counts as disconnected from
      // now, so that its expiry runs and the session is swept once that passes.
      const bool was_connected = img.disconnected_wall_ms == 0;
      if ((d.armed_will || (img.expiry_interval != 0xFFFFFFFF && was_connected)) &&
          mark_disconnected(etcd, *client_id, img, d, wall, still_mine, s) && was_connected)
        ++r.marked;
      if (img.expiry_interval != 0xFFFFFFFF && img.disconnected_wall_ms)
        s.next_due_wall_ms = img.disconnected_wall_ms + std::uint64_t{img.expiry_interval} * 1000;
      if (d.session->will) s.next_due_wall_ms = std::min(s.next_due_wall_ms, d.session->will_at_wall_ms);
    }
    cache_[hex] = s;
    release();
    return;
  }
  auto done = ok(etcd.post("/v3/kv/txn", {{"compare", still_mine}, {"success", json::array({del})}}, &error), error);
  if (!done || !done->value("succeeded", false)) {
    if (done) {
      ++r.conflicts;
      if (log_)
        log_->info("cluster sessions: janitor left client '{}' to the node that claimed it", log_safe(*client_id));
    } else {
      r.error = true;
      if (log_) log_->warn("cluster sessions: janitor cannot change client '{}': {}", log_safe(*client_id), error);
    }
    release();
    return;
  }
  cache_.erase(hex);
  if (erase_all) {
    ++r.swept;
    ++swept_;
    if (log_)
      log_->info("cluster sessions: session of client '{}' {}; swept from etcd", log_safe(*client_id),
                 d.expired ? "expired while no node held it" : "had no session record");
  }
  if (d.due_will) {
    if (opts_.publish) opts_.publish(d.due_will);
    ++r.wills;
    ++wills_;
    if (log_) log_->info("cluster sessions: will of client '{}' published by the janitor", log_safe(*client_id));
  }
  release();
}

}  // namespace edgemq::cluster
