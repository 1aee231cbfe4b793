// The session directory of cluster mode (broker/session_directory.hpp; docs/adr/0029): one owner
// per client id in etcd, `<root>o/<hex client id>` -> node name, put under this node's lease, so
// a node that dies or stops releases its client ids when the lease ends. A CONNECT takes the key
// with a transaction that compares the current owner, asks that node over NATS (request/reply on
// `edgemq.sessions.<node>.take`) to hand the session over (its connection gets DISCONNECT 0x8E,
// its pending etcd writes are flushed), then reads the session's replicated records from etcd
// (replicated_session_store) into the local registry. A previous owner that does not answer
// (dead) changes nothing: the records in etcd are what it acknowledged. One that answers late, or
// comes back from a partition, is fenced (docs/adr/0033): its journal writes compare the owner
// key, and the session of a client it no longer owns ends there (0x8E).
//
// Threads: claim() runs on the CONNECT's worker and blocks for its round trips; take requests
// arrive on libnats' thread; the lease is kept alive by a thread of its own. No broker lock is
// held across any of them.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "broker/session_directory.hpp"
#include "cluster/connection_security.hpp"

namespace spdlog {
class logger;
}
namespace edgemq::broker {
class broker;
}

namespace edgemq::cluster {

class replicated_session_store;

struct session_ownership_options {
  std::string node;
  std::vector<std::string> etcd;  // http://HOST:PORT
  std::vector<std::string> nats;  // nats://HOST:PORT (tls://: TLS)
  connection_security security;   // for both
  std::string root = "edgemq/sessions/";
  std::int64_t lease_ttl_s = 4;
  // How long the previous owner may take to write out its last changes when handing a client over
  // (its answer may take half as long again to arrive).
  std::chrono::milliseconds takeover_timeout{2000};
};

class session_ownership final : public broker::session_directory {
 public:
  session_ownership(broker::broker& b, replicated_session_store& store, session_ownership_options opts,
                    std::shared_ptr<spdlog::logger> log);
  ~session_ownership() override;  // stop()
  // Grants the lease and subscribes to take requests; throws std::runtime_error if etcd or NATS
  // cannot be reached.
  void start();
  // Revokes the lease (this node's client ids are free at once) and closes the NATS connection.
  void stop();

  broker::session_claim claim(const std::string& client_id, bool clean_start) override;
  void arm_will(const std::string& client_id, const broker::message& will, std::uint32_t delay_s) override;
  void disarm_will(const std::string& client_id) override;

  // Node `new_owner` takes `client_id` over (the NATS handler; public for tests).
  bool hand_over(const std::string& client_id, const std::string& new_owner);

  // The node's current lease (0: none), for the session janitor's claims.
  std::int64_t lease() const;
  // The session janitor (session_janitor.hpp) works on a client id only while no CONNECT of it is
  // being claimed on this node (false: one is), and a CONNECT claiming it here waits until the
  // janitor's end_sweep(): claiming as this node, the two would otherwise find the owner key theirs.
  bool begin_sweep(const std::string& client_id);
  void end_sweep(const std::string& client_id);

  struct impl;

 private:
  broker::session_claim claim_or_throw(const std::string& client_id, bool clean_start);
  std::unique_ptr<impl> impl_;
};

}  // namespace edgemq::cluster
