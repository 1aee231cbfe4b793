// The server side of the WebSocket opening handshake (RFC 6455 section 4.2) for MQTT, sans-I/O:
// feed it the client's bytes; it answers with the 101 response that upgrades the connection, or
// with the HTTP error that refuses it (400 bad upgrade request, 404 wrong path, 426 unsupported
// version, 431 request too large). Beast's HTTP parser does the parsing, in the .cpp only
// (compile time: this header stays light). ADR 0013.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace edgemq::net::ws {

// RFC 6455 4.2.2: base64(SHA-1(key + the RFC's GUID)).
std::string accept_key(std::string_view client_key);

class upgrade_request {
 public:
  enum class status { need_more, accepted, refused };

  // `path`: the only request target accepted (the query string is ignored); `max_bytes`: the most
  // the request may take, headers included.
  upgrade_request(std::string path, std::size_t max_bytes) : path_(std::move(path)), max_bytes_(max_bytes) {}

  // Appends what arrived and decides when it can.
  status feed(std::span<const std::uint8_t> data);

  status state() const noexcept { return status_; }
  // The response to send: 101 when accepted, the error (Connection: close) when refused.
  const std::string& response() const noexcept { return response_; }
  // Bytes the client sent after its request (accepted only): the first frames.
  std::string_view leftover() const noexcept { return std::string_view(buf_).substr(consumed_); }
  // Why it was refused, for the log (may hold client text: log it through log_safe).
  const std::string& reason() const noexcept { return reason_; }

 private:
  void refuse(int code, std::string_view phrase, std::string reason, std::string_view extra_headers = {});

  std::string path_;
  std::size_t max_bytes_;
  std::string buf_;
  std::size_t consumed_ = 0;
  status status_ = status::need_more;
  std::string response_;
  std::string reason_;
};

}  // namespace edgemq::net::ws
