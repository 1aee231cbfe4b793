#include "cluster/session_ownership.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <nats/nats.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "broker/log_safe.hpp"
#include "cluster/connection_security_impl.hpp"
#include "cluster/replicated_session_store.hpp"
#include "cluster/session_etcd_http.hpp"
#include "cluster/session_records.hpp"
#include "persistence/broker_records.hpp"

namespace edgemq::cluster {
namespace {

using json = nlohmann::json;
using b64 = session_etcd_http;

std::string take_subject(const std::string& node) {
  return "edgemq.sessions." + node + ".take";
}

std::int64_t to_i64(const json& v) {
  if (v.is_string()) return std::stoll(v.get<std::string>());
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return 0;
}

}  // namespace

struct session_ownership::impl {
  broker::broker& b;
  replicated_session_store& store;
  session_ownership_options opts;
  std::shared_ptr<spdlog::logger> log;

  std::atomic<std::int64_t> lease{0};
  std::mutex lease_mu;  // renew_lease(): one new lease for a lost one, whoever notices first
  natsConnection* nc = nullptr;
  natsSubscription* sub = nullptr;

  // Sync etcd clients for claims, one per concurrent claim (not thread-safe each).
  std::mutex adopt_mu;  // claim(): checking for a local session and restoring one are one step
  std::mutex pool_mu;
  std::vector<std::unique_ptr<session_etcd_http>> pool;

  // The janitor and this node's CONNECTs never work on one client id at once (begin_sweep()).
  std::mutex sweep_mu;
  std::condition_variable sweep_cv;
  std::set<std::string> sweeping;
  std::map<std::string, int> claiming;  // client id -> CONNECTs claiming it here

  std::mutex keeper_mu;
  std::condition_variable keeper_cv;
  bool stopping = false;
  std::thread keeper;

  impl(broker::broker& br, replicated_session_store& s, session_ownership_options o, std::shared_ptr<spdlog::logger> l)
      : b(br), store(s), opts(std::move(o)), log(std::move(l)) {}

  std::unique_ptr<session_etcd_http> take_client() {
    std::lock_guard g(pool_mu);
    if (pool.empty())
      return std::make_unique<session_etcd_http>(opts.etcd, std::chrono::milliseconds(2000), opts.security);
    auto c = std::move(pool.back());
    pool.pop_back();
    return c;
  }
  void give_back(std::unique_ptr<session_etcd_http> c) {
    std::lock_guard g(pool_mu);
    pool.push_back(std::move(c));
  }

  std::int64_t grant(session_etcd_http& etcd, std::string& error) {
    auto a = etcd.post("/v3/lease/grant", {{"TTL", opts.lease_ttl_s}}, &error);
    if (!a || !a->contains("ID")) {
      if (a) error = a->dump();
      return 0;
    }
    return to_i64((*a)["ID"]);
  }

  // The node's lease `stale` is gone from etcd (a cut longer than its TTL): grant a new one, unless
  // another thread did already. The client ids it held were released meanwhile; those still
  // connected here are fenced at their next write (replicated_session_store) and claim again.
  bool renew_lease(session_etcd_http& etcd, std::int64_t stale, std::string& error) {
    std::lock_guard g(lease_mu);
    if (lease.load() != stale) return true;
    const auto id = grant(etcd, error);
    if (!id) return false;
    lease = id;
    if (log) log->warn("cluster sessions: lease {} of node '{}' lost; granted {}", stale, opts.node, id);
    return true;
  }

  // Keeps the lease alive every ttl/3; a lease etcd no longer knows is granted anew (the client
  // ids it held were released meanwhile: their next CONNECT claims them again).
  void keep_alive() {
    session_etcd_http etcd(opts.etcd, std::chrono::milliseconds(1000), opts.security);
    const auto period = std::chrono::milliseconds(opts.lease_ttl_s * 1000 / 3);
    std::unique_lock g(keeper_mu);
    while (!keeper_cv.wait_for(g, period, [&] { return stopping; })) {
      g.unlock();
      try {
        keep_alive_once(etcd);
      } catch (const std::exception& e) {
        if (log) log->warn("cluster sessions: lease keep-alive: {}", e.what());
      }
      g.lock();
    }
  }

  struct ownership {
    bool already_mine = false;  // owned by this node under its current lease before this claim
    std::string previous;       // the node it was taken from (empty: none held it)
    std::string will_record;    // the client's will record when the key was taken (empty: none)
  };
  void keep_alive_once(session_etcd_http& etcd) {
    std::string error;
    const auto id = lease.load();
    auto a = etcd.post("/v3/lease/keepalive", {{"ID", std::to_string(id)}}, &error);
    const bool alive = a && a->contains("result") && to_i64(a->at("result").value("TTL", json("0"))) > 0;
    if (a && !alive) {
      if (!renew_lease(etcd, id, error) && log) log->warn("cluster sessions: cannot grant a new lease: {}", error);
    } else if (!a && log) {
      log->warn("cluster sessions: cannot keep the node's lease alive: {}", error);
    }
  }

  // Makes this node the owner of `client_id`. Nullopt: etcd could not be reached.
  std::optional<ownership> take_ownership(session_etcd_http& etcd, const std::string& client_id, std::string& error) {
    const auto key = b64::b64(session_owner_key(opts.root, client_id));
    const auto me = b64::b64(opts.node);
    const auto will_key = b64::b64(session_records_prefix(opts.root, client_id) + persistence::will_key(client_id));
    json compare = {{{"key", key}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}}};
    bool renewed = false;
    for (int attempt = 0; attempt < 5; ++attempt) {
      const auto my_lease = lease.load();
      const json put = {{"request_put", {{"key", key}, {"value", me}, {"lease", std::to_string(my_lease)}}}};
      // The will record as it was at the claim: an armed one is the previous connection's.
      const json read_will = {{"request_range", {{"key", will_key}}}};
      const json txn = {{"compare", compare},
                        {"success", json::array({put, read_will})},
                        {"failure", json::array({{{"request_range", {{"key", key}}}}})}};
      auto a = etcd.post("/v3/kv/txn", txn, &error);
      if (!a) return std::nullopt;
      if (a->contains("error")) {
        error = a->dump();
        // Back from a cut longer than the lease: the keeper would notice within a third of the
        // TTL; this CONNECT need not be refused meanwhile.
        if (!renewed && error.find("lease not found") != std::string::npos) {
          renewed = true;
          if (!renew_lease(etcd, my_lease, error)) return std::nullopt;
          --attempt;
          continue;
        }
        return std::nullopt;
      }
      if (a->value("succeeded", false)) {
        const auto prev = compare[0]["target"] == "VALUE" ? b64::unb64(compare[0]["value"].get<std::string>()) : "";
        ownership o{false, prev == opts.node ? std::string() : prev, {}};
        const auto responses = a->value("responses", json::array());
        if (responses.size() > 1)
          for (const auto& kv : responses.at(1).value("response_range", json::object()).value("kvs", json::array()))
            o.will_record = b64::unb64(kv.value("value", std::string()));
        return o;
      }
      // Someone owns it: take it from that owner (compare its name), unless it is this node
      // under its current lease already.
      const auto responses = a->value("responses", json::array());
      if (responses.empty()) continue;
      const auto kvs = responses.at(0).value("response_range", json::object()).value("kvs", json::array());
      if (kvs.empty()) {
        compare = {{{"key", key}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}}};
        continue;  // gone meanwhile (its lease ended)
      }
      const auto owner = kvs[0].value("value", std::string());
      if (b64::unb64(owner) == opts.node && to_i64(kvs[0].value("lease", json("0"))) == my_lease)
        return ownership{true, {}};
      compare = {{{"key", key}, {"target", "VALUE"}, {"result", "EQUAL"}, {"value", owner}}};
    }
    error = "the owner of the client id kept changing";
    return std::nullopt;
  }

  // Asks `node` to hand `client_id` over; false when it did not answer (dead, partitioned).
  bool ask_to_hand_over(const std::string& node, const std::string& client_id) {
    natsMsg* reply = nullptr;
    // "<this node>\0<client id>": the old owner writes its last changes while the owner key names
    // this node (no MQTT string holds U+0000, so the split is unambiguous).
    std::string request = opts.node;
    request += '\0';
    request += client_id;
    // The old owner may take takeover_timeout to write its last changes (hand_over): its answer
    // gets half as long again to arrive, so that a slow hand-over is not taken for a dead node
    // and the session read before those changes are in etcd.
    const auto wait = opts.takeover_timeout + opts.takeover_timeout / 2;
    const auto s = natsConnection_Request(&reply, nc, take_subject(node).c_str(), request.data(),
                                          static_cast<int>(request.size()), wait.count());
    if (reply) natsMsg_Destroy(reply);
    if (s != NATS_OK && log)
      log->warn("cluster sessions: node '{}' did not hand client '{}' over ({}); resuming from the replicated copy",
                node, log_safe(client_id), natsStatus_GetText(s));
    return s == NATS_OK;
  }

  // The client's replicated records into the local registry (none: a new session).
  // An armed will found at a claim (session_records.hpp): its connection ended with its node.
  // `orphaned`: that node did not hand the client over (dead, cut off), so nobody published it:
  // it goes now when the session ends with it (no session to resume, or a clean start) or has no
  // delay; a resumed session within its delay cancels it (MQTT-3.1.3-9). Handed over: the old
  // node published it when the connection closed. Either way its record is this node's to erase.
  void settle_armed_will(const std::string& client_id, broker::message_ptr will, std::uint32_t delay_s,
                         bool session_ends, bool orphaned) {
    if (!will || !orphaned) return;
    if (!session_ends && delay_s > 0) {
      if (log)
        log->info(
            "cluster sessions: will of client '{}' (its node went) cancelled: the session resumed within "
            "its delay",
            log_safe(client_id));
      return;
    }
    b.publish(will);
    if (log) log->info("cluster sessions: will of client '{}', whose node went, published", log_safe(client_id));
  }

  bool adopt(session_etcd_http& etcd, const std::string& client_id, bool orphaned, std::string& error) {
    const auto prefix = session_records_prefix(opts.root, client_id);
    auto a =
        etcd.post("/v3/kv/range",
                  {{"key", b64::b64(prefix)}, {"range_end", b64::b64(session_etcd_http::prefix_end(prefix))}}, &error);
    if (!a) return false;
    if (a->contains("error")) {
      error = a->dump();
      return false;
    }
    std::vector<std::pair<std::string, std::string>> records;
    for (const auto& kv : a->value("kvs", json::array()))
      records.emplace_back(b64::unb64(kv.value("key", std::string())).substr(prefix.size()),
                           b64::unb64(kv.value("value", std::string())));
    if (records.empty()) return true;
    // One pair of clock readings for every deadline of this session (durable_store.hpp).
    const auto now = b.now();
    const auto wall = broker::wall_now_ms();
    auto d = decode_session_records(client_id, records, now, wall);
    if (d.unreadable && log)
      log->warn("cluster sessions: {} unreadable records of client '{}' skipped", d.unreadable, log_safe(client_id));
    if (d.due_will) b.publish(d.due_will);
    const bool had_armed = d.armed_will != nullptr;
    settle_armed_will(client_id, std::move(d.armed_will), d.armed_delay_s, !d.session, orphaned);
    if (!d.session) {
      store.erase_session(client_id);  // ended (expired) or orphan records
      return true;
    }
    if (had_armed) store.disarm_will(client_id);  // its connection is gone
    store.adopt_local(*d.session);
    const auto n = d.session->messages.size();
    b.sessions().restore(std::move(*d.session), now, wall);
    if (log)
      log->info("cluster sessions: session of client '{}' resumed from the replicated copy ({} messages)",
                log_safe(client_id), n);
    return true;
  }

  static void on_take(natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<impl*>(closure);
    const std::string request(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    const auto split = request.find('\0');
    const auto requester = split == std::string::npos ? std::string() : request.substr(0, split);
    const auto client_id = split == std::string::npos ? request : request.substr(split + 1);
    bool had = false;
    try {  // nothing may unwind into libnats
      had = self->hand_over(client_id, requester);
    } catch (const std::exception& e) {
      if (self->log)
        self->log->error("cluster sessions: handing client '{}' over failed: {}", log_safe(client_id), e.what());
    }
    if (const char* reply = natsMsg_GetReply(msg)) {
      const std::string answer = had ? "handed-over" : "none";
      natsConnection_Publish(nc, reply, answer.data(), static_cast<int>(answer.size()));
    }
    natsMsg_Destroy(msg);
  }

  bool hand_over(const std::string& client_id, const std::string& new_owner) {
    const bool had = b.sessions().hand_over(client_id, mqtt::reason_code::session_taken_over);
    // What this node journaled for the session is in etcd before the new owner reads it. The new
    // owner holds the owner key already: these last writes are fenced against its name.
    if (!new_owner.empty()) store.begin_hand_over(client_id, new_owner);
    const bool flushed = store.flush(opts.takeover_timeout);
    if (!new_owner.empty()) store.end_hand_over(client_id);
    if (!flushed && log)
      log->warn("cluster sessions: etcd writes of client '{}' not flushed before its takeover", log_safe(client_id));
    if (had) {
      store.forget_local(client_id);
      if (log) log->info("cluster sessions: client '{}' taken over by another node", log_safe(client_id));
    }
    return had;
  }
};

session_ownership::session_ownership(broker::broker& b, replicated_session_store& store, session_ownership_options opts,
                                     std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<impl>(b, store, std::move(opts), std::move(log))) {
  // The session of a client this node no longer owns ends here (its connection gets 0x8E): the
  // client reconnects and claims it again, from etcd's copy, wherever it lands.
  store.fence_by_owner(
      impl_->opts.node,
      [&m = *impl_](const std::string& client_id, const std::string&) {
        if (m.b.sessions().hand_over(client_id, mqtt::reason_code::session_taken_over)) m.store.forget_local(client_id);
      },
      impl_->opts.takeover_timeout);
}

session_ownership::~session_ownership() {
  stop();
}

void session_ownership::start() {
  auto& m = *impl_;
  {
    session_etcd_http etcd(m.opts.etcd, std::chrono::milliseconds(3000), m.opts.security);
    std::string error;
    const auto id = m.grant(etcd, error);
    if (!id) throw std::runtime_error("cluster sessions: cannot grant the node's etcd lease: " + error);
    m.lease = id;
  }
  natsOptions* o = nullptr;
  natsOptions_Create(&o);
  std::vector<const char*> servers;
  for (const auto& s : m.opts.nats) servers.push_back(s.c_str());
  natsOptions_SetServers(o, servers.data(), static_cast<int>(servers.size()));
  natsOptions_SetMaxReconnect(o, -1);
  const auto name = "edgemq-sessions-" + m.opts.node;
  natsOptions_SetName(o, name.c_str());
  std::string security_error;
  auto s = apply_nats_security(o, m.opts.security, m.opts.nats, security_error);
  if (s != NATS_OK) {
    natsOptions_Destroy(o);
    stop();
    throw std::runtime_error("cluster sessions: NATS: " + security_error);
  }
  s = natsConnection_Connect(&m.nc, o);
  natsOptions_Destroy(o);
  if (s == NATS_OK) s = natsConnection_Subscribe(&m.sub, m.nc, take_subject(m.opts.node).c_str(), &impl::on_take, &m);
  if (s == NATS_OK) s = natsConnection_Flush(m.nc);
  if (s != NATS_OK) {
    stop();
    throw std::runtime_error(std::string("cluster sessions: cannot connect to NATS: ") + natsStatus_GetText(s));
  }
  m.keeper = std::thread([&m] { m.keep_alive(); });
}

void session_ownership::stop() {
  auto& m = *impl_;
  {
    std::lock_guard g(m.keeper_mu);
    m.stopping = true;
  }
  m.keeper_cv.notify_all();
  if (m.keeper.joinable()) m.keeper.join();
  if (m.sub) {
    natsSubscription_Unsubscribe(m.sub);
    natsSubscription_Destroy(m.sub);
    m.sub = nullptr;
  }
  if (m.nc) {
    natsConnection_Close(m.nc);
    natsConnection_Destroy(m.nc);
    m.nc = nullptr;
  }
  if (const auto id = m.lease.exchange(0)) {
    // Released at once rather than after the TTL: the clients reconnecting elsewhere need not wait.
    session_etcd_http etcd(m.opts.etcd, std::chrono::milliseconds(1000), m.opts.security);
    etcd.post("/v3/lease/revoke", {{"ID", std::to_string(id)}});
  }
}

broker::session_claim session_ownership::claim(const std::string& client_id, bool clean_start) {
  // An answer of an unexpected shape (nlohmann throws) refuses the CONNECT, never the process.
  try {
    return claim_or_throw(client_id, clean_start);
  } catch (const std::exception& e) {
    return {mqtt::reason_code::server_unavailable, std::string("cluster session directory: ") + e.what()};
  }
}

broker::session_claim session_ownership::claim_or_throw(const std::string& client_id, bool clean_start) {
  auto& m = *impl_;
  {
    std::unique_lock g(m.sweep_mu);
    m.sweep_cv.wait(g, [&] { return !m.sweeping.contains(client_id); });
    ++m.claiming[client_id];
  }
  struct claimed {
    impl& m;
    const std::string& id;
    ~claimed() {
      std::lock_guard g(m.sweep_mu);
      if (--m.claiming[id] == 0) m.claiming.erase(id);
    }
  } claiming{m, client_id};
  auto etcd = m.take_client();
  std::string error;
  broker::session_claim out;
  const auto prev = m.take_ownership(*etcd, client_id, error);
  if (!prev) {
    m.give_back(std::move(etcd));
    return {mqtt::reason_code::server_unavailable, "cluster session directory unavailable: " + error};
  }
  const bool handed_over = !prev->previous.empty() && m.ask_to_hand_over(prev->previous, client_id);
  const bool orphaned = !prev->already_mine && !handed_over;
  // Two CONNECTs of one client id on this node at once: one of them restores the session.
  std::lock_guard local(m.adopt_mu);
  if (!prev->already_mine && m.b.sessions().find(client_id)) {
    // A local session this node did not own: restored from its disk after a restart, or kept
    // through a lost lease. etcd's copy is the one every acknowledged change went to.
    m.b.sessions().hand_over(client_id, mqtt::reason_code::session_taken_over);
    m.store.forget_local(client_id);
  }
  if (m.b.sessions().find(client_id)) {
    // Owned here already: the local attach resumes or replaces it.
  } else if (clean_start) {
    m.store.erase_session(client_id);  // a copy left by a node that died
    if (auto w = decode_armed_will(client_id, prev->will_record, m.b.now()))
      m.settle_armed_will(client_id, std::move(w->will), w->delay_s, true, orphaned);
  } else if (!m.adopt(*etcd, client_id, orphaned, error)) {
    out = {mqtt::reason_code::server_unavailable, "cannot read the replicated session: " + error};
  }
  m.give_back(std::move(etcd));
  return out;
}

void session_ownership::arm_will(const std::string& client_id, const broker::message& will, std::uint32_t delay_s) {
  impl_->store.arm_will(client_id, will, delay_s);
}

void session_ownership::disarm_will(const std::string& client_id) {
  impl_->store.disarm_will(client_id);
}

bool session_ownership::hand_over(const std::string& client_id, const std::string& new_owner) {
  return impl_->hand_over(client_id, new_owner);
}

std::int64_t session_ownership::lease() const {
  return impl_->lease.load();
}

bool session_ownership::begin_sweep(const std::string& client_id) {
  std::lock_guard g(impl_->sweep_mu);
  if (impl_->claiming.contains(client_id)) return false;
  impl_->sweeping.insert(client_id);
  return true;
}

void session_ownership::end_sweep(const std::string& client_id) {
  {
    std::lock_guard g(impl_->sweep_mu);
    impl_->sweeping.erase(client_id);
  }
  impl_->sweep_cv.notify_all();
}

}  // namespace edgemq::cluster
