// The admin HTTP server (docs/operations.md, ADR 0015): one listener, served by its own
// io_context on its own thread, so scrapes and API calls never take time from the MQTT workers
// and an overloaded broker still answers its probes. Asio- and Beast-free header.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "admin/router.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::admin {

// The certificate (chain) and key of an https admin server, PEM; TLS 1.2 or 1.3 as `min_version`
// says; `ciphers`: OpenSSL's list for TLS 1.2, empty for its default.
struct tls_files {
  std::string cert;
  std::string key;
  std::string min_version = "1.2";
  std::string ciphers;
};

// A certificate or key that does not load (names the file and OpenSSL's reason): exit status 2.
struct setup_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class admin_server {
 public:
  // `tls` set: https (the handshake first, then the same HTTP/1.1).
  admin_server(admin_context ctx, std::string host, std::uint16_t port, std::optional<tls_files> tls,
               std::shared_ptr<spdlog::logger> log);
  ~admin_server();
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;

  // Loads the TLS files (throws setup_error), binds (throws std::system_error naming the endpoint
  // when it cannot) and starts serving.
  // Returns the bound port (useful with port 0).
  std::uint16_t start();
  // Closes the listener and every connection, joins the thread. Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace edgemq::admin
