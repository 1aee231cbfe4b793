// Retained messages, one per topic. Set, replace, clear (empty payload) and lookup by filter.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker/message.hpp"

namespace edgemq::broker {

class durable_store;

class retained_store {
 public:
  void set_store(durable_store* s) noexcept { store_ = s; }
  // Start-up: a retained message as the durable store had it (not written back).
  void restore(const message_ptr& msg);
  // Stores `msg` for its topic, or clears the topic when the payload is empty. Returns the
  // durable-store ticket (0 without a store).
  std::uint64_t put(const message_ptr& msg);
  // Calls `visit` for every retained message whose topic matches `filter`; expired ones are
  // removed instead (MQTT-3.3.2-5).
  void match(std::string_view filter, clock::time_point now, const std::function<void(const message_ptr&)>& visit);
  std::size_t size() const;

  // Operator queries (the admin API), any thread, under the store's own mutex (no other lock is
  // taken inside it). Retained messages matching `filter` with a topic after `after` (a paging
  // cursor; empty: from the start), in topic order, at most `limit`; expired ones are skipped
  // (match() removes them). `more`: further messages match.
  std::vector<message_ptr> list(std::string_view filter, std::string_view after, std::size_t limit,
                                clock::time_point now, bool& more) const;
  // Removes the retained message of `topic` (journaled as a clear). False when there is none.
  bool erase(std::string_view topic);

 private:
  durable_store* store_ = nullptr;
  mutable std::mutex mu_;
  std::map<std::string, message_ptr, std::less<>> messages_;
};

}  // namespace edgemq::broker
