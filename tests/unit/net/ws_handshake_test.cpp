// The WebSocket opening handshake (src/net/ws_handshake.hpp): what each request gets back.
#include "net/ws_handshake.hpp"

#include <string>

#include <gtest/gtest.h>

namespace {
using edgemq::net::ws::accept_key;
using edgemq::net::ws::upgrade_request;
using status = upgrade_request::status;

std::string request(const std::string& path = "/mqtt", const std::string& extra = "Sec-WebSocket-Protocol: mqtt\r\n",
                    const std::string& key = "dGhlIHNhbXBsZSBub25jZQ==", const std::string& version = "13") {
  return "GET " + path + " HTTP/1.1\r\nHost: broker:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
         "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: " + version + "\r\n" + extra + "\r\n";
}

status feed(upgrade_request& r, const std::string& s) {
  return r.feed(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

std::string status_line(const upgrade_request& r) {
  return r.response().substr(0, r.response().find("\r\n"));
}

TEST(WsHandshake, AcceptKeyIsTheRfcExample) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");  // RFC 6455 1.3
}

TEST(WsHandshake, UpgradeWithMqttSubprotocol) {
  upgrade_request r("/mqtt", 8192);
  EXPECT_EQ(feed(r, request()), status::accepted);
  EXPECT_EQ(status_line(r), "HTTP/1.1 101 Switching Protocols");
  EXPECT_NE(r.response().find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
  EXPECT_NE(r.response().find("Sec-WebSocket-Protocol: mqtt\r\n"), std::string::npos);
  EXPECT_TRUE(r.leftover().empty());
}

TEST(WsHandshake, RequestInPiecesAndFirstFrameAfterIt) {
  upgrade_request r("/mqtt", 8192);
  const std::string req = request("/mqtt?client=1", "Sec-WebSocket-Protocol: foo, mqtt\r\n") + "\x82\x80";
  for (std::size_t i = 0; i + 1 < req.size() - 2; ++i) ASSERT_EQ(feed(r, req.substr(i, 1)), status::need_more) << i;
  EXPECT_EQ(feed(r, req.substr(req.size() - 3)), status::accepted);
  EXPECT_EQ(r.leftover(), std::string("\x82\x80", 2));
  EXPECT_NE(r.response().find("Sec-WebSocket-Protocol: mqtt\r\n"), std::string::npos);
}

TEST(WsHandshake, NoSubprotocolOfferedIsAcceptedWithoutOne) {
  upgrade_request r("/mqtt", 8192);
  EXPECT_EQ(feed(r, request("/mqtt", "")), status::accepted);
  EXPECT_EQ(r.response().find("Sec-WebSocket-Protocol"), std::string::npos);
}

TEST(WsHandshake, Refusals) {
  struct bad {
    const char* what;
    std::string in;
    std::string status;
  };
  const std::vector<bad> cases = {
      {"wrong path", request("/other"), "HTTP/1.1 404 Not Found"},
      {"subprotocols without mqtt", request("/mqtt", "Sec-WebSocket-Protocol: wamp, mqttv3.1\r\n"),
       "HTTP/1.1 400 Bad Request"},
      {"not an upgrade", "GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"POST", "POST /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"HTTP/1.0", "GET /mqtt HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"version 8", request("/mqtt", "", "dGhlIHNhbXBsZSBub25jZQ==", "8"), "HTTP/1.1 426 Upgrade Required"},
      {"bad key", request("/mqtt", "", "short"), "HTTP/1.1 400 Bad Request"},
      {"garbage", "\x16\x03\x01\x02\x00 not http\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"a body", request("/mqtt", "Content-Length: 3\r\n") + "abc", "HTTP/1.1 400 Bad Request"},
  };
  for (const auto& c : cases) {
    upgrade_request r("/mqtt", 8192);
    EXPECT_EQ(feed(r, c.in), status::refused) << c.what;
    EXPECT_EQ(status_line(r), c.status) << c.what;
    EXPECT_NE(r.response().find("Connection: close\r\n"), std::string::npos) << c.what;
    EXPECT_FALSE(r.reason().empty()) << c.what;
  }
  upgrade_request v("/mqtt", 8192);
  feed(v, request("/mqtt", "", "dGhlIHNhbXBsZSBub25jZQ==", "8"));
  EXPECT_NE(v.response().find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
}

TEST(WsHandshake, OversizeRequestIsRefusedWithoutBufferingIt) {
  upgrade_request r("/mqtt", 1024);
  const std::string big = "GET /mqtt HTTP/1.1\r\nX-Filler: " + std::string(600, 'a') + "\r\n";
  EXPECT_EQ(feed(r, big), status::need_more);
  EXPECT_EQ(feed(r, "X-More: " + std::string(600, 'b') + "\r\n"), status::refused);
  EXPECT_EQ(status_line(r), "HTTP/1.1 431 Request Header Fields Too Large");
  // A header that never ends is refused at the limit, too.
  upgrade_request endless("/mqtt", 1024);
  status s = status::need_more;
  for (int i = 0; i < 100 && s == status::need_more; ++i) s = feed(endless, std::string(100, 'x'));
  EXPECT_EQ(s, status::refused);
}

}  // namespace
