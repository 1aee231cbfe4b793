// A minimal blocking MQTT 5 client over a POSIX socket for load generation: it reuses the
// project's codec and keeps no state beyond one read buffer. Not for production use.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "edgemq/mqtt/packet.hpp"

namespace edgemq::bench {

class mqtt_socket_client {
 public:
  mqtt_socket_client(const std::string& host, std::uint16_t port);
  ~mqtt_socket_client();
  mqtt_socket_client(const mqtt_socket_client&) = delete;
  mqtt_socket_client& operator=(const mqtt_socket_client&) = delete;

  void send(const mqtt::packet& p);
  // The next packet; throws std::runtime_error on close, error or timeout.
  mqtt::packet receive(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // CONNECT + CONNACK (throws unless accepted).
  void connect(const std::string& client_id);

 private:
  int fd_ = -1;
  std::string in_;
  std::string out_;
};

}  // namespace edgemq::bench
