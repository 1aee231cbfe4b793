// A minimal synchronous client of etcd's JSON gateway for the session directory (docs/adr/0029):
// one keep-alive HTTP/1.1 connection, POST a JSON body, read the JSON answer. It rotates to the
// next endpoint on a transport error or a 5xx. https:// endpoints and etcd users are handled as
// etcd_client does (connection_security.hpp). Not thread-safe: each user (the directory's CONNECT
// path under its own mutex, the replication writer, the lease keeper) holds its own.
// Private to the session directory: the shared asynchronous client is etcd_client.hpp.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/connection_security.hpp"

namespace edgemq::cluster {

class session_etcd_http {
 public:
  // Throws std::runtime_error when the TLS settings cannot be used (a file, a key).
  session_etcd_http(std::vector<std::string> endpoints, std::chrono::milliseconds timeout,
                    const connection_security& security = {});
  ~session_etcd_http();
  session_etcd_http(const session_etcd_http&) = delete;
  session_etcd_http& operator=(const session_etcd_http&) = delete;

  // The answer, or nullopt when no member answered with a 2xx within the timeout (`error` says why).
  std::optional<nlohmann::json> post(const std::string& path, const nlohmann::json& body, std::string* error = nullptr);

  static std::string b64(std::string_view raw);
  static std::string unb64(std::string_view text);
  static std::string prefix_end(std::string_view prefix);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace edgemq::cluster
