// The admin HTTP server (docs/operations.md, ADR 0015): one listener, served by its own
// io_context on its own thread, so scrapes and API calls never take time from the MQTT workers
// and an overloaded broker still answers its probes. Asio- and Beast-free header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "admin/router.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::admin {

class admin_server {
 public:
  admin_server(admin_context ctx, std::string host, std::uint16_t port, std::shared_ptr<spdlog::logger> log);
  ~admin_server();
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;

  // Binds (throws std::system_error naming the endpoint when it cannot) and starts serving.
  // Returns the bound port (useful with port 0).
  std::uint16_t start();
  // Closes the listener and every connection, joins the thread. Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace edgemq::admin
