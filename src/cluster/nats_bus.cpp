#include "cluster/nats_bus.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <nats/nats.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "broker/durable_store.hpp"
#include "broker/link.hpp"
#include "broker/log_safe.hpp"
#include "cluster/bus_codec.hpp"
#include "cluster/connection_security_impl.hpp"
#include "cluster/subject_map.hpp"

namespace edgemq::cluster {

namespace {

constexpr const char* nodes_subject = "edgemq.nodes";
constexpr const char* retained_subject = "edgemq.retained";
constexpr const char* sync_subject = "edgemq.retained.sync";
constexpr std::string_view confirm_prefix = "edgemq.confirm.";  // + the origin's instance
constexpr std::size_t dedup_window = 1024;  // copies of one message arrive within this many from its origin

using steady = std::chrono::steady_clock;

std::string random_hex() {
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

struct counter {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n = 1) { v.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

}  // namespace

// Threads: MQTT workers call forward/interest_* (they only take mu_); the sender thread owns the
// NATS subscriptions and publishes; libnats' delivery thread (global delivery: one thread for
// every subscription) runs on_message, which takes dedup_mu_ or nodes_mu_ and calls into the
// broker with none held. Lock order: the tree's lock, then mu_ (interest calls come under it).
// confirm_mu guards the confirmations awaited and owed; nothing is called with it held (tickets
// are settled, and the durable store asked, outside it).
struct nats_bus::impl {
  // One NATS subscription's meaning, kept alive until stop (a late callback may still read it).
  struct sub_ctx {
    impl* self;
    enum class kind { plain, share, retained, nodes, sync, confirm } k;
    std::string share_name, filter;
  };
  struct interest_op {
    bool add;
    std::string filter, share_name;
  };
  struct outgoing {
    broker::message_ptr msg;
    std::uint64_t ticket = 0;  // set: the nodes below must confirm it (ADR 0038)
    std::vector<std::string> nodes;
  };
  // A message of this node waiting for other nodes' confirmations, by sequence number.
  struct awaited {
    std::uint64_t ticket;
    std::set<std::string> nodes;
    steady::time_point deadline;
  };
  // A confirmation this node owes once its deliveries of a peer's message are decided.
  struct owed {
    std::uint64_t ticket;
    std::string origin;
    std::uint64_t seq;
  };
  // Wakes the sender when the durable store decided a ticket a confirmation waits for.
  struct waker final : broker::link {
    std::weak_ptr<impl> self;
    explicit waker(std::weak_ptr<impl> s) : self(std::move(s)) {}
    void notify() override {
      if (auto i = self.lock()) {
        {
          std::lock_guard g(i->mu);
          i->owed_ready = true;
        }
        i->cv.notify_one();
      }
    }
    void kick(mqtt::reason_code) override {}
  };

  broker::broker& core;
  nats_bus_options opts;
  std::shared_ptr<spdlog::logger> log;
  std::string instance;

  natsConnection* nc = nullptr;
  std::atomic<bool> attached{false};
  std::atomic<bool> closing{false};  // stop() began: a disconnection is expected
  // libnats calls the callbacks above on its own thread, also after natsConnection_Destroy; the
  // closed callback comes last, so stop() waits for it before this object may go.
  std::mutex closed_mu;
  std::condition_variable closed_cv;
  bool closed = false;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<outgoing> out;
  std::size_t out_bytes = 0;
  std::vector<interest_op> ops;
  bool stopping = false;
  bool owed_ready = false;  // the durable store decided a ticket an owed confirmation waits for
  std::thread sender;

  // Sender thread only.
  std::map<std::pair<std::string, std::string>, std::vector<natsSubscription*>> subs;
  std::vector<natsSubscription*> fixed_subs;
  std::uint64_t seq = 0;
  bool synced = false;
  steady::time_point next_beat{};
  bool warned_large = false;
  std::string buf, subject;  // reused for every message: no allocation once grown

  std::mutex contexts_mu;
  std::vector<std::unique_ptr<sub_ctx>> contexts;

  std::mutex dedup_mu;
  std::unordered_map<std::string, std::array<std::uint64_t, dedup_window>> recent;

  mutable std::mutex nc_mu;  // nc's status read (figures, admin) against its destruction (stop)
  mutable std::mutex nodes_mu;
  std::map<std::string, steady::time_point> nodes_seen;  // other nodes, by name

  counter out_n, in_n, drop_full, drop_large, drop_nats, own, dups, malformed, reconnects, synced_n;
  counter c_asked, c_durable, c_failed, c_timed_out, c_answered;

  confirmations conf;  // set before the listeners accept (set_confirmations)
  std::atomic<bool> conf_set{false};
  std::shared_ptr<waker> wake_link;
  std::string confirm_subject;  // where this node's confirmations arrive
  std::mutex confirm_mu;
  std::map<std::uint64_t, awaited> awaiting;
  std::atomic<std::size_t> awaiting_n{0};
  std::vector<owed> owing;
  std::atomic<std::uint64_t> nsubs{0}, queued{0};

  impl(broker::broker& c, nats_bus_options o, std::shared_ptr<spdlog::logger> l)
      : core(c),
        opts(std::move(o)),
        log(std::move(l)),
        instance(opts.node + "." + random_hex()),
        confirm_subject(std::string(confirm_prefix) + instance) {}

  sub_ctx* make_ctx(sub_ctx::kind k, std::string share = {}, std::string filter = {}) {
    auto c = std::make_unique<sub_ctx>(sub_ctx{this, k, std::move(share), std::move(filter)});
    auto* p = c.get();
    std::lock_guard g(contexts_mu);
    contexts.push_back(std::move(c));
    return p;
  }

  bool is_connected() const { return nc && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED; }

  // --- sender thread ---------------------------------------------------------------------------

  void run() {
    std::deque<outgoing> batch;  // swapped with `out`: its blocks are reused
    std::vector<interest_op> interest_batch;
    while (true) {
      bool owed_now = false;
      {
        std::unique_lock g(mu);
        // Confirmations awaited: woken often enough to time them out close to their deadline.
        auto wake = next_beat;
        if (awaiting_n.load(std::memory_order_relaxed)) wake = std::min(wake, steady::now() + confirm_tick);
        cv.wait_until(g, wake, [&] { return stopping || !out.empty() || !ops.empty() || owed_ready; });
        if (stopping) return;
        batch.swap(out);
        out_bytes = 0;
        queued.store(0, std::memory_order_relaxed);
        interest_batch.swap(ops);
        owed_now = owed_ready;
        owed_ready = false;
      }
      for (auto& op : interest_batch) apply(op);
      if (!synced && is_connected()) catch_up();
      const auto now = core.now();
      for (auto& o : batch) send(o, now);
      batch.clear();
      if (owed_now) answer_owed();
      if (awaiting_n.load(std::memory_order_relaxed)) expire_confirms();
      interest_batch.clear();
      if (steady::now() >= next_beat) {
        beat(false);
        next_beat = steady::now() + opts.heartbeat;
      }
    }
  }

  void apply(const interest_op& op) {
    if (op.filter.starts_with('$')) return;  // matches only node-local topics (broker::crosses_nodes)
    const auto key = std::make_pair(op.filter, op.share_name);
    if (!op.add) {
      auto it = subs.find(key);
      if (it == subs.end()) return;
      for (auto* s : it->second) {
        natsSubscription_Unsubscribe(s);
        natsSubscription_Destroy(s);
        nsubs.fetch_sub(1, std::memory_order_relaxed);
      }
      subs.erase(it);
      return;
    }
    if (subs.contains(key)) return;
    auto& list = subs[key];
    const bool share = !op.share_name.empty();
    auto* ctx = make_ctx(share ? sub_ctx::kind::share : sub_ctx::kind::plain, op.share_name, op.filter);
    const auto queue = share ? queue_name(op.share_name, op.filter) : std::string();
    for (const auto& subject : filter_to_subjects(op.filter)) {
      natsSubscription* s = nullptr;
      const auto st = share ? natsConnection_QueueSubscribe(&s, nc, subject.c_str(), queue.c_str(), &on_message, ctx)
                            : natsConnection_Subscribe(&s, nc, subject.c_str(), &on_message, ctx);
      if (st != NATS_OK) {
        log->warn("cluster: cannot subscribe to NATS subject '{}': {}", log_safe(subject), natsStatus_GetText(st));
        continue;
      }
      natsSubscription_SetPendingLimits(s, -1, 256 << 20);
      list.push_back(s);
      nsubs.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // One plain NATS publish per copy: the envelope travels in the payload (bus_codec.hpp), no
  // natsMsg or header table is built.
  natsStatus publish(const char* subject, std::string_view data) {
    return natsConnection_Publish(nc, subject, data.data(), static_cast<int>(data.size()));
  }

  void send(outgoing& o, broker::clock::time_point now) {
    const auto& m = *o.msg;
    const auto max = natsConnection_GetMaxPayload(nc);
    encode_envelope(buf, m, instance, ++seq, now, false, o.ticket != 0);
    if (max > 0 && buf.size() > static_cast<std::size_t>(max)) {
      if (o.ticket) settle(o.ticket, false);
      drop_large.add();
      if (!warned_large)
        log->warn("cluster: a message on '{}' ({} bytes) exceeds NATS max_payload ({}): it stays on this node",
                  log_safe(m.topic), m.payload.size(), max);
      warned_large = true;
      return;
    }
    subject = topic_to_subject(m.topic);
    if (o.ticket) {  // registered first: a confirmation can come back before publish returns
      std::lock_guard g(confirm_mu);
      awaiting.emplace(seq, awaited{o.ticket, {o.nodes.begin(), o.nodes.end()}, steady::now() + opts.confirm_timeout});
      awaiting_n.store(awaiting.size(), std::memory_order_relaxed);
    }
    auto st = publish(subject.c_str(), buf);
    if (st != NATS_OK && o.ticket) {
      bool mine = false;
      {
        std::lock_guard g(confirm_mu);
        mine = awaiting.erase(seq) > 0;
        awaiting_n.store(awaiting.size(), std::memory_order_relaxed);
      }
      if (mine) settle(o.ticket, false);
    }
    // Retained messages are stored on every node, whatever its subscriptions (the same sequence
    // number: a different subject, so no dedup conflict).
    if (st == NATS_OK && m.retain) {
      encode_envelope(buf, m, instance, seq, now, true);
      st = max > 0 && buf.size() > static_cast<std::size_t>(max) ? NATS_MAX_PAYLOAD : publish(retained_subject, buf);
    }
    if (st == NATS_OK)
      out_n.add();
    else
      drop_nats.add();
  }

  // --- cluster-wide QoS 1/2 (ADR 0038) -----------------------------------------------------------

  static constexpr auto confirm_tick = std::chrono::milliseconds(100);

  void settle(std::uint64_t ticket, bool durable) {
    (durable ? c_durable : c_failed).add();
    conf.settle(ticket, durable);
  }

  // Sender thread: the awaited confirmations past their deadline fail.
  void expire_confirms() {
    std::vector<std::uint64_t> late;
    {
      std::lock_guard g(confirm_mu);
      const auto now = steady::now();
      for (auto it = awaiting.begin(); it != awaiting.end();) {
        if (it->second.deadline <= now) {
          late.push_back(it->second.ticket);
          it = awaiting.erase(it);
        } else {
          ++it;
        }
      }
      awaiting_n.store(awaiting.size(), std::memory_order_relaxed);
    }
    for (const auto t : late) {
      c_timed_out.add();
      settle(t, false);
    }
  }

  // Stopping, the sender joined: what it never sent.
  void fail_unsent() {
    std::deque<outgoing> left;
    {
      std::lock_guard g(mu);
      left.swap(out);
    }
    for (const auto& o : left)
      if (o.ticket) settle(o.ticket, false);
  }

  // Stopping: nothing awaited will be answered any more.
  void fail_awaiting() {
    std::map<std::uint64_t, awaited> all;
    {
      std::lock_guard g(confirm_mu);
      all.swap(awaiting);
      awaiting_n.store(0, std::memory_order_relaxed);
    }
    for (const auto& [s, a] : all) settle(a.ticket, false);
  }

  void confirm(const std::string& origin, std::uint64_t s, bool durable) {
    c_answered.add();
    const auto reply = std::to_string(s) + (durable ? " 1 " : " 0 ") + opts.node;
    const auto to = std::string(confirm_prefix) + origin;
    natsConnection_Publish(nc, to.c_str(), reply.data(), static_cast<int>(reply.size()));
  }

  // Delivery thread: a peer's message asking for confirmation was routed here with `ticket`
  // (0: it journaled nothing).
  void owe(const std::string& origin, std::uint64_t s, std::uint64_t ticket) {
    auto* db = core.durable();
    if (!ticket || !db) return confirm(origin, s, true);
    if (ticket <= db->decided())
      return confirm(origin, s, db->outcome_of(ticket) != broker::durable_store::outcome::failed);
    {
      std::lock_guard g(confirm_mu);
      owing.push_back({ticket, origin, s});
    }
    db->notify_when_decided(ticket, wake_link);
  }

  // Sender thread: the owed confirmations whose tickets are decided now.
  void answer_owed() {
    auto* db = core.durable();
    if (!db) return;
    const auto done = db->decided();
    std::vector<owed> ready;
    {
      std::lock_guard g(confirm_mu);
      const auto mid =
          std::stable_partition(owing.begin(), owing.end(), [&](const owed& o) { return o.ticket > done; });
      ready.assign(std::make_move_iterator(mid), std::make_move_iterator(owing.end()));
      owing.erase(mid, owing.end());
    }
    for (const auto& o : ready)
      confirm(o.origin, o.seq, db->outcome_of(o.ticket) != broker::durable_store::outcome::failed);
  }

  // Delivery thread: "<seq> <1|0> <node>" from a node this one asked.
  void on_confirmation(natsMsg* m) {
    const auto* data = natsMsg_GetData(m);
    const std::string_view text(data ? data : "", static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    const auto sp1 = text.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : text.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return malformed.add();
    std::uint64_t s = 0;
    for (const char c : text.substr(0, sp1)) {
      if (c < '0' || c > '9') return malformed.add();
      s = s * 10 + static_cast<std::uint64_t>(c - '0');
    }
    const bool durable = text.substr(sp1 + 1, sp2 - sp1 - 1) == "1";
    const std::string node(text.substr(sp2 + 1));
    std::optional<std::pair<std::uint64_t, bool>> decided;
    {
      std::lock_guard g(confirm_mu);
      auto it = awaiting.find(s);
      if (it == awaiting.end()) return;  // timed out already, or a second copy's answer
      it->second.nodes.erase(node);
      if (!durable || it->second.nodes.empty()) {
        decided.emplace(it->second.ticket, durable);
        awaiting.erase(it);
        awaiting_n.store(awaiting.size(), std::memory_order_relaxed);
      }
    }
    if (decided) settle(decided->first, decided->second);
  }

  void beat(bool leaving) {
    const nlohmann::json j{{"node", opts.node}, {"instance", instance}, {"leaving", leaving}};
    const auto s = j.dump();
    natsConnection_Publish(nc, nodes_subject, s.data(), static_cast<int>(s.size()));
    if (leaving) natsConnection_FlushTimeout(nc, 500);
  }

  // Retained messages a peer already holds (once, when first connected): a request on
  // sync_subject answered by one peer (a queue group) with one NATS message per retained
  // message and a last one, the envelope's end marker.
  void catch_up() {
    synced = true;
    natsInbox* inbox = nullptr;
    natsSubscription* sub = nullptr;
    if (natsInbox_Create(&inbox) == NATS_OK && natsConnection_SubscribeSync(&sub, nc, inbox) == NATS_OK) {
      const nlohmann::json req{{"node", opts.node}, {"instance", instance}};
      const auto body = req.dump();
      natsConnection_PublishRequest(nc, sync_subject, inbox, body.data(), static_cast<int>(body.size()));
      std::size_t got = 0;
      while (true) {
        natsMsg* m = nullptr;
        if (natsSubscription_NextMsg(&m, sub, static_cast<std::int64_t>(opts.sync_timeout.count())) != NATS_OK) break;
        bool done = natsMsg_IsNoResponders(m);
        if (!done) {
          auto msg = decode(m);
          done = msg.end;
          if (msg.msg) {
            core.retained().put(msg.msg);
            ++got;
          }
        }
        natsMsg_Destroy(m);
        if (done) break;
      }
      synced_n.add(got);
      if (got) log->info("cluster: {} retained messages from a peer", got);
    }
    if (sub) natsSubscription_Destroy(sub);
    if (inbox) natsInbox_Destroy(inbox);
    // Now this node answers others' catch-ups too.
    natsSubscription* s = nullptr;
    if (natsConnection_QueueSubscribe(&s, nc, sync_subject, "sync", &on_message, make_ctx(sub_ctx::kind::sync)) ==
        NATS_OK)
      fixed_subs.push_back(s);
  }

  static void on_disconnected(natsConnection*, void* closure) {
    auto* i = static_cast<impl*>(closure);
    if (!i->closing.load(std::memory_order_acquire)) i->log->warn("cluster: disconnected from NATS, reconnecting");
  }
  static void on_closed(natsConnection*, void* closure) {
    auto* i = static_cast<impl*>(closure);
    {
      std::lock_guard g(i->closed_mu);
      i->closed = true;
    }
    i->closed_cv.notify_all();
  }
  static void on_reconnected(natsConnection* nc, void* closure) {
    auto* i = static_cast<impl*>(closure);
    i->reconnects.add();
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    i->log->info("cluster: reconnected to NATS at {}", url);
    std::lock_guard g(i->mu);
    i->cv.notify_one();
  }
  static void on_connected(natsConnection*, void* closure) {
    auto* i = static_cast<impl*>(closure);
    i->log->info("cluster: connected to NATS");
    std::lock_guard g(i->mu);
    i->cv.notify_one();  // the catch-up waits for the connection
  }

  bus_figures figures() const {
    bus_figures f;
    {
      std::lock_guard n(nc_mu);
      std::lock_guard g(nodes_mu);
      f.connected = is_connected();
      const auto now = steady::now();
      for (const auto& [name, seen] : nodes_seen)
        if (now - seen < opts.node_timeout) ++f.nodes_up;
      if (f.connected) ++f.nodes_up;
    }
    f.messages_out = out_n.get();
    f.messages_in = in_n.get();
    f.dropped_queue_full = drop_full.get();
    f.dropped_too_large = drop_large.get();
    f.dropped_nats = drop_nats.get();
    f.own_skipped = own.get();
    f.duplicates_skipped = dups.get();
    f.malformed = malformed.get();
    f.reconnects = reconnects.get();
    f.subscriptions = nsubs.load(std::memory_order_relaxed);
    f.retained_synced = synced_n.get();
    f.queued = queued.load(std::memory_order_relaxed);
    f.confirms_asked = c_asked.get();
    f.confirms_durable = c_durable.get();
    f.confirms_failed = c_failed.get();
    f.confirms_timed_out = c_timed_out.get();
    f.confirms_answered = c_answered.get();
    return f;
  }

  std::vector<node_status> node_list() const {
    std::vector<node_status> v;
    std::lock_guard n(nc_mu);
    std::lock_guard g(nodes_mu);
    const auto now = steady::now();
    v.push_back({opts.node, true, is_connected(), 0});
    for (const auto& [name, seen] : nodes_seen) {
      const auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(now - seen).count();
      v.push_back({name, false, now - seen < opts.node_timeout, ago});
    }
    return v;
  }

  // --- delivery thread -----------------------------------------------------------------------

  decoded decode(natsMsg* m) {
    // Retained copies and catch-up replies: the topic is in the envelope, not the subject.
    const auto* data = natsMsg_GetData(m);
    const auto len = natsMsg_GetDataLength(m);
    return decode_envelope(subject_to_topic(natsMsg_GetSubject(m)),
                           std::string_view(data ? data : "", static_cast<std::size_t>(len)), core.now());
  }

  // True the first time (origin, seq) is seen: a node with overlapping subscriptions ("a/+" and
  // "a/#") gets one NATS copy per subscription.
  bool first_copy(const std::string& origin, std::uint64_t s) {
    std::lock_guard g(dedup_mu);
    auto& ring = recent[origin];
    auto& slot = ring[s % dedup_window];
    if (slot == s) return false;
    slot = s;
    return true;
  }

  static void on_message(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    auto* ctx = static_cast<sub_ctx*>(closure);
    ctx->self->handle(*ctx, m);
    natsMsg_Destroy(m);
  }

  void handle(const sub_ctx& ctx, natsMsg* m) {
    if (!attached.load(std::memory_order_acquire)) return;
    switch (ctx.k) {
      case sub_ctx::kind::nodes:
        return on_heartbeat(m);
      case sub_ctx::kind::sync:
        return answer_sync(m);
      case sub_ctx::kind::confirm:
        return on_confirmation(m);
      default:
        break;
    }
    auto d = decode(m);
    if (!d.msg) {
      malformed.add();
      return;
    }
    // A share group's copy comes back to its own node too (NATS picked this node's queue member).
    if (ctx.k != sub_ctx::kind::share && d.origin == instance) {
      own.add();
      return;
    }
    if (ctx.k == sub_ctx::kind::retained) {
      core.retained().put(d.msg);
      return;
    }
    if (ctx.k == sub_ctx::kind::plain && !first_copy(d.origin, d.seq)) {
      dups.add();
      return;
    }
    in_n.add();
    if (ctx.k == sub_ctx::kind::share) {
      core.route_from_peer(d.msg, ctx.share_name, ctx.filter);
      return;
    }
    std::uint64_t ticket = 0;
    core.route_from_peer(d.msg, {}, {}, &ticket);
    if (d.confirm) owe(d.origin, d.seq, ticket);
  }

  void on_heartbeat(natsMsg* m) {
    const auto* data = natsMsg_GetData(m);
    auto j = nlohmann::json::parse(data ? data : "", data ? data + natsMsg_GetDataLength(m) : nullptr, nullptr, false);
    if (!j.is_object() || !j.contains("node") || !j["node"].is_string()) return;
    const auto name = j["node"].get<std::string>();
    if (name == opts.node) return;
    std::lock_guard g(nodes_mu);
    if (j.value("leaving", false))
      nodes_seen.erase(name);
    else
      nodes_seen[name] = steady::now();
  }

  std::string sync_buf;  // delivery thread only
  void answer_sync(natsMsg* req) {
    const char* reply = natsMsg_GetReply(req);
    if (!reply) return;
    std::string after;
    bool more = true;
    const auto max = natsConnection_GetMaxPayload(nc);
    while (more) {
      const auto page = core.retained().list("#", after, 256, core.now(), more);
      for (const auto& msg : page) {
        after = msg->topic;
        if (!broker::crosses_nodes(msg->topic)) continue;
        encode_envelope(sync_buf, *msg, instance, 0, core.now(), true);
        if (max > 0 && sync_buf.size() > static_cast<std::size_t>(max)) continue;
        publish(reply, sync_buf);
      }
      if (page.empty()) break;
    }
    publish(reply, encode_end_marker(instance));
  }
};

nats_bus::nats_bus(broker::broker& core, nats_bus_options opts, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<impl>(core, std::move(opts), std::move(log))) {
  impl_->wake_link = std::make_shared<impl::waker>(std::weak_ptr<impl>(impl_));
}

void nats_bus::set_confirmations(confirmations c) {
  impl_->conf = std::move(c);
  impl_->conf_set.store(true, std::memory_order_release);
}

nats_bus::~nats_bus() {
  stop();
}

void nats_bus::start() {
  auto& i = *impl_;
  natsOptions* o = nullptr;
  if (natsOptions_Create(&o) != NATS_OK) throw std::runtime_error("cluster: cannot create NATS options");
  std::vector<const char*> urls;
  for (const auto& u : i.opts.urls) urls.push_back(u.c_str());
  auto st = natsOptions_SetServers(o, urls.data(), static_cast<int>(urls.size()));
  // In the order given: a node lists its nearest (same host, same zone) server first.
  if (st == NATS_OK) st = natsOptions_SetNoRandomize(o, true);
  if (st == NATS_OK) st = natsOptions_SetName(o, ("edgemq " + i.opts.node).c_str());
  // One delivery thread for every subscription (not one thread per filter), in arrival order.
  if (st == NATS_OK) st = natsOptions_UseGlobalMessageDelivery(o, true);
  if (st == NATS_OK) st = natsOptions_SetMaxReconnect(o, -1);  // forever: NATS members come back
  if (st == NATS_OK) st = natsOptions_SetReconnectWait(o, 250);
  if (st == NATS_OK) st = natsOptions_SetReconnectJitter(o, 100, 100);
  if (st == NATS_OK) st = natsOptions_SetPingInterval(o, 2000);
  if (st == NATS_OK) st = natsOptions_SetMaxPingsOut(o, 2);
  if (st == NATS_OK) st = natsOptions_SetReconnectBufSize(o, 8 * 1024 * 1024);
  if (st == NATS_OK) st = natsOptions_SetDisconnectedCB(o, &impl::on_disconnected, &i);
  if (st == NATS_OK) st = natsOptions_SetReconnectedCB(o, &impl::on_reconnected, &i);
  if (st == NATS_OK) st = natsOptions_SetClosedCB(o, &impl::on_closed, &i);
  if (st == NATS_OK) st = natsOptions_SetRetryOnFailedConnect(o, true, &impl::on_connected, &i);
  std::string security_error;
  if (st == NATS_OK) st = apply_nats_security(o, i.opts.security, i.opts.urls, security_error);
  if (st != NATS_OK && !security_error.empty()) {
    natsOptions_Destroy(o);
    throw std::runtime_error("cluster: NATS: " + security_error);
  }
  if (st == NATS_OK) {
    st = natsConnection_Connect(&i.nc, o);
    if (st == NATS_NOT_YET_CONNECTED) st = NATS_OK;  // keeps trying in the background
  }
  natsOptions_Destroy(o);
  if (st != NATS_OK) throw std::runtime_error(std::string("cluster: NATS: ") + natsStatus_GetText(st));

  const auto fixed = [&](const char* subject, impl::sub_ctx::kind k) {
    natsSubscription* s = nullptr;
    if (natsConnection_Subscribe(&s, i.nc, subject, &impl::on_message, i.make_ctx(k)) == NATS_OK)
      i.fixed_subs.push_back(s);
  };
  fixed(nodes_subject, impl::sub_ctx::kind::nodes);
  fixed(retained_subject, impl::sub_ctx::kind::retained);
  fixed(i.confirm_subject.c_str(), impl::sub_ctx::kind::confirm);
  i.attached.store(true, std::memory_order_release);
  // Reports the filters already subscribed (restored sessions) through interest_added.
  i.core.set_cluster_link(this);
  i.sender = std::thread([&i] { i.run(); });

  std::weak_ptr<impl> weak = impl_;
  i.core.add_sys_source([weak](const broker::broker::sys_put& put) {
    auto self = weak.lock();
    if (!self) return;
    const auto f = self->figures();
    put("$SYS/broker/cluster/nats/connected", f.connected ? 1 : 0);
    put("$SYS/broker/cluster/nodes", f.nodes_up);
    put("$SYS/broker/cluster/messages/out", f.messages_out);
    put("$SYS/broker/cluster/messages/in", f.messages_in);
    put("$SYS/broker/cluster/dropped/queue_full", f.dropped_queue_full);
    put("$SYS/broker/cluster/dropped/too_large", f.dropped_too_large);
    put("$SYS/broker/cluster/dropped/nats", f.dropped_nats);
    put("$SYS/broker/cluster/skipped/own", f.own_skipped);
    put("$SYS/broker/cluster/skipped/duplicate", f.duplicates_skipped);
    put("$SYS/broker/cluster/skipped/malformed", f.malformed);
    put("$SYS/broker/cluster/nats/reconnects", f.reconnects);
    put("$SYS/broker/cluster/nats/subscriptions", f.subscriptions);
    put("$SYS/broker/cluster/retained/synced", f.retained_synced);
    put("$SYS/broker/cluster/queue/messages", f.queued);
    put("$SYS/broker/cluster/confirms/asked", f.confirms_asked);
    put("$SYS/broker/cluster/confirms/durable", f.confirms_durable);
    put("$SYS/broker/cluster/confirms/failed", f.confirms_failed);
    put("$SYS/broker/cluster/confirms/timed_out", f.confirms_timed_out);
    put("$SYS/broker/cluster/confirms/answered", f.confirms_answered);
  });
}

void nats_bus::stop() {
  auto& i = *impl_;
  if (!i.nc) return;
  i.core.set_cluster_link(nullptr);  // no more forward/interest calls once this returns
  {
    std::lock_guard g(i.mu);
    i.stopping = true;
  }
  i.cv.notify_one();
  if (i.sender.joinable()) i.sender.join();
  // Not sent, or sent and never to be answered: their publishers are refused, not acknowledged
  // (a ticket left open would hold back every later acknowledgement on this node).
  i.fail_unsent();
  i.fail_awaiting();
  i.attached.store(false, std::memory_order_release);
  i.closing.store(true, std::memory_order_release);
  if (i.is_connected()) i.beat(true);
  std::lock_guard g(i.nc_mu);  // figures() reads nc under it
  natsConnection_Close(i.nc);  // handle() ignores what still arrives (attached is off)
  for (auto& [key, list] : i.subs)
    for (auto* s : list) natsSubscription_Destroy(s);
  for (auto* s : i.fixed_subs) natsSubscription_Destroy(s);
  i.subs.clear();
  i.fixed_subs.clear();
  natsConnection_Destroy(i.nc);
  i.nc = nullptr;
  // No callback may run once this returns (the object can be freed): the closed one is the last.
  std::unique_lock c(i.closed_mu);
  if (!i.closed_cv.wait_for(c, std::chrono::seconds(5), [&] { return i.closed; }) && i.log)
    i.log->warn("cluster: NATS did not confirm the connection closed within 5 s");
}

bool nats_bus::connected() const {
  std::lock_guard g(impl_->nc_mu);
  return impl_->is_connected();
}

bus_figures nats_bus::figures() const {
  return impl_->figures();
}

std::vector<node_status> nats_bus::nodes() const {
  return impl_->node_list();
}

std::uint64_t nats_bus::forward(const broker::message_ptr& msg, bool confirm) {
  auto& i = *impl_;
  const auto size = msg->payload.size() + msg->topic.size();
  impl::outgoing o{msg, 0, {}};
  if (confirm && i.conf_set.load(std::memory_order_acquire)) {
    i.conf.nodes_holding(msg->topic, o.nodes);
    if (!o.nodes.empty()) {
      o.ticket = i.conf.open();
      i.c_asked.add();
    }
  }
  const auto ticket = o.ticket;
  bool wake = false, dropped = false;
  {
    std::lock_guard g(i.mu);
    if (i.stopping || i.out.size() >= i.opts.queue_messages || i.out_bytes + size > i.opts.queue_bytes) {
      dropped = true;  // (stopping: the sender will not send it)
    } else {
      i.out.push_back(std::move(o));
      i.out_bytes += size;
      i.queued.store(i.out.size(), std::memory_order_relaxed);
      wake = i.out.size() == 1;  // otherwise the sender is already awake (or will swap the batch)
    }
  }
  if (dropped) {
    i.drop_full.add();
    if (ticket) i.settle(ticket, false);  // refused, not acknowledged
    return ticket;
  }
  if (wake) i.cv.notify_one();
  return ticket;
}

void nats_bus::interest_added(std::string_view filter, std::string_view share_name) {
  {
    std::lock_guard g(impl_->mu);
    impl_->ops.push_back({true, std::string(filter), std::string(share_name)});
  }
  impl_->cv.notify_one();
}

void nats_bus::interest_removed(std::string_view filter, std::string_view share_name) {
  {
    std::lock_guard g(impl_->mu);
    impl_->ops.push_back({false, std::string(filter), std::string(share_name)});
  }
  impl_->cv.notify_one();
}

}  // namespace edgemq::cluster
