// Where a client's session lives when several brokers share one cluster (docs/cluster.md,
// "Sessions across nodes"; docs/adr/0029). The CONNECT path asks it, before attaching, to make
// this node the one owner of the client id: it takes the session over from the node that held
// it (that node's connection gets DISCONNECT 0x8E) and brings the session's state into this
// broker's session registry (session_registry::restore), so the attach that follows resumes it.
// No directory (the default): the single-node path, unchanged.
#pragma once

#include <string>

#include "broker/message.hpp"
#include "edgemq/mqtt/packet.hpp"

namespace edgemq::broker {

struct session_claim {
  // success: this node owns the client id now; anything else: refuse the CONNECT with it
  // (server_unavailable when the directory cannot be reached: never two owners).
  mqtt::reason_code code = mqtt::reason_code::success;
  std::string why;  // for the refusal's log line
};

class session_directory {
 public:
  virtual ~session_directory() = default;
  // Called on the connection's worker during CONNECT, before session_registry::attach, with no
  // lock held. It may block for a few round trips to other nodes (bounded by its own timeouts).
  // `clean_start`: the state elsewhere is discarded rather than brought here.
  virtual session_claim claim(const std::string& client_id, bool clean_start) = 0;

  // The will of an open connection, kept where the other nodes find it should this node die with
  // the connection open (the client's next owner or the session janitor publishes it; docs/cluster.md,
  // "Wills"). Called on the connection's worker after the attach, no lock held; returns at once.
  virtual void arm_will(const std::string& /*client_id*/, const message& /*will*/, std::uint32_t /*delay_s*/) {}
  // The connection that armed a will ended on this node while it still held the session: the
  // will is this node's to publish or journal again. Called before session_registry::detach.
  virtual void disarm_will(const std::string& /*client_id*/) {}
};

}  // namespace edgemq::broker
