// The broker's view of a live network connection. Implemented by the net layer; the broker
// calls these from any thread, the implementation hops to the connection's own thread.
#pragma once

#include "edgemq/mqtt/types.hpp"

namespace edgemq::broker {

class link {
 public:
  virtual ~link() = default;
  // The session has new deliveries: pull them on the connection's thread soon.
  virtual void notify() = 0;
  // Close the connection, telling an MQTT 5 client why (e.g. session_taken_over).
  virtual void kick(mqtt::reason_code why) = 0;
};

}  // namespace edgemq::broker
