// The ticker thread: deletes keys at their PX deadline, probes etcd every second (healthy(), size()),
// retries in-process watches' first reads, releases replies that waited too long for the watch and
// reads every key again when the watch could not resume (etcd_store_impl.hpp).
#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "cluster/etcd_store_impl.hpp"
#include "cluster/etcd_watch_stream.hpp"

namespace edgemq::cluster {

// ------------------------------------------------------------------ ticker: PX deadlines, probe
void etcd_store::impl::arm_expiry(const std::string& key, std::int64_t revision, std::uint64_t deadline_ms) {
  {
    std::lock_guard g(mu_);
    expiries_.emplace(deadline_ms, std::make_pair(key, revision));
  }
  ticker_cv_.notify_all();
}

void etcd_store::impl::expire(const std::string& key, std::int64_t revision) {
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

void etcd_store::impl::probe() {
  call("/v3/kv/range",
       json{{"key", etcd_client::b64(opts_.prefix + "v/")},
            {"range_end", etcd_client::b64(etcd_client::prefix_end(opts_.prefix + "v/"))},
            {"count_only", true}},
       [self = shared_from_this()](const etcd_error& e, json answer) {
         if (!e) self->size_.store(static_cast<std::size_t>(json_int(answer, "count")));
       });
}

void etcd_store::impl::run_ticker() {
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
    const bool overdue = !after_watch_.empty() &&
                         std::any_of(after_watch_.begin(), after_watch_.end(),
                                     [](const auto& w) { return w.second.first <= std::chrono::steady_clock::now(); });
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

}  // namespace edgemq::cluster
