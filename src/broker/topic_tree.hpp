// The subscription index: a trie over topic levels, read by every worker at once. Publishes
// take the shared lock once per message (never per subscriber); subscribe and unsubscribe take
// it exclusively. No I/O happens under the lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/session.hpp"

namespace edgemq::broker {

struct subscriber {
  session* s = nullptr;  // owned by the registry; removed from the tree before it is destroyed
  mqtt::subscribe_options options;
  std::uint32_t subscription_id = 0;
};

class topic_tree {
 public:
  topic_tree();
  ~topic_tree();

  // Adds or replaces the subscription of `s` to `filter`. Returns true if it replaced one.
  bool subscribe(std::string_view filter, const subscriber& sub);
  // Returns true if a subscription existed.
  bool unsubscribe(std::string_view filter, const session* s);

  // Calls `visit` for every subscription matching `topic`, then `done`, all with the shared
  // lock held (so the sessions seen stay alive until `done` returns). Neither may call back
  // into the tree.
  void match(std::string_view topic, const std::function<void(const subscriber&)>& visit,
             const std::function<void()>& done = {}) const;

  std::size_t size() const;

 private:
  struct node;
  mutable std::shared_mutex mu_;
  std::unique_ptr<node> root_;
  std::size_t count_ = 0;
};

}  // namespace edgemq::broker
