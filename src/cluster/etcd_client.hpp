// etcd v3 through its JSON gateway (POST /v3/..., HTTP/1.1, keys and values base64, int64 as
// strings, defaults omitted): no gRPC, no protobuf (docs/adr/0027). One client per node, shared by
// the cluster state store and the session directory.
//
// Threads: the client runs its own I/O thread; every callback is called on it and must not
// block. Requests go to the first member that answers, rotating to the next on a transport error
// or a 503 ("no leader"), and fail with `unavailable` once every member failed or the deadline
// passed: a caller never gets a wrong answer for a request that did not reach a quorum.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cluster/connection_security.hpp"

namespace edgemq::cluster {

struct etcd_error {
  enum class kind : std::uint8_t {
    none,
    unavailable,  // no member answered in time, or none has a leader (partitioned, election)
    refused,      // etcd answered with an error (a bad request, a compacted revision, a lost lease)
  } code = kind::none;
  std::string message;
  explicit operator bool() const noexcept { return code != kind::none; }
};

struct etcd_options {
  std::vector<std::string> endpoints;  // http://HOST:PORT or https://HOST:PORT of each member
  std::chrono::milliseconds request_timeout{3000};
  // https:// endpoints: the CA and client certificate; an etcd user: its token is asked for before
  // the first request, sent with each, and asked for again once when etcd refuses it.
  connection_security security;
};

class etcd_client {
 public:
  explicit etcd_client(etcd_options opts);  // throws std::runtime_error on unusable TLS files
  ~etcd_client();                           // stops the I/O thread; pending callbacks are called with `unavailable`
  etcd_client(const etcd_client&) = delete;
  etcd_client& operator=(const etcd_client&) = delete;

  using reply = std::function<void(const etcd_error&, nlohmann::json answer)>;
  // POSTs `body` to `path` ("/v3/kv/txn", "/v3/kv/range", "/v3/lease/grant", ...).
  void call(std::string path, nlohmann::json body, reply done);
  // The same, waiting for the answer (start-up and tests only, never on the client's thread).
  std::pair<etcd_error, nlohmann::json> call_sync(std::string path, nlohmann::json body);

  // A watch on [key, range_end) (range_end empty: the key alone) from `start_revision` (0: now).
  // `on_events` gets each watch response's events (the gateway's JSON array) and its header
  // revision. The stream is opened with `Grpc-Metadata-hasleader: true`, so a member that loses
  // its leader ends it; the client then reopens it on another member from the last revision seen
  // + 1, so no event is lost or repeated. `on_error` is called when it cannot resume (the revision
  // was compacted: the caller must re-read) and while no member can be reached.
  using watch_id = std::uint64_t;
  watch_id watch(std::string key, std::string range_end, std::int64_t start_revision,
                 std::function<void(const nlohmann::json& events, std::int64_t revision)> on_events,
                 std::function<void(const etcd_error&)> on_error);
  void cancel_watch(watch_id id);

  // A lease of `ttl_s` seconds kept alive by the client (keep-alive every ttl/3) until revoked.
  // `on_lost` is called once if etcd says the lease is gone or no keep-alive succeeded within
  // the TTL: whatever the caller held under it is no longer its own.
  void grant_lease(std::int64_t ttl_s, std::function<void(const etcd_error&, std::int64_t lease_id)> done,
                   std::function<void()> on_lost);
  void revoke_lease(std::int64_t lease_id);

  static std::string b64(std::string_view raw);
  static std::string unb64(std::string_view text);  // empty on malformed input
  // The range end that makes [prefix, end) every key starting with `prefix` (etcd's rule).
  static std::string prefix_end(std::string_view prefix);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace edgemq::cluster
