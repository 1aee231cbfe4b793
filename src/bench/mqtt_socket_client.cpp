#include "bench/mqtt_socket_client.hpp"

#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace edgemq::bench {

mqtt_socket_client::mqtt_socket_client(const std::string& host, std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) throw std::runtime_error("bad IPv4 address " + host);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("cannot connect to " + host + ":" + std::to_string(port));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

mqtt_socket_client::~mqtt_socket_client() {
  if (fd_ >= 0) ::close(fd_);
}

void mqtt_socket_client::send(const mqtt::packet& p) {
  out_.clear();
  mqtt::encode(p, mqtt::protocol_version::v5, out_);
  std::size_t off = 0;
  while (off < out_.size()) {
    const auto n = ::send(fd_, out_.data() + off, out_.size() - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed");
    off += static_cast<std::size_t>(n);
  }
}

mqtt::packet mqtt_socket_client::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto f = mqtt::parse_frame({reinterpret_cast<const std::uint8_t*>(in_.data()), in_.size()}, 1u << 28);
    if (f.status == mqtt::frame_status::complete) {
      auto p = mqtt::decode(f.value.header, f.value.body, mqtt::protocol_version::v5);
      if (!p) throw std::runtime_error("undecodable packet from the server");
      in_.erase(0, f.value.size);
      return std::move(*p);
    }
    if (f.status == mqtt::frame_status::error) throw std::runtime_error("bad frame from the server");
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("timeout waiting for the server");
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[65536];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) throw std::runtime_error("connection closed by the server");
    in_.append(buf, static_cast<std::size_t>(n));
  }
}

void mqtt_socket_client::connect(const std::string& client_id) {
  mqtt::connect c;
  c.client_id = client_id;
  c.keep_alive = 0;
  send(c);
  auto ack = receive();
  if (!std::holds_alternative<mqtt::connack>(ack) || std::get<mqtt::connack>(ack).code != mqtt::reason_code::success)
    throw std::runtime_error("CONNECT refused");
}

}  // namespace edgemq::bench
