// The Mqtt endpoint's WebSocket client framing (mqtt_ws.hpp), byte by byte.
#include "dataflow/endpoints/mqtt_ws.hpp"

#include <gtest/gtest.h>

namespace edgemq::dataflow::ws_client {
namespace {

TEST(MqttWsClient, UpgradeResponseCheckedAgainstTheKey) {
  // RFC 6455 1.3's example.
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  EXPECT_EQ(check_upgrade_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                   "sec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\nX: y",
                                   key),
            "");
  EXPECT_NE(check_upgrade_response("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: AAAA", key), "");
  EXPECT_NE(check_upgrade_response("HTTP/1.1 400 Bad Request\r\n", key).find("400 Bad Request"), std::string::npos);
  const auto req = upgrade_request("h:80", "/mqtt", key);
  EXPECT_TRUE(req.starts_with("GET /mqtt HTTP/1.1\r\nHost: h:80\r\n"));
  EXPECT_NE(req.find("Sec-WebSocket-Protocol: mqtt\r\n"), std::string::npos);
  EXPECT_TRUE(req.ends_with("\r\n\r\n"));
}

TEST(MqttWsClient, OurFramesAreMasked) {
  std::string out;
  append_frame(out, 2, "abc");
  ASSERT_EQ(out.size(), 2u + 4 + 3);
  EXPECT_EQ(static_cast<std::uint8_t>(out[0]), 0x82);
  EXPECT_EQ(static_cast<std::uint8_t>(out[1]), 0x80 | 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(static_cast<char>(out[6 + i] ^ out[2 + i]), "abc"[i]);
  out.clear();
  append_frame(out, 2, std::string(70000, 'x'));
  EXPECT_EQ(static_cast<std::uint8_t>(out[1]), 0x80 | 127);
  EXPECT_EQ(out.size(), 2u + 8 + 4 + 70000);
}

TEST(MqttWsClient, ServerFramesUnwrappedPingsAnsweredCloseEnds) {
  // binary "ab", a ping "p", then the first byte of a binary frame of 3 bytes "cde" (incomplete).
  std::string in = std::string(
                       "\x82\x02"
                       "ab",
                       4) +
                   std::string("\x89\x01p", 3) +
                   std::string(
                       "\x82\x03"
                       "c",
                       3);
  std::string data, replies;
  EXPECT_EQ(unframe(in, data, replies, 1 << 20), "");
  EXPECT_EQ(data, "ab");
  ASSERT_EQ(replies.size(), 2u + 4 + 1);
  EXPECT_EQ(static_cast<std::uint8_t>(replies[0]), 0x8A);  // pong, masked
  EXPECT_EQ(in, std::string("\x82\x03"
                            "c",
                            3));  // kept for the next read
  in += "de";
  EXPECT_EQ(unframe(in, data, replies, 1 << 20), "");
  EXPECT_EQ(data, "abcde");
  EXPECT_TRUE(in.empty());

  in = std::string("\x88\x00", 2);
  EXPECT_NE(unframe(in, data, replies, 1 << 20), "");  // close
  in = std::string("\x82\x81xxxxy", 7);
  EXPECT_NE(unframe(in, data, replies, 1 << 20), "");  // masked by the server
  in = std::string("\x81\x01t", 3);
  EXPECT_NE(unframe(in, data, replies, 1 << 20), "");  // text
  in = std::string("\x82\x7E\x01\x00", 4);
  EXPECT_NE(unframe(in, data, replies, 100), "");  // 256 bytes > 100
}

}  // namespace
}  // namespace edgemq::dataflow::ws_client
