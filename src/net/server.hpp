// The network side of the daemon: worker threads (one io_context each), TCP listeners that
// spread accepted connections across workers, and a bounded graceful shutdown. The header is
// Asio-free so the composition root and tests include it cheaply; its options are plain values
// owned by config (config::server_options).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "config/server_options.hpp"

namespace spdlog {
class logger;
}
namespace edgemq::broker {
class broker;
}

namespace edgemq::net {

// A listener that cannot be set up as configured: a TLS certificate, key or CA file that does not
// load (the message names the file and OpenSSL's reason). A configuration error: exit status 2.
struct setup_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class server {
 public:
  server(broker::broker& b, config::server_options opts, std::shared_ptr<spdlog::logger> log);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Loads every TLS listener's certificate and key (throws setup_error if one does not load),
  // binds every listener (throws std::system_error naming the endpoint if one cannot be bound)
  // and starts the worker threads. Returns the bound ports, in listener order (useful with
  // port 0).
  std::vector<std::uint16_t> start();

  // Blocks until SIGINT/SIGTERM, then shuts down gracefully: stop accepting, tell every client
  // (MQTT 5: DISCONNECT 0x8B), wait for them up to the shutdown timeout, stop the workers.
  // SIGHUP meanwhile calls the options' on_reload (on the signal thread) and keeps running.
  void run_until_signal();

  // Same shutdown, callable from any thread.
  void stop();

  // The TLS part of a reload (as SIGHUP does), callable from any thread: every TLS listener's
  // context made again from its files. Each listener is named in `loaded` or, with the reason,
  // in `failed` (it keeps its previous context).
  struct tls_reload {
    std::vector<std::string> loaded;
    std::vector<std::pair<std::string, std::string>> failed;
  };
  tls_reload reload_tls();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace edgemq::net
