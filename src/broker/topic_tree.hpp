// The subscription index: a trie over topic levels, read by every worker at once. Publishes
// take the shared lock (striped per thread) once per message, never per subscriber; subscribe
// and unsubscribe take it exclusively. No I/O happens under the lock. It is taken before session
// locks, never while one is held (docs/adr/0001-layering-and-threading.md, "Threads and locks today").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/function_ref.hpp"
#include "broker/session.hpp"
#include "broker/striped_shared_mutex.hpp"

namespace edgemq::broker {

struct subscriber {
  session* s = nullptr;  // owned by the registry; removed from the tree before it is destroyed
  mqtt::subscribe_options options;
  std::uint32_t subscription_id = 0;
};

// The members of one shared subscription "$share/{name}/{filter}" (MQTT 4.8.2). Members are
// guarded by the tree's lock; `next` rotates the choice among them.
struct share_group {
  std::string name;
  std::string filter;
  std::vector<subscriber> members;
  mutable std::atomic<std::size_t> next{0};
};

// Splits "$share/{name}/{filter}"; false if `filter` is a shared subscription with an empty or
// invalid share name or no filter after it (MQTT-4.8.2-1, 4.8.2-2).
bool parse_shared_filter(std::string_view full, std::string_view& name, std::string_view& filter);

class cluster_link;

class topic_tree {
 public:
  topic_tree();
  ~topic_tree();

  // Adds or replaces the subscription of `s` to `filter` ("$share/..." joins a share group).
  // Returns true if it replaced one.
  bool subscribe(std::string_view filter, const subscriber& sub);
  // Returns true if a subscription existed.
  bool unsubscribe(std::string_view filter, const session* s);

  // Calls `visit` for every ordinary subscription matching `topic` and `visit_group` for every
  // matching share group, then `done`, all with the shared lock held (so the sessions seen stay
  // alive until `done` returns). None may call back into this tree, and `visit` and `visit_group`
  // into no topic_tree at all (the per-thread remembered match below is being read or written).
  // What a topic matched is remembered per thread until the tree next changes (match_cache in
  // topic_tree.cpp): a publisher sending to the same topics again skips the walk.
  void match(std::string_view topic, function_ref<void(const subscriber&)> visit,
             function_ref<void(const std::shared_ptr<share_group>&)> visit_group = {},
             function_ref<void()> done = {}) const;

  // Cluster mode: `l` hears every distinct filter and share group appear and go (cluster_link's
  // interest calls, under the exclusive lock). Those already here are reported at once, under
  // the same lock, so none is missed or reported twice. Null: off.
  void set_interest_listener(cluster_link* l);

  // Runs `f` with the shared lock held (for work on share groups outside a match).
  void with_shared_lock(const std::function<void()>& f) const;

  std::size_t size() const;
  // Trie nodes below the root: 0 once every filter is gone (emptied branches are pruned).
  std::size_t node_count() const;
  // Subscriptions removed since the tree was made (a running count, read without the lock):
  // the broker gives memory back to the system after many of them (memory_release).
  std::uint64_t removals() const noexcept { return removals_.load(std::memory_order_relaxed); }

 private:
  struct node;
  mutable striped_shared_mutex mu_;
  std::unique_ptr<node> root_;
  std::size_t count_ = 0;
  std::size_t nodes_ = 0;
  // Changes with every subscribe and unsubscribe (exclusive lock), drawn from one process-wide
  // counter so that no two tree states share a value: a match remembered for an earlier state, or
  // for a tree since destroyed at the same address, never matches it.
  std::uint64_t version_;
  std::atomic<std::uint64_t> removals_{0};
  cluster_link* interest_ = nullptr;  // guarded by mu_
};

}  // namespace edgemq::broker
