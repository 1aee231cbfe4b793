// Helpers shared by the MQTT codec unit tests. Builders here are deliberately independent of
// the codec implementation (own varint/string encoders) so that expected bytes never come from
// the code under test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/frame_parser.hpp"
#include "edgemq/mqtt/packet.hpp"
#include "edgemq/mqtt/properties.hpp"
#include "edgemq/mqtt/types.hpp"

namespace edgemq::mqtt {

// Readable failure output for packets and reason codes (found by ADL from gtest).
inline void PrintTo(reason_code rc, std::ostream* os) {
  *os << "0x" << std::hex << static_cast<int>(rc) << std::dec << " (" << to_string(rc) << ")";
}

inline void PrintTo(frame_status s, std::ostream* os) {
  switch (s) {
    case frame_status::need_more:
      *os << "need_more";
      return;
    case frame_status::complete:
      *os << "complete";
      return;
    case frame_status::error:
      *os << "error";
      return;
  }
  *os << "frame_status(" << static_cast<int>(s) << ")";
}

}  // namespace edgemq::mqtt

namespace mqtt_test {

using namespace edgemq::mqtt;
using bytes = std::vector<std::uint8_t>;

inline constexpr std::uint32_t k_no_limit = 268435460u;  // larger than any legal MQTT frame

inline bytes hexv(std::initializer_list<int> v) {
  bytes out;
  out.reserve(v.size());
  for (int b : v) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

inline std::string hex(std::span<const std::uint8_t> data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (i) s += ' ';
    s += digits[data[i] >> 4];
    s += digits[data[i] & 0xF];
  }
  return s;
}
inline std::string hex(const std::string& data) {
  return hex(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

// Concatenation of byte pieces.
inline bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Raw bytes of a string, no length prefix.
inline bytes raw(std::string_view s) {
  return bytes(s.begin(), s.end());
}

// Two-byte length prefixed string / binary data (MQTT 1.5.4 / 1.5.6).
inline bytes str(std::string_view s) {
  bytes out(s.size() + 2);
  out[0] = static_cast<std::uint8_t>(s.size() >> 8);
  out[1] = static_cast<std::uint8_t>(s.size() & 0xFF);
  for (std::size_t i = 0; i < s.size(); ++i) out[i + 2] = static_cast<std::uint8_t>(s[i]);
  return out;
}

// Variable byte integer (MQTT 1.5.5), independent of the implementation's write_varint.
inline bytes vbi(std::uint32_t v) {
  bytes out;
  do {
    std::uint8_t b = static_cast<std::uint8_t>(v % 128);
    v /= 128;
    if (v > 0) b = static_cast<std::uint8_t>(b | 0x80);
    out.push_back(b);
  } while (v > 0);
  return out;
}

// A property block: varint length followed by the given property bytes.
inline bytes props(const bytes& content) {
  return cat({vbi(static_cast<std::uint32_t>(content.size())), content});
}

// A whole frame: fixed header byte, remaining length, body.
inline bytes frame_of(std::uint8_t header, const bytes& body) {
  return cat({bytes{header}, vbi(static_cast<std::uint32_t>(body.size())), body});
}

inline bytes encode_bytes(const packet& p, protocol_version v) {
  std::string out;
  encode(p, v, out);
  return bytes(out.begin(), out.end());
}

// Splits `wire` with parse_frame (which must consume it exactly) and decodes the frame.
inline result<packet> decode_wire(const bytes& wire, protocol_version v) {
  frame_result fr = parse_frame(wire, k_no_limit);
  if (fr.status != frame_status::complete) {
    ADD_FAILURE() << "parse_frame did not return a complete frame for " << hex(wire);
    return make_error_code(reason_code::implementation_specific_error);
  }
  if (fr.value.size != wire.size()) {
    ADD_FAILURE() << "parse_frame frame size " << fr.value.size << " != buffer size " << wire.size() << " for "
                  << hex(wire);
  }
  return decode(fr.value.header, fr.value.body, v);
}

inline std::string describe(const result<packet>& r) {
  if (r.has_value()) return "decoded successfully";
  return "error " + std::string(to_string(to_reason_code(r.error()))) + " (" + r.error().message() + ")";
}

// Human-readable packet for failure messages: its type and its MQTT 5 encoding, which shows
// every field (gtest cannot print the variant usefully).
inline std::string dump(const packet& p) {
  std::string out;
  encode(p, protocol_version::v5, out);
  return std::string(to_string(type_of(p))) + " {v5 bytes: " + hex(out) + "}";
}

// encode(p) == wire and decode(wire) == p.
inline void check_golden(const packet& p, protocol_version v, const bytes& wire) {
  EXPECT_EQ(hex(encode_bytes(p, v)), hex(wire)) << "encode mismatch";
  result<packet> r = decode_wire(wire, v);
  ASSERT_TRUE(r.has_value()) << "decode of " << hex(wire) << ": " << describe(r);
  EXPECT_TRUE(r.value() == p) << "decode mismatch for " << hex(wire) << "\n  decoded:  " << dump(r.value())
                              << "\n  expected: " << dump(p);
}

// decode(wire) == p only.
inline void check_decodes_to(const bytes& wire, protocol_version v, const packet& p) {
  result<packet> r = decode_wire(wire, v);
  ASSERT_TRUE(r.has_value()) << "decode of " << hex(wire) << ": " << describe(r);
  EXPECT_TRUE(r.value() == p) << "decode mismatch for " << hex(wire) << "\n  decoded:  " << dump(r.value())
                              << "\n  expected: " << dump(p);
}

// decode(encode(p)) == p.
inline void check_round_trip(const packet& p, protocol_version v) {
  bytes wire = encode_bytes(p, v);
  ASSERT_FALSE(wire.empty());
  result<packet> r = decode_wire(wire, v);
  ASSERT_TRUE(r.has_value()) << "decode of " << hex(wire) << ": " << describe(r);
  EXPECT_TRUE(r.value() == p) << "round trip mismatch, wire " << hex(wire) << "\n  decoded:  " << dump(r.value())
                              << "\n  expected: " << dump(p);
}

}  // namespace mqtt_test
