#include "cluster/replicated_session_store.hpp"

#include <algorithm>
#include <limits>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "broker/link.hpp"
#include "broker/log_safe.hpp"
#include "cluster/session_etcd_http.hpp"
#include "cluster/session_records.hpp"
#include "persistence/broker_records.hpp"

namespace edgemq::cluster {

using namespace persistence;

namespace {
// etcd's --max-txn-ops defaults to 128.
constexpr std::size_t max_txn_ops = 100;
// Changes looked at for one transaction, the superseded ones included.
constexpr std::size_t max_batched_ops = 4 * max_txn_ops;
// etcd's --max-request-bytes defaults to 1.5 MiB; base64 makes values 4/3 larger.
constexpr std::size_t max_txn_bytes = 768 * 1024;
}  // namespace

replicated_session_store::replicated_session_store(broker::durable_store* local, std::vector<std::string> etcd,
                                                   std::string root, std::shared_ptr<spdlog::logger> log,
                                                   const connection_security& security)
    : replicated_session_store(
          local,
          [client = std::make_shared<session_etcd_http>(std::move(etcd), std::chrono::milliseconds(1500), security)](
              const nlohmann::json& txn, std::string& error) {
            auto answer = client->post("/v3/kv/txn", txn, &error);
            if (answer && answer->contains("error")) {
              error = answer->dump();
              answer.reset();
            }
            return answer;
          },
          std::move(root), std::move(log)) {}

replicated_session_store::replicated_session_store(broker::durable_store* local, txn_writer writer, std::string root,
                                                   std::shared_ptr<spdlog::logger> log,
                                                   std::chrono::milliseconds write_deadline)
    : local_(local),
      writer_(std::move(writer)),
      root_(std::move(root)),
      log_(std::move(log)),
      write_deadline_(write_deadline) {}

replicated_session_store::~replicated_session_store() {
  stop();
}

void replicated_session_store::fence_by_owner(std::string node, fenced_handler fenced,
                                              std::chrono::milliseconds hand_over_grace) {
  node_ = std::move(node);
  fenced_ = std::move(fenced);
  hand_over_grace_ = hand_over_grace;
}

void replicated_session_store::start() {
  thread_ = std::thread([this] { run(); });
}

void replicated_session_store::stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string replicated_session_store::key_of(const std::string& client_id, const std::string& record_key) const {
  return session_records_prefix(root_, client_id) + record_key;
}

std::uint64_t replicated_session_store::queue_locked(const std::string& client_id, std::vector<op> ops,
                                                     std::uint64_t inner_ticket) {
  const auto t = next_ticket_++;
  if (inner_ticket) inner_upto_ = inner_ticket;
  for (auto& o : ops) {
    o.ticket = t;
    o.client = client_id;
    ops_.push_back(std::move(o));
  }
  last_etcd_ticket_ = t;
  pending_.push_back({t, true, inner_upto_, inner_ticket});
  cv_.notify_all();
  return t;
}

std::uint64_t replicated_session_store::refused_locked(std::uint64_t inner_ticket) {
  const auto t = next_ticket_++;
  if (inner_ticket) inner_upto_ = inner_ticket;
  pending_.push_back({t, false, inner_upto_, inner_ticket});
  failed_.insert(t);
  cv_.notify_all();
  return t;
}

std::uint64_t replicated_session_store::local_only_locked(std::uint64_t inner_ticket) {
  if (inner_ticket == 0) return 0;
  const auto t = next_ticket_++;
  inner_upto_ = inner_ticket;
  pending_.push_back({t, false, inner_upto_, inner_ticket});
  return t;
}

std::uint64_t replicated_session_store::save_session(const broker::session_image& s) {
  if (interest_) {
    std::vector<std::string> filters;
    filters.reserve(s.subscriptions.size());
    for (const auto& sub : s.subscriptions) filters.push_back(sub.filter);
    interest_(s.client_id, &filters);
  }
  std::lock_guard g(mu_);
  const auto inner = local_ ? local_->save_session(s) : 0;
  return queue_locked(
      s.client_id, {{op::kind::put, key_of(s.client_id, session_key(s.client_id)), encode_session(s), 0, {}}}, inner);
}

std::uint64_t replicated_session_store::erase_session(const std::string& c) {
  if (interest_) interest_(c, nullptr);
  std::lock_guard g(mu_);
  const auto inner = local_ ? local_->erase_session(c) : 0;
  const auto prefix = session_records_prefix(root_, c);
  return queue_locked(c, {{op::kind::erase_range, prefix, session_etcd_http::prefix_end(prefix), 0, {}}}, inner);
}

std::uint64_t replicated_session_store::put_message(const std::string& c, std::uint64_t seq, broker::stored_stage stage,
                                                    std::uint16_t packet_id, const broker::delivery& d) {
  const auto expires = d.msg->expires_at ? broker::to_wall_ms(*d.msg->expires_at, broker::clock::now()) : 0;
  auto value = encode_delivery(stage, packet_id, d, expires);
  std::lock_guard g(mu_);
  const auto inner = local_ ? local_->put_message(c, seq, stage, packet_id, d) : 0;
  if (!value) return refused_locked(inner);
  return queue_locked(c, {{op::kind::put, key_of(c, message_key(c, seq)), std::move(*value), 0, {}}}, inner);
}

std::uint64_t replicated_session_store::erase_message(const std::string& c, std::uint64_t seq) {
  std::lock_guard g(mu_);
  const auto inner = local_ ? local_->erase_message(c, seq) : 0;
  return queue_locked(c, {{op::kind::erase, key_of(c, message_key(c, seq)), {}, 0, {}}}, inner);
}

std::uint64_t replicated_session_store::put_inbound_qos2(const std::string& c, std::uint16_t id) {
  std::lock_guard g(mu_);
  const auto inner = local_ ? local_->put_inbound_qos2(c, id) : 0;
  return queue_locked(c, {{op::kind::put, key_of(c, qos2_key(c, id)), encode_qos2_record(), 0, {}}}, inner);
}

std::uint64_t replicated_session_store::erase_inbound_qos2(const std::string& c, std::uint16_t id) {
  std::lock_guard g(mu_);
  const auto inner = local_ ? local_->erase_inbound_qos2(c, id) : 0;
  return queue_locked(c, {{op::kind::erase, key_of(c, qos2_key(c, id)), {}, 0, {}}}, inner);
}

std::uint64_t replicated_session_store::put_retained(const broker::message& m) {
  std::lock_guard g(mu_);
  return local_ ? local_only_locked(local_->put_retained(m)) : 0;
}

std::uint64_t replicated_session_store::erase_retained(const std::string& topic) {
  std::lock_guard g(mu_);
  return local_ ? local_only_locked(local_->erase_retained(topic)) : 0;
}

std::uint64_t replicated_session_store::put_will(const std::string& c, const broker::message& will,
                                                 std::uint64_t at_wall_ms) {
  const auto expires = will.expires_at ? broker::to_wall_ms(*will.expires_at, broker::clock::now()) : 0;
  auto value = encode_will_record(will, at_wall_ms, expires);
  std::lock_guard g(mu_);
  const auto inner = local_ ? local_->put_will(c, will, at_wall_ms) : 0;
  if (!value) return refused_locked(inner);
  return queue_locked(c, {{op::kind::put, key_of(c, will_key(c)), std::move(*value), 0, {}}}, inner);
}

std::uint64_t replicated_session_store::erase_will(const std::string& c) {
  std::lock_guard g(mu_);
  const auto inner = local_ ? local_->erase_will(c) : 0;
  return queue_locked(c, {{op::kind::erase, key_of(c, will_key(c)), {}, 0, {}}}, inner);
}

std::uint64_t replicated_session_store::arm_will(const std::string& c, const broker::message& will,
                                                 std::uint32_t delay_s) {
  auto value = encode_will_record(will, armed_will_at(delay_s), 0);  // expiry counts from its publication
  std::lock_guard g(mu_);
  if (!value) return refused_locked(0);
  return queue_locked(c, {{op::kind::put, key_of(c, will_key(c)), std::move(*value), 0, {}}}, 0);
}

std::uint64_t replicated_session_store::disarm_will(const std::string& c) {
  std::lock_guard g(mu_);
  return queue_locked(c, {{op::kind::erase, key_of(c, will_key(c)), {}, 0, {}}}, 0);
}

std::uint64_t replicated_session_store::decided_locked() const {
  const auto inner_decided = local_ ? local_->decided() : 0;
  while (!pending_.empty()) {
    const auto& p = pending_.front();
    if (p.etcd && p.ticket > etcd_done_) break;
    if (p.inner_upto > inner_decided) break;
    if (p.remote && !p.settled) break;
    if ((p.etcd && etcd_failed_.contains(p.ticket)) || (p.inner && local_->outcome_of(p.inner) == outcome::failed) ||
        p.remote_failed)
      failed_.insert(p.ticket);
    decided_ = p.ticket;
    pending_.pop_front();
  }
  // Outcomes are asked right after their decision: old ones need not be kept.
  while (!failed_.empty() && *failed_.begin() + 100000 < decided_) failed_.erase(failed_.begin());
  return decided_;
}

std::uint64_t replicated_session_store::etcd_written_through_locked() const {
  // etcd parts are written in ticket order: the first one not written bounds the rest. A ticket
  // without an etcd part (a retained message, a local-only copy) never raises etcd_done_ itself,
  // so waiting for etcd_done_ >= ticket would never end for it.
  for (const auto& p : pending_)
    if ((p.etcd && p.ticket > etcd_done_) || (p.remote && !p.settled)) return p.ticket - 1;
  return std::numeric_limits<std::uint64_t>::max();
}

std::vector<std::pair<std::uint64_t, std::weak_ptr<broker::link>>>
replicated_session_store::take_ready_waiters_locked() {
  std::vector<std::pair<std::uint64_t, std::weak_ptr<broker::link>>> ready;
  const auto through = etcd_written_through_locked();
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->first <= through) {
      ready.push_back(std::move(*it));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  return ready;
}

std::uint64_t replicated_session_store::open_remote() {
  std::lock_guard g(mu_);
  const auto t = next_ticket_++;
  pending_.push_back({t, false, inner_upto_, 0, true});
  return t;
}

void replicated_session_store::settle_remote(std::uint64_t ticket, bool durable) {
  std::vector<std::pair<std::uint64_t, std::weak_ptr<broker::link>>> ready;
  {
    std::lock_guard g(mu_);
    for (auto& p : pending_) {
      if (p.ticket != ticket) continue;
      p.settled = true;
      p.remote_failed = !durable;
      break;
    }
    ready = take_ready_waiters_locked();
  }
  cv_.notify_all();
  // As the writer does: what is decided is notified at once, the rest handed to the local store.
  for (auto& [t, l] : ready) notify_when_decided(t, std::move(l));
}

std::uint64_t replicated_session_store::decided() const {
  std::lock_guard g(mu_);
  return decided_locked();
}

broker::durable_store::outcome replicated_session_store::outcome_of(std::uint64_t ticket) const {
  std::lock_guard g(mu_);
  if (ticket > decided_locked()) return outcome::pending;
  return failed_.contains(ticket) ? outcome::failed : outcome::durable;
}

void replicated_session_store::notify_when_decided(std::uint64_t ticket, std::weak_ptr<broker::link> l) {
  {
    std::lock_guard g(mu_);
    if (ticket > decided_locked()) {
      // Until every etcd part up to `ticket` is written and every remote one settled, the writer
      // thread (or settle_remote) keeps the link; after, what is left is the local store's,
      // which notifies itself.
      if (!local_ || ticket > etcd_written_through_locked()) {
        waiters_.emplace_back(ticket, std::move(l));
        return;
      }
      std::uint64_t upto = 0;
      for (const auto& p : pending_) {
        if (p.ticket > ticket) break;
        upto = p.inner_upto;
      }
      local_->notify_when_decided(upto, std::move(l));
      return;
    }
  }
  if (auto s = l.lock()) s->notify();
}

bool replicated_session_store::healthy() const {
  std::lock_guard g(mu_);
  return etcd_healthy_ && (!local_ || local_->healthy());
}

mqtt::reason_code replicated_session_store::refusal() const {
  if (local_ && !local_->healthy()) return local_->refusal();
  return mqtt::reason_code::unspecified_error;
}

bool replicated_session_store::flush(std::chrono::milliseconds timeout) {
  std::unique_lock g(mu_);
  const auto target = last_etcd_ticket_;
  return cv_.wait_for(g, timeout, [&] { return etcd_done_ >= target || stopping_; }) && etcd_done_ >= target;
}

void replicated_session_store::begin_hand_over(const std::string& client_id, std::string new_owner) {
  {
    std::lock_guard g(mu_);
    handing_over_[client_id] = std::move(new_owner);
  }
  cv_.notify_all();  // a writer in await_hand_over
}

bool replicated_session_store::await_hand_over(const std::string& client, const std::string& owner) {
  std::unique_lock g(mu_);
  ++hand_over_waits_;
  return cv_.wait_for(g, hand_over_grace_, [&] {
    const auto h = handing_over_.find(client);
    return stopping_ || (h != handing_over_.end() && h->second == owner);
  }) && !stopping_;
}

void replicated_session_store::end_hand_over(const std::string& client_id) {
  std::lock_guard g(mu_);
  handing_over_.erase(client_id);
}

void replicated_session_store::forget_local(const std::string& client_id) {
  if (interest_) interest_(client_id, nullptr);
  std::lock_guard g(mu_);
  if (local_) local_only_locked(local_->erase_session(client_id));
}

void replicated_session_store::adopt_local(const broker::session_registry::restored_session& s) {
  if (!local_) return;
  std::lock_guard g(mu_);
  const auto& c = s.image.client_id;
  local_only_locked(local_->erase_session(c));
  local_only_locked(local_->save_session(s.image));
  for (const auto& [stage, entry] : s.messages)
    local_only_locked(local_->put_message(c, entry.second.seq, stage, entry.first, entry.second));
  for (const auto id : s.inbound_qos2) local_only_locked(local_->put_inbound_qos2(c, id));
  if (s.will) local_only_locked(local_->put_will(c, *s.will, s.will_at_wall_ms));
}

std::uint64_t replicated_session_store::etcd_writes() const {
  std::lock_guard g(mu_);
  return writes_;
}

std::uint64_t replicated_session_store::etcd_failures() const {
  std::lock_guard g(mu_);
  return failures_;
}

std::uint64_t replicated_session_store::fenced_writes() const {
  std::lock_guard g(mu_);
  return fenced_writes_;
}

std::uint64_t replicated_session_store::hand_over_waits() const {
  std::lock_guard g(mu_);
  return hand_over_waits_;
}

nlohmann::json replicated_session_store::transaction(const std::vector<op>& batch, const std::vector<std::string>& skip,
                                                     std::vector<owner_check>& compared) const {
  using nlohmann::json;
  const auto b64 = [](std::string_view raw) { return session_etcd_http::b64(raw); };
  json success = json::array();
  compared.clear();
  {
    std::lock_guard g(mu_);
    for (const auto& o : batch) {
      if (node_.empty() || std::find(skip.begin(), skip.end(), o.client) != skip.end()) continue;
      if (std::find_if(compared.begin(), compared.end(), [&](const auto& c) { return c.first == o.client; }) !=
          compared.end())
        continue;
      const auto h = handing_over_.find(o.client);
      compared.emplace_back(o.client, h == handing_over_.end() ? node_ : h->second);
    }
  }
  for (const auto& o : batch) {
    if (o.superseded || std::find(skip.begin(), skip.end(), o.client) != skip.end()) continue;
    switch (o.k) {
      case op::kind::put:
        success.push_back({{"request_put", {{"key", b64(o.key)}, {"value", b64(o.value)}}}});
        break;
      case op::kind::erase:
        success.push_back({{"request_delete_range", {{"key", b64(o.key)}}}});
        break;
      case op::kind::erase_range:
        success.push_back({{"request_delete_range", {{"key", b64(o.key)}, {"range_end", b64(o.value)}}}});
        break;
    }
  }
  json body = {{"success", std::move(success)}};
  if (compared.empty()) return body;
  // Each client's owner key must name this node; when one does not, the failure branch reads
  // them all so the writer knows whose changes to refuse (a missing key compares unequal).
  json compare = json::array(), failure = json::array();
  for (const auto& [c, expected] : compared) {
    const auto owner = b64(session_owner_key(root_, c));
    compare.push_back({{"key", owner}, {"target", "VALUE"}, {"result", "EQUAL"}, {"value", b64(expected)}});
    failure.push_back({{"request_range", {{"key", owner}}}});
  }
  body["compare"] = std::move(compare);
  body["failure"] = std::move(failure);
  return body;
}

replicated_session_store::write_result replicated_session_store::write(const std::vector<op>& batch) {
  write_result out;
  std::vector<std::string> skip;     // the fenced clients
  std::vector<std::string> awaited;  // clients given their grace for a hand-over (once each)
  std::vector<owner_check> compared;
  const auto deadline = std::chrono::steady_clock::now() + write_deadline_;
  std::string error;
  for (int attempt = 0;; ++attempt) {
    const auto body = transaction(batch, skip, compared);
    if (body["success"].empty()) {
      out.written = true;  // every change in it was fenced
      return out;
    }
    if (auto answer = writer_(body, error)) {
      if (compared.empty() || answer->value("succeeded", false)) {
        out.written = true;
        return out;
      }
      // Some client is not ours (any more): refuse its changes, write the others'.
      const auto responses = answer->value("responses", nlohmann::json::array());
      bool found = false;
      for (std::size_t i = 0; i < compared.size() && i < responses.size(); ++i) {
        const auto kvs =
            responses[i].value("response_range", nlohmann::json::object()).value("kvs", nlohmann::json::array());
        const auto owner = kvs.empty() ? std::string() : session_etcd_http::unb64(kvs[0].value("value", std::string()));
        if (owner == compared[i].second) continue;
        const auto& client = compared[i].first;
        found = true;
        // Claimed by a node that is about to ask for it: compared against that node next time.
        if (!owner.empty() && std::find(awaited.begin(), awaited.end(), client) == awaited.end()) {
          awaited.push_back(client);
          if (await_hand_over(client, owner)) continue;
        }
        skip.push_back(client);
        out.fenced.emplace_back(client, owner);
      }
      if (found || attempt < 3) continue;  // not found: the owner changed back meanwhile; compare again
      error = "the owners of the clients kept changing";
    }
    if (std::chrono::steady_clock::now() + std::chrono::milliseconds(100) > deadline) break;
    {
      std::unique_lock g(mu_);
      if (stopping_ && attempt > 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * std::min(attempt + 1, 5)));
  }
  if (log_) log_->error("cluster sessions: cannot write {} changes to etcd: {}", batch.size(), error);
  return out;
}

void replicated_session_store::run() {
  std::vector<op> batch;
  batch.reserve(max_batched_ops);
  for (;;) {
    {
      std::unique_lock g(mu_);
      cv_.wait(g, [&] { return stopping_ || !ops_.empty(); });
      if (ops_.empty()) return;  // stopping, and everything written
      // One transaction: up to max_txn_ops changes, a range delete alone. etcd refuses a txn
      // that names a key twice, and a transaction applies whole: of several changes of one key
      // (a message queued, sent, acknowledged) only the last is sent, which leaves etcd as all
      // of them in order would. Without this a batch ended at the first repeated key, and a busy
      // persistent session wrote a few changes per round trip.
      std::unordered_map<std::string_view, std::size_t> last_of_key;
      batch.clear();
      std::size_t bytes = 0, effective = 0;
      while (!ops_.empty() && effective < max_txn_ops && batch.size() < max_batched_ops) {
        auto& o = ops_.front();
        bytes += o.key.size() + o.value.size();
        if (!batch.empty() && bytes > max_txn_bytes) break;
        if (o.k == op::kind::erase_range) {
          if (!batch.empty()) break;
          batch.push_back(std::move(o));
          ops_.pop_front();
          break;
        }
        batch.push_back(std::move(o));
        ops_.pop_front();
        // The key's view points into the op in `batch`, reserved once in run(): it never moves.
        auto [it, fresh] = last_of_key.try_emplace(batch.back().key, batch.size() - 1);
        if (fresh) {
          ++effective;
        } else {
          batch[it->second].superseded = true;
          it->second = batch.size() - 1;
        }
      }
    }
    auto result = write(batch);
    const bool ok = result.written;
    std::vector<std::pair<std::uint64_t, std::weak_ptr<broker::link>>> ready;
    {
      std::lock_guard g(mu_);
      ++writes_;
      if (!ok) {
        ++failures_;
        for (const auto& o : batch) etcd_failed_.insert(o.ticket);
      }
      for (const auto& o : batch) {
        const auto fenced = std::find_if(result.fenced.begin(), result.fenced.end(),
                                         [&](const auto& f) { return f.first == o.client; });
        if (fenced == result.fenced.end()) continue;
        etcd_failed_.insert(o.ticket);
        ++fenced_writes_;
      }
      etcd_healthy_ = ok;
      etcd_done_ = std::max(etcd_done_, batch.back().ticket);
      while (!etcd_failed_.empty() && *etcd_failed_.begin() + 100000 < etcd_done_)
        etcd_failed_.erase(etcd_failed_.begin());
      ready = take_ready_waiters_locked();
    }
    cv_.notify_all();
    // Outside the mutex: notify_when_decided notifies at once what is decided and hands the rest
    // to the local store.
    for (auto& [t, l] : ready) notify_when_decided(t, std::move(l));
    for (const auto& [client, owner] : result.fenced) {
      if (log_ && owner.empty())
        log_->warn("cluster sessions: changes of client '{}' refused: no node owns it (this node's lease lapsed)",
                   log_safe(client));
      else if (log_)
        log_->warn("cluster sessions: changes of client '{}' refused: node '{}' owns it now", log_safe(client),
                   log_safe(owner));
      if (fenced_) fenced_(client, owner);
    }
  }
}

}  // namespace edgemq::cluster
