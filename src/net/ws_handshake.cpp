#include "net/ws_handshake.hpp"

#include <algorithm>
#include <cctype>

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace edgemq::net::ws {
namespace http = boost::beast::http;

namespace {

// RFC 6455 4.1: the key is 16 random bytes in base64, 24 characters ending in "==".
bool valid_key(std::string_view k) {
  if (k.size() != 24 || k.substr(22) != "==") return false;
  return std::all_of(k.begin(), k.begin() + 22,
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/'; });
}

}  // namespace

std::string accept_key(std::string_view client_key) {
  boost::beast::websocket::detail::sec_ws_accept_type out;
  boost::beast::websocket::detail::make_sec_ws_accept(out, client_key.substr(0, 24));
  return std::string(out.data(), out.size());
}

void upgrade_request::refuse(int code, std::string_view phrase, std::string reason, std::string_view extra_headers) {
  status_ = status::refused;
  reason_ = std::move(reason);
  const std::string body = std::to_string(code) + " " + std::string(phrase) + ": " + reason_ + "\n";
  response_ = "HTTP/1.1 " + std::to_string(code) + " " + std::string(phrase) + "\r\n" + std::string(extra_headers) +
              "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\nConnection: close\r\n\r\n" + body;
}

upgrade_request::status upgrade_request::feed(std::span<const std::uint8_t> data) {
  if (status_ != status::need_more) return status_;
  buf_.append(reinterpret_cast<const char*>(data.data()), data.size());
  // Parsed again from the start as bytes arrive: a request is small, and bounded by max_bytes.
  http::request_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(max_bytes_));
  parser.body_limit(0);
  parser.eager(true);
  boost::system::error_code ec;
  const std::size_t used = parser.put(boost::asio::buffer(buf_.data(), std::min(buf_.size(), max_bytes_)), ec);
  if (ec == http::error::need_more) {
    if (buf_.size() >= max_bytes_)
      refuse(431, "Request Header Fields Too Large", "request larger than " + std::to_string(max_bytes_) + " bytes");
    return status_;
  }
  if (ec == http::error::header_limit) {
    refuse(431, "Request Header Fields Too Large", "request larger than " + std::to_string(max_bytes_) + " bytes");
    return status_;
  }
  if (ec || !parser.is_header_done()) {
    refuse(400, "Bad Request", "not an HTTP request: " + ec.message());
    return status_;
  }
  if (!parser.is_done()) {
    refuse(400, "Bad Request", "a WebSocket upgrade request has no body");
    return status_;
  }
  consumed_ = used;
  const auto& req = parser.get();
  const std::string_view target(req.target().data(), req.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path != path_) {
    refuse(404, "Not Found",
           "no WebSocket endpoint at '" + std::string(path) + "' (this listener serves '" + path_ + "')");
    return status_;
  }
  if (req.method() != http::verb::get) {
    refuse(400, "Bad Request", "a WebSocket upgrade is a GET request");
    return status_;
  }
  if (!boost::beast::websocket::is_upgrade(req)) {
    refuse(400, "Bad Request", "not a WebSocket upgrade request (Connection: Upgrade, Upgrade: websocket)");
    return status_;
  }
  if (req[http::field::sec_websocket_version] != "13") {
    refuse(426, "Upgrade Required", "WebSocket version 13 required", "Sec-WebSocket-Version: 13\r\n");
    return status_;
  }
  const auto key = req[http::field::sec_websocket_key];
  if (!valid_key(std::string_view(key.data(), key.size()))) {
    refuse(400, "Bad Request", "missing or malformed Sec-WebSocket-Key");
    return status_;
  }
  // The subprotocol: a client that offers some must offer mqtt [MQTT-6.0.0-3]; one that offers
  // none is let in (some clients do not send the header), and gets none back.
  bool offered = false;
  bool mqtt = false;
  const auto [first, last] = req.equal_range(http::field::sec_websocket_protocol);
  for (auto it = first; it != last; ++it) {
    for (const auto& token : http::token_list(it->value())) {
      offered = true;
      if (token == "mqtt") mqtt = true;
    }
  }
  if (offered && !mqtt) {
    refuse(400, "Bad Request", "subprotocol 'mqtt' not offered in Sec-WebSocket-Protocol");
    return status_;
  }
  status_ = status::accepted;
  response_ =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
      accept_key(std::string_view(key.data(), key.size())) + "\r\n" + (mqtt ? "Sec-WebSocket-Protocol: mqtt\r\n" : "") +
      "\r\n";
  return status_;
}

}  // namespace edgemq::net::ws
