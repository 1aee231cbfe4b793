// A small blocking MQTT 5 client for edgemq-cli: one TCP connection, every operation bounded
// by a deadline. Asio stays inside session.cpp (pimpl); this header only needs the codec.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "edgemq/mqtt/packet.hpp"

namespace edgemq::cli {

// Process exit codes (the CLI's scripting contract).
enum exit_code : int {
  exit_ok = 0,
  exit_not_applied = 1,  // SET not applied, GET miss, DEL/VDEL nothing deleted, lock held
  exit_usage = 2,
  exit_failure = 3,        // connection, timeout or protocol failure
  exit_service_error = 4,  // -ERR reply
  exit_interrupted = 130,  // SIGINT/SIGTERM before the command completed
};

// A failure that ends the command with `code`; what() goes to stderr.
struct cli_error : std::runtime_error {
  int code;
  cli_error(int c, const std::string& what) : std::runtime_error(what), code(c) {}
};

using steady = std::chrono::steady_clock;
// nullopt: no deadline (wait forever).
using deadline = std::optional<steady::time_point>;

struct connect_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::string client_id;
  std::uint16_t keep_alive = 60;
  std::optional<std::string> username;
  std::optional<std::string> password;
};

class session {
 public:
  session();
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // TCP connect, CONNECT (MQTT 5, clean start), CONNACK. Throws cli_error.
  void connect(const connect_options& o, deadline d);
  // SUBSCRIBE one filter at QoS 1 and wait for its SUBACK.
  void subscribe(const std::string& filter, deadline d);
  // PUBLISH at QoS 1 (packet id assigned here) and wait for its PUBACK.
  void publish(mqtt::publish p, deadline d);
  // The next incoming application message (already acknowledged), or nullopt when the
  // deadline passes first. Throws cli_error on failure and interrupted_error on SIGINT/SIGTERM.
  std::optional<mqtt::publish> receive(deadline d);
  // Best effort: DISCONNECT (normal) and close. Never throws.
  void disconnect() noexcept;

  const std::string& client_id() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};

// SIGINT or SIGTERM arrived while waiting.
struct interrupted_error : std::runtime_error {
  interrupted_error() : std::runtime_error("interrupted") {}
};

}  // namespace edgemq::cli
