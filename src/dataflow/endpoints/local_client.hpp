// An MQTT client of the local broker inside the process: it drives a real broker::client_channel
// (sans-I/O: bytes in, packets out) with encoded packets instead of a socket, so a dataflow's
// `default` endpoint is a client like any other (sessions, $share groups, QoS 1, persistence)
// without a TCP round trip. It is the broker itself, so it comes in through no network listener:
// listener security (passwords, anonymous refusal, authorization policies) does not apply to it
// (docs/dataflows.md, "Runtime").
//
// Threads: everything runs on the runtime's I/O thread. The broker calls the link (notify, kick)
// from any thread; they only post to the I/O thread, so the channel needs no owner lock (ADR
// 0001: the channel is touched by one thread only).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "broker/broker.hpp"
#include "edgemq/mqtt/packet.hpp"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace edgemq::dataflow {

// The listener index in-process clients carry: no listener has it, so they get the defaults of
// broker::listener_security (anonymous, no policy).
inline constexpr std::uint32_t in_process_listener = 0xFFFFFFFEu;

class local_client {
 public:
  struct handlers {
    std::function<void(const mqtt::connack&)> on_connack;
    std::function<void(mqtt::publish&)> on_publish;  // QoS 1: acknowledge later with puback()
    std::function<void(std::uint16_t packet_id, mqtt::reason_code)> on_puback;
    std::function<void(const mqtt::suback&)> on_suback;
    std::function<void(const std::string& why)> on_closed;  // the broker ended the connection
  };
  local_client(boost::asio::io_context& io, broker::broker& core, std::shared_ptr<spdlog::logger> log, handlers h);
  ~local_client();
  local_client(const local_client&) = delete;
  local_client& operator=(const local_client&) = delete;

  // Sends `p` as the client would (CONNECT first). Output it causes is handled before returning
  // or, for output that waits on the durable store, when the broker notifies.
  void send(const mqtt::packet& p);
  void puback(std::uint16_t packet_id);
  // DISCONNECT (normal: the session stays for its expiry) and the end of the connection. No
  // handler is called afterwards.
  void close();
  bool open() const;

 private:
  struct state;
  std::shared_ptr<state> s_;
};

}  // namespace edgemq::dataflow
