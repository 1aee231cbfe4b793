// Retained messages, one per topic. Set, replace, clear (empty payload) and lookup by filter.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "broker/message.hpp"

namespace edgemq::broker {

class retained_store {
 public:
  // Stores `msg` for its topic, or clears the topic when the payload is empty.
  void put(const message_ptr& msg);
  // Calls `visit` for every retained message whose topic matches `filter`; expired ones are
  // removed instead (MQTT-3.3.2-5).
  void match(std::string_view filter, clock::time_point now, const std::function<void(const message_ptr&)>& visit);
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, message_ptr, std::less<>> messages_;
};

}  // namespace edgemq::broker
