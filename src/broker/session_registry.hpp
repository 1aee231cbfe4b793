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
  session_registry(topic_tree& tree, const limits& lim, counters& stats) : tree_(tree), limits_(lim), stats_(stats) {}

  // Attaches `l` to the session of `client_id`, resuming it unless `clean_start`.
  attach_result attach(const std::string& client_id, bool clean_start, std::uint32_t expiry_interval,
                       std::shared_ptr<link> l);

  // The connection `l` is gone. Ends the session if its expiry interval is 0, unless another
  // connection has taken it over meanwhile.
  // `will` (may be null) is published when its delay passes or the session ends, whichever is
  // first; it is returned for immediate publication when the session ends now.
  message_ptr detach(const session_ptr& s, const link* l, clock::time_point now, message_ptr will = nullptr,
                     std::uint32_t will_delay = 0);

  // Ends offline sessions whose expiry interval has passed and collects wills whose delay has
  // passed (or whose session ended first): the caller publishes them.
  std::size_t expire(clock::time_point now, std::vector<message_ptr>& due_wills);

  session_ptr find(const std::string& client_id) const;

  void set_store(durable_store* s) noexcept { store_ = s; }
  // Start-up: an offline session as the durable store had it.
  struct restored_session {
    session_image image;
    std::vector<std::pair<stored_stage, std::pair<std::uint16_t, delivery>>> messages;  // in seq order
    std::vector<std::uint16_t> inbound_qos2;
    message_ptr will;
    std::uint64_t will_at_wall_ms = 0;
  };
  session_ptr restore(restored_session r, clock::time_point now);
  std::size_t size() const;
  std::size_t connected() const;

 private:
  // Registry mutex held, session mutex not held. A pending will is moved to `wills`.
  void end_locked(const session_ptr& s, std::vector<message_ptr>* wills = nullptr);

  topic_tree& tree_;
  const limits& limits_;
  counters& stats_;
  durable_store* store_ = nullptr;
  mutable std::mutex mu_;
  std::unordered_map<std::string, session_ptr> sessions_;
};

}  // namespace edgemq::broker
