#include "statestore/engine.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"
#include "edgemq/statestore/resp3.hpp"
#include "statestore/wire.hpp"

namespace edgemq::statestore {

std::uint64_t system_wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

engine::engine(broker::broker& br, std::unique_ptr<backend> b, service_limits lim, std::shared_ptr<spdlog::logger> log,
               key_authorizer auth, std::function<std::uint64_t()> wall_ms)
    : broker_(br),
      backend_(std::move(b)),
      log_(std::move(log)),
      wall_ms_(wall_ms ? std::move(wall_ms) : system_wall_ms),
      svc_(std::move(lim), wall_ms_, auth),
      fast_reads_(!auth),
      inline_writes_(!backend_->syncs()) {
  max_clock_skew_ms_ = svc_.limits().max_clock_skew_ms;
  effects fx;
  svc_.enable_undo_journal();
  if (auto ec = svc_.load(*backend_, fx)) throw std::runtime_error("state store: cannot load keys: " + ec.message());
  if (!fx.writes.empty()) {
    if (auto ec = backend_->apply(fx.writes))
      throw std::runtime_error("state store: cannot remove expired keys: " + ec.message());
    if (log_) log_->info("state store: {} keys expired while the broker was down", fx.writes.size());
  }
  svc_.keep_changes();
  svc_.for_each([this](const std::string& key, const key_record& rec) {
    index_.put(key, {resp3::bulk(rec.value), rec.version.to_string(), rec.expires_at_ms.value_or(0)});
  });
  size_snapshot_ = svc_.size();
  if (log_) log_->info("state store: {} keys loaded", svc_.size());
  broker_.services().add(std::string(request_topic), this);
}

engine::~engine() {
  stop();
}

void engine::start() {
  if (pipelined()) syncer_ = std::thread([this] { run_syncer(); });
  thread_ = std::thread([this] { run(); });
}

void engine::stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard g(sync_mu_);
    sync_stopping_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();  // after answering what was written
}

mqtt::reason_code engine::on_publish(const broker::publish_context& ctx, mqtt::publish& p) {
  mqtt::reason_code refusal{};
  auto in = read_request(ctx, p, refusal, log_.get());
  if (!in) return refusal;
  if (fast_reads_ && pending_.load() == 0) {
    const auto arrived = std::chrono::steady_clock::now();
    if (fast_get(ctx, *in)) {
      request_latency_.record(std::chrono::steady_clock::now() - arrived);
      return mqtt::reason_code::success;
    }
  }
  job j;
  j.req = std::move(in->req);
  j.response_topic = std::move(in->response_topic);
  j.correlation_data = std::move(in->correlation_data);
  j.arrived = std::chrono::steady_clock::now();
  if (inline_writes_ && pending_.load() == 0 && healthy()) {
    std::optional<std::uint64_t> next;
    bool done = false;
    {
      std::lock_guard e(exec_mu_);
      if (pending_.load() == 0) {  // still nothing queued ahead of it: a batch of one, here
        std::deque<job> one;
        one.push_back(std::move(j));
        process(one);
        next = svc_.next_expiry_ms();
        done = true;
      }
    }
    if (done) {
      if (next) {  // an expiry earlier than the engine thread's next wake-up: wake it
        std::lock_guard g(mu_);
        if (wake_at_ms_ == 0 || *next < wake_at_ms_) {
          rearm_ = true;
          cv_.notify_one();
        }
      }
      return mqtt::reason_code::success;
    }
  }
  enqueue(std::move(j));
  return mqtt::reason_code::success;
}

void engine::enqueue(job j) {
  pending_.fetch_add(1);
  {
    std::lock_guard g(mu_);
    queue_.push_back(std::move(j));
  }
  cv_.notify_one();
}

bool engine::fast_get(const broker::publish_context& ctx, const incoming& in) {
  const auto parts = resp3::parse_request(in.req.payload);
  if (!parts || parts->size() != 2) return false;
  const auto verb = (*parts)[0];
  if (verb.size() != 3 || (verb[0] | 0x20) != 'g' || (verb[1] | 0x20) != 'e' || (verb[2] | 0x20) != 't') return false;
  const auto key = (*parts)[1];
  if (key.empty() || (ctx.permissions && !ctx.permissions->may_read_key(key))) return false;  // the engine says why
  for (const auto* v : {&in.req.timestamp, &in.req.fencing_token}) {
    if (!*v) continue;
    // A GET checks its timestamps as any request does; a bad one is answered by the engine.
    const auto t = hlc::parse(**v);
    if (!t || t->wall_ms > wall_ms_() + max_clock_skew_ms_) return false;
  }
  read_index::entry e;
  const bool found = index_.get(key, e);
  if (found && e.expires_at_ms != 0 && e.expires_at_ms <= wall_ms_()) return false;  // the engine expires it
  fast_retrievals_.fetch_add(1, std::memory_order_relaxed);
  if (found)
    publish_reply(broker_, in.response_topic, in.correlation_data, response{std::move(e.reply), std::move(e.version)});
  else
    publish_reply(broker_, in.response_topic, in.correlation_data, response{resp3::null_bulk(), std::nullopt});
  return true;
}

void engine::on_connection_closed(std::string_view client_id, std::uint64_t connection_id) {
  job j;
  j.closed_only = true;
  j.req.client_id = std::string(client_id);
  j.req.connection_id = connection_id;
  enqueue(std::move(j));
}

void engine::submit(operator_request r, std::function<void(operator_reply)> done) {
  job j;
  j.arrived = std::chrono::steady_clock::now();
  j.req = operator_request_as(r, wall_ms_());
  j.op =
      std::make_shared<std::pair<operator_request, std::function<void(operator_reply)>>>(std::move(r), std::move(done));
  enqueue(std::move(j));
}

engine::watch_id engine::watch(std::string key, watch_callback changed) {
  const watch_id id = next_watch_.fetch_add(1);
  {
    std::lock_guard g(watch_mu_);
    pending_watches_.emplace(id, watcher{std::move(key), std::move(changed)});
  }
  job j;
  j.watch = id;
  j.arrived = std::chrono::steady_clock::now();
  enqueue(std::move(j));
  return id;
}

void engine::unwatch(watch_id id) {
  std::lock_guard g(watch_mu_);
  watchers_.erase(id);
  pending_watches_.erase(id);
}

void engine::notify_watchers(const std::vector<mutation>& stored, const std::vector<const job*>& new_watches) {
  std::lock_guard g(watch_mu_);
  const auto current = [this](const std::string& key) -> std::optional<std::string> {
    if (const auto* rec = svc_.peek(key)) return rec->value;
    return std::nullopt;
  };
  if (!watchers_.empty() && !stored.empty()) {
    // The value this batch stored (a later batch may be executed already, not yet stored).
    std::unordered_map<std::string_view, const std::optional<key_record>*> changed;
    for (const auto& m : stored) changed[m.key] = &m.record;
    for (auto& [id, w] : watchers_)
      if (const auto it = changed.find(w.key); it != changed.end())
        w.changed(*it->second ? std::optional<std::string>((*it->second)->value) : std::nullopt);
  }
  // Registered after this batch's changes were told: a new watcher's first value already has them.
  for (const job* j : new_watches) {
    auto it = pending_watches_.find(j->watch);
    if (it == pending_watches_.end()) continue;  // unwatched before it was registered
    auto& w = watchers_.emplace(it->first, std::move(it->second)).first->second;
    pending_watches_.erase(it);
    w.changed(current(w.key));
  }
}

response engine::execute_operator(job& j, effects& fx) {
  const auto& r = j.op->first;
  if (r.op != operator_request::verb::list) return svc_.execute(j.req, fx);
  for (auto& [key, rec] : svc_.list(r.prefix, r.after, r.limit, j.listed.more))
    j.listed.items.push_back({std::move(key), rec->value, rec->version.to_string()});
  return {};
}

void engine::answer_operator(const job& j, const response& resp, bool failed) {
  const auto& [r, done] = *j.op;
  if (r.op == operator_request::verb::list && !failed) return done(j.listed);
  done(operator_reply_from(r, resp, failed));
}

void engine::run() {
  std::deque<job> batch;
  for (;;) {
    {
      std::lock_guard g(mu_);
      wake_at_ms_ = 0;  // recomputing: a fast path that adds an expiry meanwhile rearms the wait
    }
    std::optional<std::uint64_t> next;
    {
      std::lock_guard e(exec_mu_);
      next = svc_.next_expiry_ms();
    }
    {
      std::unique_lock lk(mu_);
      const auto pred = [&] { return stopping_ || !queue_.empty() || rearm_; };
      const auto now = wall_ms_();
      // Unhealthy: wake at least every retry interval to find out whether writes succeed again.
      if (!healthy()) next = std::min(next.value_or(~std::uint64_t{0}), now + retry_interval_ms);
      wake_at_ms_ = next.value_or(~std::uint64_t{0});
      if (next)
        cv_.wait_for(lk, std::chrono::milliseconds(*next > now ? *next - now : 0), pred);
      else
        cv_.wait(lk, pred);
      rearm_ = false;
      if (stopping_ && queue_.empty()) return;
      batch.swap(queue_);
    }
    // A watch's first value must not run ahead of the disk: no batch in the syncer's hands before
    // or after the one that registers it.
    const bool watches = pipelined() && std::any_of(batch.begin(), batch.end(), [](const job& j) { return j.watch; });
    if (watches) wait_syncer_drained();
    const auto n = batch.size();
    bool handed = false;
    {
      std::lock_guard e(exec_mu_);
      if (batch.empty() && !healthy()) retry_storage();
      handed = process(batch);
    }
    if (!handed) pending_.fetch_sub(n);
    if (watches) wait_syncer_drained();
    batch.clear();
  }
}

void engine::wait_syncer_drained() {
  std::unique_lock lk(sync_mu_);
  drained_cv_.wait(lk, [&] { return written_.empty() && !syncing_; });
}

void engine::run_syncer() {
  std::deque<executed_batch> to_sync;
  for (;;) {
    {
      std::unique_lock lk(sync_mu_);
      sync_cv_.wait(lk, [&] { return sync_stopping_ || !written_.empty(); });
      if (written_.empty()) return;  // stopping, and everything answered
      to_sync.swap(written_);
      syncing_ = true;
    }
    // One fsync for every batch written before it: those in `to_sync`.
    const bool wrote = std::any_of(to_sync.begin(), to_sync.end(),
                                   [](const executed_batch& b) { return b.stored && !b.fx.writes.empty(); });
    const auto ec = wrote ? backend_->sync() : std::error_code{};
    std::size_t jobs = 0;
    {
      std::lock_guard e(exec_mu_);
      if (ec) {
        // Every change not yet synced ran ahead of the disk: taken back, and the batches written
        // since (executed on top of these) fail with them.
        svc_.undo_changes();
        {
          std::lock_guard g(sync_mu_);
          for (auto& b : written_) to_sync.push_back(std::move(b));
          written_.clear();
        }
        for (auto& b : to_sync) b.stored = false;
        write_failures_.fetch_add(1, std::memory_order_relaxed);
        if (healthy_.exchange(false) && log_)
          log_->critical(
              "state store: sync of {} batches failed ({}): answering changes with an error until writes "
              "succeed",
              to_sync.size(), ec.message());
      } else {
        std::size_t kept = 0;
        for (const auto& b : to_sync) kept += b.changes;
        svc_.keep_oldest_changes(kept);
      }
      for (auto& b : to_sync) {
        answer(b);
        jobs += b.jobs.size();
      }
      std::lock_guard g(mu_);
      stats_snapshot_ = svc_.stats();
      size_snapshot_ = svc_.size();
    }
    pending_.fetch_sub(jobs);
    to_sync.clear();
    {
      std::lock_guard g(sync_mu_);
      syncing_ = false;
    }
    drained_cv_.notify_all();
  }
}

void engine::retry_storage() {
  if (backend_->probe()) return;
  healthy_.store(true);
  if (log_) log_->warn("state store: writes succeed again");
}

bool engine::process(std::deque<job>& jobs) {
  executed_batch b;
  execute(jobs, b);
  if (pipelined() && !syncer_idle_and_nothing_queued()) {
    b.jobs = std::move(jobs);  // the replies' job pointers stay valid: a deque's move keeps its elements
    {
      std::lock_guard g(sync_mu_);
      written_.push_back(std::move(b));
    }
    sync_cv_.notify_one();
    return true;
  }
  if (pipelined() && b.stored && !b.fx.writes.empty()) sync_here(b);
  if (b.stored) svc_.keep_changes();
  answer(b);
  std::lock_guard g(mu_);
  stats_snapshot_ = svc_.stats();
  size_snapshot_ = svc_.size();
  return false;
}

bool engine::syncer_idle_and_nothing_queued() {
  {
    std::lock_guard g(mu_);
    if (!queue_.empty()) return false;
  }
  std::lock_guard g(sync_mu_);
  return written_.empty() && !syncing_;
}

void engine::sync_here(executed_batch& b) {
  const auto ec = backend_->sync();
  if (!ec) return;
  // Nothing else is unsynced (the syncer is idle): only this batch's changes are taken back.
  svc_.undo_changes();
  b.stored = false;
  write_failures_.fetch_add(1, std::memory_order_relaxed);
  if (healthy_.exchange(false) && log_)
    log_->critical("state store: sync failed ({}): answering changes with an error until writes succeed", ec.message());
}

void engine::execute(std::deque<job>& jobs, executed_batch& b) {
  auto& fx = b.fx;
  auto& replies = b.replies;
  replies.reserve(jobs.size());
  const auto mark = svc_.changes_journaled();
  b.first_writer = jobs.size();
  for (auto& j : jobs) {
    if (j.watch != 0) {
      b.new_watches.push_back(&j);
      continue;
    }
    if (j.closed_only) {
      svc_.connection_closed(j.req.connection_id);
      continue;
    }
    replies.emplace_back(&j, j.op ? execute_operator(j, fx) : svc_.execute(j.req, fx));
    if (b.first_writer == jobs.size() && svc_.changes_journaled() > mark) b.first_writer = replies.size() - 1;
  }
  svc_.expire(fx);
  // One durable batch for everything this wake-up changed, before anything is answered. A batch
  // the disk refuses is taken back from memory and its requests are answered with an error: a
  // reply never reports (or shows) a change that is not stored.
  if (!fx.writes.empty()) {
    if (auto ec = pipelined() ? backend_->write_unsynced(fx.writes) : backend_->apply(fx.writes)) {
      b.stored = false;
      svc_.undo_changes_since(mark);
      write_failures_.fetch_add(1, std::memory_order_relaxed);
      if (healthy_.exchange(false) && log_)
        log_->critical(
            "state store: write of {} keys failed ({}): answering changes with an error until writes succeed",
            fx.writes.size(), ec.message());
    } else if (!pipelined() && !healthy_.exchange(true) && log_) {
      log_->warn("state store: writes succeed again");
    }
  }
  b.changes = svc_.changes_journaled() - mark;
}

void engine::answer(executed_batch& b) {
  auto& fx = b.fx;
  if (!b.stored) fx.notifications.clear();
  if (b.stored && !fx.writes.empty() && pipelined() && !healthy_.exchange(true) && log_)
    log_->warn("state store: writes succeed again");
  if (b.stored) {
    // The read index follows the disk: updated once the batch is stored, before any reply.
    for (const auto& m : fx.writes) {
      if (m.record)
        index_.put(m.key,
                   {resp3::bulk(m.record->value), m.record->version.to_string(), m.record->expires_at_ms.value_or(0)});
      else
        index_.erase(m.key);
    }
  }
  if (b.stored)
    notify_watchers(fx.writes, b.new_watches);
  else
    notify_watchers({}, b.new_watches);
  for (std::size_t i = 0; i < b.replies.size(); ++i) {
    auto& [j, resp] = b.replies[i];
    const bool refused = !b.stored && i >= b.first_writer;
    if (j->op) {
      answer_operator(*j, resp, refused);
      continue;
    }
    if (refused) {
      resp.payload = resp3::error(storage_error);
      resp.version.reset();
    }
    publish_reply(broker_, j->response_topic, j->correlation_data, std::move(resp));
    request_latency_.record(std::chrono::steady_clock::now() - j->arrived);
  }
  for (auto& n : fx.notifications) deliver_notification(broker_, std::move(n));
}

service_stats engine::stats() const {
  std::lock_guard g(mu_);
  auto st = stats_snapshot_;
  st.retrievals += fast_retrievals_.load(std::memory_order_relaxed);
  return st;
}

std::size_t engine::size() const {
  std::lock_guard g(mu_);
  return size_snapshot_;
}

}  // namespace edgemq::statestore
