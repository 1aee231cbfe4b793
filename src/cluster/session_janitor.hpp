// The cluster's session janitor (docs/cluster.md "Sessions across nodes", docs/adr/0034): the
// replicated sessions no node owns (their owner died, or released them) are looked after while
// their client is away. One node at a time does it, elected through etcd (`<root>janitor` put
// with create_revision == 0 under that node's lease); every `period` it lists, with keys-only range
// reads, the client prefixes under `<root>s/` that have no owner key under `<root>o/`, and for each:
//   - claims it as a CONNECT would (owner key create_revision == 0 -> this node's name under its
//     lease), so a client connecting meanwhile and the janitor never both act on it;
//   - reads its records and decodes them (decode_session_records);
//   - a session whose expiry passed: all its records are deleted, its will published;
//   - a delayed will whose time came: its record is deleted, the will published;
//   - a session journaled while connected (its node died with the connection open): written back
//     with a disconnect time of now, so its expiry runs from there, and the armed will of that
//     connection (session_records.hpp) as a will delayed from then; without a session (no
//     expiry), that will is published now;
//   - releases the owner key (deleted only while it still names this node).
// Each deletion is one transaction that compares the owner key with this node's name and the
// revision of the claim: a client that took the id over meanwhile (from any node) makes it fail,
// and then nothing is published. The will is published after that commit: at most once, even
// against a CONNECT racing it (a janitor that dies between the two loses the will).
// Sessions with nothing due are left alone and looked at again only once their records changed
// or their next deadline (will, expiry) came.
//
// Election is only there to keep the work on one node: two janitors at once (a lease lapsing
// mid-scan) are still safe, the per-client claim is what excludes.
//
// Threads: one of its own (start/stop); run_once() may be called instead (tests).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "broker/durable_store.hpp"
#include "broker/message.hpp"
#include "cluster/connection_security.hpp"
#include "cluster/session_records.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::cluster {

class session_etcd_http;

struct session_janitor_options {
  std::string node;
  std::vector<std::string> etcd;  // http://HOST:PORT or https://
  connection_security security;   // TLS and etcd user, as the node's other etcd clients
  std::string root = "edgemq/sessions/";
  std::chrono::milliseconds period{1000};
  // The node's lease (session_ownership's): the election key and the claims are put under it.
  std::function<std::int64_t()> lease;
  // Publishes a due will (broker::publish).
  std::function<void(const broker::message_ptr&)> publish;
  // Local exclusion with this node's CONNECTs (session_ownership::begin_sweep/end_sweep): false
  // when a CONNECT of the client is being claimed here; the client is skipped this round.
  std::function<bool(const std::string& client_id)> begin_sweep;
  std::function<void(const std::string& client_id)> end_sweep;
  // Tests: called after a client id was claimed and its records read, before anything is deleted.
  std::function<void(const std::string& client_id)> after_claim;
  std::function<std::uint64_t()> wall_now;  // default broker::wall_now_ms
};

class session_janitor {
 public:
  session_janitor(session_janitor_options opts, std::shared_ptr<spdlog::logger> log);
  ~session_janitor();  // stop()
  session_janitor(const session_janitor&) = delete;
  session_janitor& operator=(const session_janitor&) = delete;

  void start();
  void stop();  // joins the thread; a claim in progress is released first

  struct round {
    bool elected = false;       // this node is the janitor (else nothing below was done)
    std::size_t unowned = 0;    // client prefixes found without owner
    std::size_t examined = 0;   // of these, claimed and read
    std::size_t swept = 0;      // sessions erased (expired, or records without a session)
    std::size_t wills = 0;      // wills published
    std::size_t conflicts = 0;  // claimed by a client meanwhile: left to it
    std::size_t marked = 0;     // connected when their node went: marked disconnected now
    bool error = false;         // etcd could not be read or written
  };
  // One scan (what the thread does every period).
  round run_once();

  std::uint64_t swept() const { return swept_.load(); }
  std::uint64_t wills_published() const { return wills_.load(); }

 private:
  struct seen {
    std::int64_t max_mod_revision = 0;
    std::size_t keys = 0;
    std::uint64_t next_due_wall_ms = 0;  // UINT64_MAX: nothing will come due
  };
  bool elect(session_etcd_http& etcd, std::int64_t lease);
  // Client prefix (hex) -> what its keys look like now; false on an etcd error.
  bool list_records(session_etcd_http& etcd, std::map<std::string, seen>& out);
  bool list_owned(session_etcd_http& etcd, std::vector<std::string>& owned_hex);
  void examine(session_etcd_http& etcd, const std::string& hex, seen now_seen, std::int64_t lease, round& r);
  // Writes `img` with a disconnect time of `wall` unless it has one, and an armed will of `d` as a
  // will delayed from that time (while the claim `still_mine` holds); false when etcd did not take it.
  bool mark_disconnected(session_etcd_http& etcd, const std::string& client_id, broker::session_image& img,
                         decoded_session& d, std::uint64_t wall, const nlohmann::json& still_mine, seen& s);
  void run();

  session_janitor_options opts_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<session_etcd_http> etcd_;
  std::map<std::string, seen> cache_;  // hex client id -> as it was when last examined (run_once only)
  std::atomic<std::uint64_t> swept_{0}, wills_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace edgemq::cluster
