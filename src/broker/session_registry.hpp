// Client id -> session. Decides on connect whether a session is resumed or started anew and
// which older connection must be taken over; ends sessions whose expiry has passed.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/session.hpp"

namespace edgemq::broker {

class topic_tree;

struct attach_result {
  session_ptr s;
  bool session_present = false;
  std::shared_ptr<link> taken_over;  // the previous connection of this client, to be kicked
};

class session_registry {
 public:
  session_registry(topic_tree& tree, const limits& lim) : tree_(tree), limits_(lim) {}

  // Attaches `l` to the session of `client_id`, resuming it unless `clean_start`.
  attach_result attach(const std::string& client_id, bool clean_start, std::uint32_t expiry_interval,
                       std::shared_ptr<link> l);

  // The connection `l` is gone. Ends the session if its expiry interval is 0, unless another
  // connection has taken it over meanwhile.
  void detach(const session_ptr& s, const link* l, clock::time_point now);

  // Ends offline sessions whose expiry interval has passed. Returns how many ended.
  std::size_t expire(clock::time_point now);

  std::size_t size() const;
  std::size_t connected() const;

 private:
  void end_locked(const session_ptr& s);  // registry mutex held, session mutex not held

  topic_tree& tree_;
  const limits& limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, session_ptr> sessions_;
};

}  // namespace edgemq::broker
