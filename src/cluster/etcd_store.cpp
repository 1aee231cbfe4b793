// etcd_store's public methods: start and stop, requests handed to the queues, the operator's LIST read
// in one txn, in-process watches registered; the rest is etcd_store::impl (etcd_store_impl.hpp).
#include "cluster/etcd_store.hpp"

#include <map>
#include <utility>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cluster/etcd_client.hpp"
#include "cluster/etcd_store_impl.hpp"
#include "cluster/etcd_watch_stream.hpp"
#include "statestore/wire.hpp"

namespace edgemq::cluster {

namespace {

constexpr std::uint64_t admin_queue = ~std::uint64_t{0};

}  // namespace

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
