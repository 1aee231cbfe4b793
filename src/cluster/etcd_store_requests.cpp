// A request's way through the store: every etcd call counted, the per-connection queues that answer
// a client's requests in order, and GET (etcd_store_impl.hpp).
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cluster/etcd_store_impl.hpp"
#include "cluster/etcd_watch_stream.hpp"
#include "statestore/wire.hpp"

namespace edgemq::cluster {

// ------------------------------------------------------------------ etcd calls
// Every call is counted so that stop() can wait for the last callback.
void etcd_store::impl::call(std::string path, json body, std::function<void(const etcd_error&, json)> done) {
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

json etcd_store::impl::read_txn(const std::string& key) const {
  return {{"success", json::array({range_of(v_key(key)), range_of(m_key(key)), range_of(ft_key(key))})}};
}

key_state etcd_store::impl::parse_state(const json& answer) const {
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
void etcd_store::impl::enqueue(std::uint64_t queue_id, job j) {
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
void etcd_store::impl::pump(std::uint64_t queue_id) {
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
bool etcd_store::impl::start(const std::shared_ptr<op>& o, std::uint64_t queue_id) {
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

void etcd_store::impl::finish(const std::shared_ptr<op>& o, response resp, bool storage_failed, bool) {
  if (o->j.answer) {
    o->j.answer(resp, storage_failed);
  } else {
    statestore::publish_reply(broker_, o->j.response_topic, o->j.correlation_data, std::move(resp));
  }
  latency_.record(std::chrono::steady_clock::now() - o->j.arrived);
}

response etcd_store::impl::unavailable_reply(const etcd_error& e, bool was_write) {
  if (was_write) write_failures_.fetch_add(1, std::memory_order_relaxed);
  if (log_) log_->warn("state store: {}", e.message);
  return {resp3::error(statestore::store::storage_error), std::nullopt};
}

// ------------------------------------------------------------------ GET
void etcd_store::impl::read_then(const std::shared_ptr<op>& o, std::function<void()> resume) {
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
           self->finish(o, {resp3::bulk(st.value), st.version ? st.version->to_string() : self->last_version()}, false);
         }
         resume();
       });
}

}  // namespace edgemq::cluster
