#include "broker/broker.hpp"

#include <algorithm>
#include <vector>

#include "broker/authenticator.hpp"
#include "broker/cluster_link.hpp"
#include "broker/durable_store.hpp"
#include "broker/topic_access.hpp"

namespace edgemq::broker {

broker::broker(limits lim)
    : limits_(lim), sessions_(tree_, limits_, counters_), auth_(std::make_unique<authenticator_registry>()) {}

broker::~broker() = default;

void broker::set_listener_security(std::uint32_t listener, std::shared_ptr<const listener_security> s) {
  std::lock_guard g(security_mu_);
  if (security_.size() <= listener) security_.resize(listener + 1);
  security_[listener] = std::move(s);
}

std::shared_ptr<const listener_security> broker::security(std::uint32_t listener) const {
  {
    std::lock_guard g(security_mu_);
    if (listener < security_.size() && security_[listener]) return security_[listener];
  }
  static const auto defaults = std::make_shared<const listener_security>();
  return defaults;
}

namespace {

struct match_entry {
  session* s;
  mqtt::qos qos;
  bool retain_as_published;
  std::uint32_t subscription_id;
  const std::shared_ptr<share_group>* group;  // null for ordinary subscriptions
};

mqtt::qos min_qos(mqtt::qos a, mqtt::qos b) {
  return static_cast<std::uint8_t>(a) < static_cast<std::uint8_t>(b) ? a : b;
}

// Round robin over the group, preferring members with a connection; `except` is skipped.
const subscriber* pick_member(const share_group& g, const session* except) {
  const auto n = g.members.size();
  if (n == 0) return nullptr;
  const auto start = g.next.fetch_add(1, std::memory_order_relaxed);
  const subscriber* fallback = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    const subscriber& m = g.members[(start + i) % n];
    if (m.s == except) continue;
    if (m.s->online()) return &m;
    if (!fallback) fallback = &m;
  }
  return fallback;
}

}  // namespace

void broker::set_durable_store(durable_store* s) {
  durable_ = s;
  sessions_.set_store(s);
  retained_.set_store(s);
}

bool crosses_nodes(std::string_view topic) noexcept {
  return !topic.empty() && topic.front() != '$' && !in_per_client_area(topic);
}

void broker::set_cluster_link(cluster_link* l) {
  tree_.set_interest_listener(l);
  link_.store(l, std::memory_order_release);
}

std::size_t broker::route_from_peer(const message_ptr& msg, std::string_view share_name, std::string_view share_filter,
                                    std::uint64_t* ticket) {
  const peer_target t{share_name, share_filter};
  return route(msg, ticket, false, &t);
}

std::size_t broker::route(const message_ptr& msg, std::uint64_t* ticket, bool count, const peer_target* peer) {
  if (count) {
    bump(counters_.received_by_qos[static_cast<std::size_t>(msg->qos)]);
    bump(counters_.payload_bytes_received, msg->payload.size());
  }
  std::uint64_t last = 0;
  if (msg->retain && limits_.retain_available && !peer) last = retained_.put(msg);
  // Cluster mode: a local publish also goes to the other nodes, and to share groups only that
  // way (NATS picks one node of the queue group, possibly this one, which then picks a member).
  cluster_link* const link = peer ? nullptr : link_.load(std::memory_order_acquire);
  const bool crosses = link && crosses_nodes(msg->topic);
  const bool peer_share = peer && !peer->share_name.empty();

  thread_local std::vector<match_entry> matches;
  matches.clear();
  std::size_t delivered = 0;
  // Another client's state store topics never reach a session, whatever its filter (`#`).
  const bool per_client = in_per_client_area(msg->topic);
  const auto visit = [&](const subscriber& sub) {
    if (peer_share) return;
    if (per_client && !may_receive(msg->topic, sub.s->client_id())) return;
    if (sub.options.no_local && sub.s->client_id() == msg->origin_client_id) return;  // MQTT-3.8.3-3
    matches.push_back(
        {sub.s, min_qos(msg->qos, sub.options.qos), sub.options.retain_as_published, sub.subscription_id, nullptr});
  };
  const auto visit_group = [&](const std::shared_ptr<share_group>& g) {
    if (crosses || (peer && (!peer_share || g->name != peer->share_name || g->filter != peer->share_filter))) return;
    if (const subscriber* m = pick_member(*g, nullptr))
      if (!per_client || may_receive(msg->topic, m->s->client_id()))
        matches.push_back(
            {m->s, min_qos(msg->qos, m->options.qos), m->options.retain_as_published, m->subscription_id, &g});
  };
  const auto deliver = [&] {
    // Overlapping ordinary subscriptions of one session: one delivery at the highest QoS with
    // every matching subscription identifier (MQTT-3.3.4-2, 3.3.4-3, 3.3.4-5). Each share group
    // delivers separately. Still under the tree's shared lock: sessions cannot go away here.
    std::sort(matches.begin(), matches.end(),
              [](const match_entry& a, const match_entry& b) { return a.s != b.s ? a.s < b.s : a.group < b.group; });
    for (std::size_t i = 0; i < matches.size();) {
      std::size_t j = i;
      delivery d;
      d.msg = msg;
      bool rap = false;
      for (; j < matches.size() && matches[j].s == matches[i].s && matches[j].group == matches[i].group; ++j) {
        if (static_cast<std::uint8_t>(matches[j].qos) > static_cast<std::uint8_t>(d.qos)) d.qos = matches[j].qos;
        rap = rap || matches[j].retain_as_published;
        if (matches[j].subscription_id) d.subscription_ids.push_back(matches[j].subscription_id);
        if (matches[i].group) break;  // one share group entry, one delivery
      }
      if (matches[i].group) {
        j = i + 1;
        d.share = *matches[i].group;  // keeps the group alive for rerouting
      }
      d.retain = rap && msg->retain;  // MQTT-3.3.1-12/13: retain flag only with Retain As Published
      last = std::max(last, matches[i].s->enqueue(std::move(d)));
      ++delivered;
      i = j;
    }
  };
  tree_.match(msg->topic, visit, visit_group, deliver);
  if (crosses) last = std::max(last, link->forward(msg, ticket && msg->qos != mqtt::qos::at_most_once));
  if (count || peer) bump(counters_.messages_delivered, delivered);
  if (ticket) *ticket = last;
  // Forwarded: subscribers elsewhere may match, so the publisher is not told "no matching
  // subscribers" (0x10) for it.
  return delivered + (crosses ? 1 : 0);
}

void broker::reroute_shared(const session_ptr& leaving) {
  tree_.with_shared_lock([&] {
    std::vector<std::pair<session*, delivery>> moves;
    {
      auto sl = leaving->lock();
      auto* st = leaving->state();
      if (!st) return;  // nothing queued or in flight
      auto movable = [&](delivery& d) -> session* {
        if (!d.share) return nullptr;
        const subscriber* m = pick_member(*d.share, leaving.get());
        return m && m->s->online() ? m->s : nullptr;
      };
      auto* db = leaving->durable();
      session* target = nullptr;  // chosen by the keep test, used by the take that follows it
      st->queue_.partition([&](delivery& d) { return (target = movable(d)) == nullptr; },
                           [&](delivery&& d) {
                             session* to = target;
                             st->queued_bytes_ -= d.msg->payload.size() + d.msg->topic.size();
                             if (db && d.seq) db->erase_message(leaving->client_id(), d.seq);
                             d.seq = 0;
                             moves.emplace_back(to, std::move(d));
                           });
      auto& inflight = st->inflight_;
      for (auto it = inflight.begin(); it != inflight.end();) {
        // Unacknowledged QoS 1 messages move; a QoS 2 message once sent stays with its member,
        // who gets it again on reconnect (MQTT-4.8.2-4, 4.8.2-5).
        session* to = it->second.d.qos == mqtt::qos::at_least_once ? movable(it->second.d) : nullptr;
        if (to) {
          if (db && it->second.d.seq) db->erase_message(leaving->client_id(), it->second.d.seq);
          it->second.d.seq = 0;
          moves.emplace_back(to, std::move(it->second.d));
          it = inflight.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& [to, d] : moves) to->enqueue(std::move(d));
  });
}

bool broker::deliver_to(const std::string& client_id, delivery d) {
  auto s = sessions_.find(client_id);
  if (!s || !s->online()) return false;
  s->enqueue(std::move(d));
  bump(counters_.messages_delivered);
  return true;
}

void broker::tick() {
  std::vector<session_registry::due_will> wills;
  std::vector<std::string> expired;
  sessions_.expire(now(), wills, limits_.lifecycle_events ? &expired : nullptr);
  for (auto& w : wills) {
    bump(counters_.wills_published);
    publish(w.will);
  }
  sessions_.wills_published(wills);  // their records go after the messages they became
  for (const auto& id : expired) events_.session_expired(id);
  // After a large churn of subscriptions (or of the sessions that held them) the freed memory
  // goes back to the system; here, on the sweep, never on a subscriber's own request.
  if (memory_release_.due(tree_.removals(), std::chrono::steady_clock::now())) release_free_memory();
}

void broker::publish_sys(const std::string& version) {
  const auto put = [&](const std::string& topic, std::uint64_t value) {
    auto m = std::make_shared<message>();
    m->topic = topic;
    m->payload = std::to_string(value);
    m->retain = true;
    route(m, nullptr, false);
  };
  {
    auto m = std::make_shared<message>();
    m->topic = "$SYS/broker/version";
    m->payload = "edgemq " + version;
    m->retain = true;
    route(m, nullptr, false);
  }
  collect_sys(put);
}

void broker::collect_sys(const sys_put& put) const {
  const auto load = [](const counter& c) { return c.load(); };
  put("$SYS/broker/uptime", static_cast<std::uint64_t>(uptime().count()));
  put("$SYS/broker/clients/connected", sessions_.connected());
  put("$SYS/broker/connections/accepted", load(counters_.connections_accepted));
  put("$SYS/broker/sessions/count", sessions_.size());
  put("$SYS/broker/sessions/expired", load(counters_.sessions_expired));
  put("$SYS/broker/subscriptions/count", tree_.size());
  put("$SYS/broker/retained/count", retained_.size());
  put("$SYS/broker/messages/received", counters_.messages_received());
  put("$SYS/broker/messages/sent", counters_.messages_sent());
  for (std::size_t q = 0; q < 3; ++q) {
    put("$SYS/broker/messages/received/qos" + std::to_string(q), load(counters_.received_by_qos[q]));
    put("$SYS/broker/messages/sent/qos" + std::to_string(q), load(counters_.sent_by_qos[q]));
  }
  put("$SYS/broker/bytes/received", load(counters_.payload_bytes_received));
  put("$SYS/broker/bytes/sent", load(counters_.payload_bytes_sent));
  put("$SYS/broker/messages/dropped", counters_.dropped());
  put("$SYS/broker/messages/dropped/queue_full", load(counters_.dropped_queue_full));
  put("$SYS/broker/messages/dropped/qos0_offline", load(counters_.dropped_qos0_offline));
  put("$SYS/broker/messages/dropped/too_large", load(counters_.dropped_too_large));
  put("$SYS/broker/messages/dropped/expired", load(counters_.dropped_expired));
  put("$SYS/broker/messages/dropped/unencodable", load(counters_.dropped_unencodable));
  put("$SYS/broker/protocol_errors", load(counters_.protocol_errors));
  put("$SYS/broker/auth/failures", load(counters_.auth_failures));
  put("$SYS/broker/auth/expired", load(counters_.auth_expired));
  put("$SYS/broker/auth/connect_denied", load(counters_.connect_denied));
  put("$SYS/broker/auth/publish_denied", load(counters_.publish_denied));
  put("$SYS/broker/auth/subscribe_denied", load(counters_.subscribe_denied));
  put("$SYS/broker/messages/refused/storage", load(counters_.refused_storage));
  put("$SYS/broker/wills/published", load(counters_.wills_published));
  std::lock_guard g(registry_mu_);
  for (const auto& source : sys_sources_) source(put);
}

}  // namespace edgemq::broker
