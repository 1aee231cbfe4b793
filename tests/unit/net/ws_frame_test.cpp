// The WebSocket frame decoder and encoder (src/net/ws_frame.hpp), byte by byte.
#include "net/ws_frame.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {
using namespace edgemq::net::ws;

using bytes = std::vector<std::uint8_t>;

// A client frame: masked (unless told not to), with the given first byte (FIN, RSV, opcode).
bytes client_frame(std::uint8_t b0, const std::string& payload, bool masked = true,
                   std::array<std::uint8_t, 4> mask = {0x12, 0x34, 0x56, 0x78}) {
  bytes f{b0};
  const std::uint64_t n = payload.size();
  const std::uint8_t m = masked ? 0x80 : 0;
  if (n < 126) {
    f.push_back(static_cast<std::uint8_t>(m | n));
  } else if (n <= 0xffff) {
    f.push_back(m | 126);
    f.push_back(static_cast<std::uint8_t>(n >> 8));
    f.push_back(static_cast<std::uint8_t>(n));
  } else {
    f.push_back(m | 127);
    for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<std::uint8_t>(n >> s));
  }
  if (masked) f.insert(f.end(), mask.begin(), mask.end());
  for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<std::uint8_t>(payload[i]) ^ (masked ? mask[i % 4] : 0));
  return f;
}

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Decodes `in` in chunks of `chunk` bytes; returns the MQTT bytes.
std::string decode_all(frame_decoder& d, bytes in, std::string& replies, std::size_t chunk = 0) {
  std::string out;
  if (chunk == 0) chunk = in.size() ? in.size() : 1;
  for (std::size_t at = 0; at < in.size(); at += chunk) {
    const std::size_t n = std::min(chunk, in.size() - at);
    const std::size_t got = d.decode(std::span<std::uint8_t>(in.data() + at, n), replies);
    out.append(reinterpret_cast<const char*>(in.data() + at), got);
  }
  return out;
}

std::uint16_t close_code_of(const std::string& frame) {
  EXPECT_GE(frame.size(), 4u);
  EXPECT_EQ(static_cast<std::uint8_t>(frame[0]), 0x88);
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(frame[2]) << 8) | static_cast<std::uint8_t>(frame[3]));
}

constexpr std::uint8_t fin_binary = 0x82;

TEST(WsFrame, BinaryFrameIsUnmaskedInPlace) {
  frame_decoder d(1 << 20);
  std::string replies;
  EXPECT_EQ(decode_all(d, client_frame(fin_binary, "\x10\x0c hello mqtt"), replies), "\x10\x0c hello mqtt");
  EXPECT_TRUE(replies.empty());
  EXPECT_FALSE(d.failed());
}

TEST(WsFrame, SeveralFramesAndPacketsAcrossFramesInAnyChunking) {
  // A stream split over frames of 1, 200 (16-bit length) and 70,000 bytes (64-bit length),
  // with a ping in the middle, fed in chunks of every awkward size.
  std::string stream;
  for (int i = 0; i < 70'201; ++i) stream.push_back(static_cast<char>(i * 7));
  const auto in = cat({client_frame(fin_binary, stream.substr(0, 1)), client_frame(fin_binary, stream.substr(1, 200)),
                       client_frame(0x89, "hi"), client_frame(fin_binary, stream.substr(201))});
  for (const std::size_t chunk : {1, 2, 3, 7, 13, 1000, 65536, 0}) {
    frame_decoder d(1 << 20);
    std::string replies;
    EXPECT_EQ(decode_all(d, in, replies, chunk), stream) << "chunk " << chunk;
    EXPECT_EQ(replies, std::string("\x8a\x02hi", 4)) << "the ping is answered by a pong with its payload";
  }
}

TEST(WsFrame, FragmentedMessageWithControlFrameBetween) {
  frame_decoder d(1 << 20);
  std::string replies;
  const auto in = cat({client_frame(0x02, "abc"), client_frame(0x89, ""), client_frame(0x00, "def"),
                       client_frame(0x80, "gh"), client_frame(fin_binary, "ij")});
  EXPECT_EQ(decode_all(d, in, replies), "abcdefghij");
  EXPECT_EQ(replies, std::string("\x8a\x00", 2));
  EXPECT_FALSE(d.failed());
}

TEST(WsFrame, UnmaskedClientFrameIsAProtocolError) {
  frame_decoder d(1 << 20);
  std::string replies;
  EXPECT_EQ(decode_all(d, client_frame(fin_binary, "abc", false), replies), "");
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(close_code_of(replies), 1002);
}

TEST(WsFrame, OversizeFrameIsClosedWith1009BeforeItsPayload) {
  frame_decoder d(1024);
  std::string replies;
  auto f = client_frame(fin_binary, std::string(1025, 'x'));
  f.resize(8);  // only the header: refused without waiting for (or buffering) the payload
  EXPECT_EQ(decode_all(d, f, replies), "");
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(d.error(), close_code::too_big);
  EXPECT_EQ(close_code_of(replies), 1009);
  frame_decoder ok(1024);
  replies.clear();
  EXPECT_EQ(decode_all(ok, client_frame(fin_binary, std::string(1024, 'y')), replies), std::string(1024, 'y'));
  EXPECT_FALSE(ok.failed());
}

TEST(WsFrame, MalformedFrames) {
  struct bad {
    const char* what;
    bytes in;
    std::uint16_t code;
  };
  bytes non_minimal16{fin_binary, 0x80 | 126, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0, 0, 0};
  bytes non_minimal64{fin_binary, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 1, 2, 3, 4};
  bytes top_bit{fin_binary, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
  const std::vector<bad> cases = {
      {"text frame", client_frame(0x81, "hello"), 1003},
      {"reserved bit", client_frame(0xc2, "x"), 1002},
      {"unknown data opcode", client_frame(0x83, "x"), 1002},
      {"unknown control opcode", client_frame(0x8b, "x"), 1002},
      {"continuation without message", client_frame(0x80, "x"), 1002},
      {"new message inside fragmented one", cat({client_frame(0x02, "a"), client_frame(fin_binary, "b")}), 1002},
      {"fragmented ping", client_frame(0x09, "x"), 1002},
      {"control frame over 125 bytes", client_frame(0x89, std::string(126, 'p')), 1002},
      {"close with 1-byte payload", client_frame(0x88, "\x03"), 1002},
      {"close with invalid code", client_frame(0x88, std::string("\x03\xe7", 2)), 1002},  // 999
      {"close with reserved code 1005", client_frame(0x88, std::string("\x03\xed", 2)), 1002},
      {"close reason not UTF-8", client_frame(0x88, std::string("\x03\xe8\xff\xfe", 4)), 1007},
      {"16-bit length not minimal", non_minimal16, 1002},
      {"64-bit length not minimal", non_minimal64, 1002},
      {"64-bit length top bit", top_bit, 1002},
  };
  for (const auto& c : cases) {
    frame_decoder d(1 << 20);
    std::string replies;
    decode_all(d, c.in, replies);
    EXPECT_TRUE(d.failed()) << c.what;
    EXPECT_EQ(close_code_of(replies), c.code) << c.what;
    // Nothing is decoded after the error.
    std::string more;
    auto again = client_frame(fin_binary, "after");
    EXPECT_EQ(decode_all(d, again, more), "") << c.what;
    EXPECT_TRUE(more.empty()) << c.what;
  }
}

TEST(WsFrame, CloseFrameIsEchoedAndEndsTheStream) {
  frame_decoder d(1 << 20);
  std::string replies;
  const auto in = cat({client_frame(fin_binary, "ab"),
                       client_frame(0x88, std::string("\x03\xe8"
                                                      "bye",
                                                      5)),
                       client_frame(fin_binary, "ignored")});
  EXPECT_EQ(decode_all(d, in, replies), "ab");
  EXPECT_TRUE(d.closed());
  EXPECT_EQ(replies, std::string("\x88\x02\x03\xe8", 4));
  frame_decoder empty(1 << 20);
  replies.clear();
  decode_all(empty, client_frame(0x88, ""), replies);
  EXPECT_TRUE(empty.closed());
  EXPECT_EQ(close_code_of(replies), 1000);
}

TEST(WsFrame, MutedDecoderSendsNothingMore) {
  frame_decoder d(1 << 20);
  d.mute();
  std::string replies;
  decode_all(d, cat({client_frame(0x89, "x"), client_frame(0x88, "")}), replies);
  EXPECT_TRUE(d.closed());
  EXPECT_TRUE(replies.empty());
}

TEST(WsFrame, LastControlFrame) {
  frame_decoder d(1 << 20);
  std::string replies;
  decode_all(d, cat({client_frame(0x89, "one"), client_frame(0x89, ""), client_frame(0x89, "three")}), replies);
  EXPECT_EQ(last_control_frame(replies), std::string("\x8a\x05three", 7));
  EXPECT_EQ(last_control_frame(""), "");
  EXPECT_EQ(last_control_frame(std::string("\x8a\x05thr", 5)), "") << "an incomplete frame is not one";
}

TEST(WsFrame, ServerHeaders) {
  std::string h;
  append_header(h, opcode::binary, 5);
  EXPECT_EQ(h, std::string("\x82\x05", 2));
  h.clear();
  append_header(h, opcode::binary, 126);
  EXPECT_EQ(h, std::string("\x82\x7e\x00\x7e", 4));
  h.clear();
  append_header(h, opcode::binary, 65536);
  EXPECT_EQ(h, std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
  h.clear();
  append_close(h, close_code::too_big, std::string(200, 'r'));
  EXPECT_EQ(h.size(), 2u + 125u) << "a close frame's reason is cut to fit a control frame";
}

}  // namespace
