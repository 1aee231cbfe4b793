// The clock, and the node's view of the keys: read at start (and again when the watch could not
// resume), then kept by the node's watch (etcd_store_impl.hpp).
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cluster/etcd_store_impl.hpp"
#include "cluster/etcd_watch_stream.hpp"
#include "statestore/quota.hpp"

namespace edgemq::cluster {

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

// ------------------------------------------------------------------ clock (leaf lock)
hlc etcd_store::impl::tick(const hlc* seen) {
  std::lock_guard g(clock_mu_);
  return clock_.tick(wall_ms_(), seen);
}

std::string etcd_store::impl::last_version() {
  std::lock_guard g(clock_mu_);
  return clock_.last().to_string();
}

void etcd_store::impl::observe(const std::optional<hlc>& v) {
  if (!v) return;
  std::lock_guard g(clock_mu_);
  if (clock_.last() < *v) clock_.tick(wall_ms_(), &*v);
}

// ------------------------------------------------------------------ the node's view (leaf lock: mirror_mu_)
key_state etcd_store::impl::guess(const std::string& key) {
  std::lock_guard g(mirror_mu_);
  auto it = view_.keys.find(key);
  return it == view_.keys.end() ? key_state{} : it->second;
}

bool etcd_store::impl::view_loaded() {
  std::lock_guard g(mirror_mu_);
  return view_loaded_;
}

// The view's count without `key`: a SET is judged on the other keys as this node has seen them
// and on `key` as the request knows it (possibly read more recently than the view).
statestore::quota_usage etcd_store::impl::usage_without(const std::string& key) {
  std::lock_guard g(mirror_mu_);
  auto u = view_.usage;
  if (auto it = view_.keys.find(key); it != view_.keys.end() && it->second.v_mod) {
    --u.keys;
    u.bytes -= statestore::quota_usage::entry_bytes(key, it->second.value);
  }
  return u;
}

void etcd_store::impl::mirror(const json& events) {
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
std::int64_t etcd_store::impl::load_view() {
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

}  // namespace edgemq::cluster
