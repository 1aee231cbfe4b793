// SET, DEL and VDEL: decided on what is known of the key, committed by one txn guarded by the mod
// revisions of its three etcd keys, answered once the node's watch has seen the write
// (etcd_store_impl.hpp).
#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "cluster/etcd_store_impl.hpp"
#include "cluster/etcd_watch_stream.hpp"
#include "statestore/quota.hpp"

namespace edgemq::cluster {

namespace {

constexpr int max_attempts = 16;  // decisions per request before giving up on a contended key

}  // namespace

// ------------------------------------------------------------------ SET / DEL / VDEL
void etcd_store::impl::grant_then_decide(const std::shared_ptr<op>& o, std::function<void()> resume) {
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

etcd_store::impl::decision etcd_store::impl::refusal(response r) {
  decision d;
  d.reply = std::move(r);
  return d;
}

etcd_store::impl::decision etcd_store::impl::decide_set(op& o) {
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
  if ((c.cond == command::condition::nx && live) || (c.cond == command::condition::nex && live && st.value != c.value))
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

etcd_store::impl::decision etcd_store::impl::decide_del(op& o) {
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
void etcd_store::impl::decide(const std::shared_ptr<op>& o, std::function<void()> resume) {
  if (++o->attempts > max_attempts) {
    if (o->lease) client_->revoke_lease(o->lease);
    finish(o, unavailable_reply({etcd_error::kind::unavailable, "a key kept changing under the request"}, true), true);
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
  json txn = {
      {"compare", json::array({compare_unchanged(v_key(k), o->state.v_mod), compare_unchanged(m_key(k), o->state.m_mod),
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

void etcd_store::impl::after_watch(std::int64_t revision, std::function<void()> f) {
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
void etcd_store::impl::release_waiters(std::int64_t revision) {
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

}  // namespace edgemq::cluster
