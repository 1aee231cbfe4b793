// The broker's view of a live network connection. Implemented by the net layer; the broker
// calls these from any thread (workers, the durable store's writer, the sweep) with no session or
// store lock held. They only queue work for whoever next holds the connection's owner lock (its
// worker, or another worker writing to it directly); they never touch the channel themselves.
// See docs/adr/0001-layering-and-threading.md, "Threads and locks today".
#pragma once

#include "edgemq/mqtt/types.hpp"

namespace edgemq::broker {

class link {
 public:
  virtual ~link() = default;
  // The session has new deliveries: pull them soon (under the connection's owner lock).
  virtual void notify() = 0;
  // Close the connection, telling an MQTT 5 client why (e.g. session_taken_over).
  virtual void kick(mqtt::reason_code why) = 0;
};

}  // namespace edgemq::broker
