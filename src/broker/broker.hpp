// The broker core: subscription index, retained messages, sessions and routing between them.
// It knows packets and sessions, never sockets; connections reach it through client_channel.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/connect_interceptor.hpp"
#include "broker/counters.hpp"
#include "broker/latency_histogram.hpp"
#include "broker/lifecycle_events.hpp"
#include "broker/limits.hpp"
#include "broker/listener_security.hpp"
#include "broker/memory_release.hpp"
#include "broker/reserved_topics.hpp"
#include "broker/retained_store.hpp"
#include "broker/session_directory.hpp"
#include "broker/session_registry.hpp"
#include "broker/topic_tree.hpp"

namespace edgemq::broker {

class authenticator_registry;
class cluster_link;

class broker {
 public:
  explicit broker(limits lim);
  ~broker();

  const limits& config() const noexcept { return limits_; }
  topic_tree& subscriptions() noexcept { return tree_; }
  retained_store& retained() noexcept { return retained_; }
  session_registry& sessions() noexcept { return sessions_; }
  const session_registry& sessions() const noexcept { return sessions_; }
  counters& stats() noexcept { return counters_; }
  authenticator_registry& authenticators() noexcept { return *auth_; }
  reserved_topics& services() noexcept { return services_; }
  // The dialect hook ahead of the listeners' authentication (connect_interceptor.hpp): set at
  // start-up, before the listeners accept, then read-only (null: none).
  void set_connect_interceptor(connect_interceptor* i) noexcept { interceptor_ = i; }
  connect_interceptor* interceptor() const noexcept { return interceptor_; }
  // Cluster mode: who owns each client id's session (session_directory.hpp). Set at start-up,
  // before the listeners accept, then read-only (null: single node).
  void set_session_directory(session_directory* d) noexcept { directory_ = d; }
  session_directory* directory() const noexcept { return directory_; }
  // Connect, disconnect, subscribe, unsubscribe and session expiry as messages (limits::lifecycle_events).
  lifecycle_events& events() noexcept { return events_; }

  // The security settings of listener `listener` (its index in the server's listeners).
  // Replaceable at any time (reload); a CONNECT uses the snapshot current when it arrives.
  // A listener never set gets the defaults of listener_security (anonymous, no policy).
  void set_listener_security(std::uint32_t listener, std::shared_ptr<const listener_security> s);
  std::shared_ptr<const listener_security> security(std::uint32_t listener) const;

  // Queues `d` for the session of `client_id` if it is connected, whatever its subscriptions
  // (service replies that must reach one client). Returns false if it is not connected.
  bool deliver_to(const std::string& client_id, delivery d);

  // The broker's clock; tests replace it to step through expiry intervals.
  clock::time_point now() const { return now_(); }
  void set_clock(std::function<clock::time_point()> f) { now_ = std::move(f); }

  // Stores a retained message if flagged, and delivers `msg` to every matching session once,
  // at the highest QoS granted among its matching subscriptions, and to one member of every
  // matching share group. Returns the number of deliveries queued.
  // `ticket`, if given, receives the durable-store ticket to wait for before acknowledging the
  // message (0: nothing to wait for).
  std::size_t publish(const message_ptr& msg, std::uint64_t* ticket = nullptr) { return route(msg, ticket, true); }

  // Cluster mode (cluster_link.hpp): set once at start-up, before the listeners accept, and
  // cleared (null) before the link goes away. The subscriptions already in the index are
  // reported to it at once. With a link, messages published here to topics that cross nodes
  // reach share groups only through the link (the bus picks one member in the whole cluster).
  void set_cluster_link(cluster_link* l);
  cluster_link* link() const noexcept { return link_.load(std::memory_order_acquire); }
  // A message that came from another node: delivered to this node's subscribers only, never
  // forwarded. `share_name` empty: to every matching ordinary subscription (not share groups);
  // set: to one local member of the group `$share/<share_name>/<share_filter>` only. Any thread.
  // `ticket`, if given, receives the durable-store ticket of the deliveries it journaled (0: none).
  std::size_t route_from_peer(const message_ptr& msg, std::string_view share_name = {},
                              std::string_view share_filter = {}, std::uint64_t* ticket = nullptr);

  // Persistence: the store journaling every durable change (null: in memory only). Set before
  // start, after restoring what it holds.
  void set_durable_store(durable_store* s);
  durable_store* durable() const noexcept { return durable_; }

  // `leaving` lost its connection: its queued and unacknowledged messages from shared
  // subscriptions go to other online members of their groups (MQTT 4.8.2).
  void reroute_shared(const session_ptr& leaving);

  // Periodic work: ends expired sessions, publishes wills whose delay has passed, gives memory
  // back after large removals (memory_release).
  void tick();

  // Publishes the $SYS/broker/... statistics as retained messages. These publishes are not
  // counted as received or delivered messages (the numbers would move by themselves).
  void publish_sys(const std::string& version);
  // Modules add their own counters to $SYS: `source(put)` calls put(topic, value) for each.
  using sys_put = std::function<void(const std::string& topic, std::uint64_t value)>;
  // Any thread, at any time: the admin server serves /metrics while the stores are still being
  // restored and registering theirs (registry_mu_ below).
  void add_sys_source(std::function<void(const sys_put&)> source) {
    std::lock_guard g(registry_mu_);
    sys_sources_.push_back(std::move(source));
  }
  // The one registry of statistics: every $SYS/broker/... number (the broker's and every added
  // source's), in a stable order. publish_sys() publishes them; the admin server's /metrics
  // renders the same values, so the two never disagree. Any thread; sources must be callable
  // concurrently (they read atomics or take their own lock) and must not register sources.
  void collect_sys(const sys_put& put) const;
  // Latency histograms beside the $SYS numbers (Prometheus only). `h` must outlive the readers
  // (the admin server): modules register what they own for the process's life. Any time.
  struct named_histogram {
    std::string name;  // a Prometheus metric name, e.g. edgemq_statestore_request_duration_seconds
    std::string help;
    const latency_histogram* h;
  };
  void add_histogram(named_histogram h) {
    std::lock_guard g(registry_mu_);
    histograms_.push_back(std::move(h));
  }
  std::vector<named_histogram> histograms() const {
    std::lock_guard g(registry_mu_);
    return histograms_;
  }
  std::chrono::seconds uptime() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock::now() - started_);
  }

 private:
  struct peer_target {
    std::string_view share_name, share_filter;
  };
  std::size_t route(const message_ptr& msg, std::uint64_t* ticket, bool count, const peer_target* peer = nullptr);

  limits limits_;
  counters counters_;
  topic_tree tree_;
  memory_release memory_release_;  // used by tick() only
  retained_store retained_;
  session_registry sessions_;
  std::unique_ptr<authenticator_registry> auth_;
  reserved_topics services_;
  connect_interceptor* interceptor_ = nullptr;
  session_directory* directory_ = nullptr;
  lifecycle_events events_{*this};
  mutable std::mutex security_mu_;
  std::vector<std::shared_ptr<const listener_security>> security_;  // by listener index
  durable_store* durable_ = nullptr;
  std::atomic<cluster_link*> link_{nullptr};
  // Guards the two registries (written at start-up by the composition root while the admin thread
  // may already read them; never held while anything but a source runs).
  mutable std::mutex registry_mu_;
  std::vector<std::function<void(const sys_put&)>> sys_sources_;
  std::vector<named_histogram> histograms_;
  std::function<clock::time_point()> now_ = [] { return clock::now(); };
  clock::time_point started_ = clock::now();
};

}  // namespace edgemq::broker
