// parse_frame: incremental splitting of a byte stream into MQTT frames (MQTT 2.1, 1.5.5).
#include <cstdint>
#include <span>

#include <gtest/gtest.h>

#include "mqtt_test_util.hpp"

namespace mqtt_test {
namespace {

std::span<const std::uint8_t> view(const bytes& b, std::size_t offset = 0) {
  return std::span<const std::uint8_t>(b).subspan(offset);
}

TEST(FrameParser, EmptyInputNeedsMore) {
  bytes data;
  EXPECT_EQ(parse_frame(data, k_no_limit).status, frame_status::need_more);
}

TEST(FrameParser, HeaderByteOnlyNeedsMore) {
  bytes data = hexv({0xC0});
  EXPECT_EQ(parse_frame(data, k_no_limit).status, frame_status::need_more);
}

TEST(FrameParser, PingreqIsCompleteWithEmptyBody) {
  bytes data = hexv({0xC0, 0x00});
  frame_result r = parse_frame(data, k_no_limit);
  ASSERT_EQ(r.status, frame_status::complete);
  EXPECT_EQ(r.value.header, 0xC0);
  EXPECT_EQ(r.value.type(), packet_type::pingreq);
  EXPECT_EQ(r.value.size, 2u);
  EXPECT_TRUE(r.value.body.empty());
}

TEST(FrameParser, BodyIsAViewIntoTheInput) {
  bytes data = hexv({0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x07});
  frame_result r = parse_frame(data, k_no_limit);
  ASSERT_EQ(r.status, frame_status::complete);
  EXPECT_EQ(r.value.header, 0x32);
  EXPECT_EQ(r.value.type(), packet_type::publish);
  EXPECT_EQ(r.value.size, 7u);
  ASSERT_EQ(r.value.body.size(), 5u);
  EXPECT_EQ(r.value.body.data(), data.data() + 2);
  EXPECT_EQ(r.value.body[4], 0x07);
}

TEST(FrameParser, IncompleteBodyNeedsMore) {
  bytes data = hexv({0x30, 0x05, 0x00, 0x03});
  frame_result r = parse_frame(data, k_no_limit);
  EXPECT_EQ(r.status, frame_status::need_more);
  // bytes_needed is a lower bound (or 0 if unknown): 3 more bytes complete this frame.
  EXPECT_LE(r.bytes_needed, 3u);
}

TEST(FrameParser, EveryProperPrefixNeedsMore) {
  bytes data = hexv({0x30, 0x07, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x68, 0x69});
  for (std::size_t n = 0; n < data.size(); ++n) {
    SCOPED_TRACE(n);
    frame_result r = parse_frame(std::span<const std::uint8_t>(data.data(), n), k_no_limit);
    EXPECT_EQ(r.status, frame_status::need_more);
  }
  frame_result r = parse_frame(data, k_no_limit);
  ASSERT_EQ(r.status, frame_status::complete);
  EXPECT_EQ(r.value.size, data.size());
}

TEST(FrameParser, IncompleteMultiByteLengthNeedsMore) {
  bytes data = hexv({0x30, 0x80});
  EXPECT_EQ(parse_frame(data, k_no_limit).status, frame_status::need_more);
  bytes data3 = hexv({0x30, 0xFF, 0xFF, 0xFF});
  EXPECT_EQ(parse_frame(data3, k_no_limit).status, frame_status::need_more);
}

TEST(FrameParser, TwoByteRemainingLength) {
  bytes data = hexv({0x30, 0x80, 0x01});  // 128
  data.insert(data.end(), 128, 0x41);
  frame_result r = parse_frame(data, k_no_limit);
  ASSERT_EQ(r.status, frame_status::complete);
  EXPECT_EQ(r.value.size, 131u);
  EXPECT_EQ(r.value.body.size(), 128u);
  EXPECT_EQ(r.value.body.data(), data.data() + 3);
}

TEST(FrameParser, ThreeByteRemainingLength) {
  bytes data = hexv({0x30, 0x80, 0x80, 0x01});  // 16384
  data.insert(data.end(), 16384, 0x41);
  frame_result r = parse_frame(data, k_no_limit);
  ASSERT_EQ(r.status, frame_status::complete);
  EXPECT_EQ(r.value.size, 16384u + 4u);
  EXPECT_EQ(r.value.body.size(), 16384u);
}

TEST(FrameParser, NonTrivialTwoByteLength) {
  bytes data = hexv({0x30, 0xC1, 0x02});  // 0x41 + 2 * 128 = 321
  data.insert(data.end(), 321, 0x00);
  data.push_back(0xC0);  // start of the next frame
  frame_result r = parse_frame(data, k_no_limit);
  ASSERT_EQ(r.status, frame_status::complete);
  EXPECT_EQ(r.value.body.size(), 321u);
  EXPECT_EQ(r.value.size, 324u);
}

TEST(FrameParser, MaximumFourByteLengthWaitsForBody) {
  bytes data = hexv({0x30, 0xFF, 0xFF, 0xFF, 0x7F});  // 268,435,455
  frame_result r = parse_frame(data, k_no_limit);
  EXPECT_EQ(r.status, frame_status::need_more);
}

TEST(FrameParser, FiveByteLengthIsMalformed) {
  bytes data = hexv({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F});
  frame_result r = parse_frame(data, k_no_limit);
  ASSERT_EQ(r.status, frame_status::error);
  EXPECT_EQ(r.error, reason_code::malformed_packet);
}

TEST(FrameParser, FiveByteLengthOfSmallValueIsMalformed) {
  bytes data = hexv({0x30, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00});
  frame_result r = parse_frame(data, k_no_limit);
  ASSERT_EQ(r.status, frame_status::error);
  EXPECT_EQ(r.error, reason_code::malformed_packet);
}

TEST(FrameParser, FourthLengthByteWithContinuationBitIsMalformed) {
  // The fourth length byte has its continuation bit set: the length cannot be valid whatever
  // follows, so the parser must not wait for more input.
  bytes data = hexv({0x30, 0x80, 0x80, 0x80, 0x80});
  frame_result r = parse_frame(data, k_no_limit);
  ASSERT_EQ(r.status, frame_status::error);
  EXPECT_EQ(r.error, reason_code::malformed_packet);
}

TEST(FrameParser, FrameLargerThanMaximumIsRejectedBeforeBodyArrives) {
  // remaining length 9 -> whole frame 11 bytes > 10; no body bytes present yet
  bytes data = hexv({0x30, 0x09});
  frame_result r = parse_frame(data, 10);
  ASSERT_EQ(r.status, frame_status::error);
  EXPECT_EQ(r.error, reason_code::packet_too_large);
}

TEST(FrameParser, FrameOfExactlyMaximumSizeIsAccepted) {
  // remaining length 8 -> whole frame 10 bytes == maximum (the fixed header counts)
  bytes partial = hexv({0x30, 0x08});
  EXPECT_EQ(parse_frame(partial, 10).status, frame_status::need_more);
  bytes data = hexv({0x30, 0x08, 0x00, 0x01, 0x61, 0x01, 0x02, 0x03, 0x04, 0x05});
  frame_result r = parse_frame(data, 10);
  ASSERT_EQ(r.status, frame_status::complete);
  EXPECT_EQ(r.value.size, 10u);
}

TEST(FrameParser, FixedHeaderCountsTowardsMaximum) {
  // remaining length 9 fits a limit of 9 only if the fixed header were ignored.
  bytes data = hexv({0x30, 0x09, 0x00, 0x01, 0x61, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06});
  frame_result r = parse_frame(data, 9);
  ASSERT_EQ(r.status, frame_status::error);
  EXPECT_EQ(r.error, reason_code::packet_too_large);
}

TEST(FrameParser, TooLargeWithMultiByteLength) {
  bytes data = hexv({0x30, 0x80, 0x01});  // 128 + 3 = 131 bytes > 100
  frame_result r = parse_frame(data, 100);
  ASSERT_EQ(r.status, frame_status::error);
  EXPECT_EQ(r.error, reason_code::packet_too_large);
}

TEST(FrameParser, HugeClaimedLengthIsRejectedImmediately) {
  bytes data = hexv({0x30, 0xFF, 0xFF, 0xFF, 0x7F});
  frame_result r = parse_frame(data, 1024 * 1024);
  ASSERT_EQ(r.status, frame_status::error);
  EXPECT_EQ(r.error, reason_code::packet_too_large);
}

TEST(FrameParser, TwoFramesBackToBack) {
  bytes data = hexv({0x40, 0x02, 0x00, 0x0A, 0xC0, 0x00});
  frame_result first = parse_frame(data, k_no_limit);
  ASSERT_EQ(first.status, frame_status::complete);
  EXPECT_EQ(first.value.header, 0x40);
  EXPECT_EQ(first.value.size, 4u);
  ASSERT_EQ(first.value.body.size(), 2u);
  EXPECT_EQ(first.value.body[1], 0x0A);

  frame_result second = parse_frame(view(data, first.value.size), k_no_limit);
  ASSERT_EQ(second.status, frame_status::complete);
  EXPECT_EQ(second.value.header, 0xC0);
  EXPECT_EQ(second.value.size, 2u);
  EXPECT_TRUE(second.value.body.empty());
}

TEST(FrameParser, CompleteFrameFollowedByPartialFrame) {
  bytes data = hexv({0xD0, 0x00, 0x30, 0x05, 0x00});
  frame_result first = parse_frame(data, k_no_limit);
  ASSERT_EQ(first.status, frame_status::complete);
  EXPECT_EQ(first.value.size, 2u);
  EXPECT_EQ(parse_frame(view(data, 2), k_no_limit).status, frame_status::need_more);
}

TEST(FrameParser, StreamOfFramesDecodes) {
  bytes data = hexv({
      0x30, 0x07, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x68, 0x69,  // PUBLISH a/b "hi"
      0x40, 0x02, 0x00, 0x0A,                                // PUBACK 10
      0xC0, 0x00,                                            // PINGREQ
      0xE0, 0x00,                                            // DISCONNECT
  });
  const packet_type expected[] = {packet_type::publish, packet_type::puback, packet_type::pingreq,
                                  packet_type::disconnect};
  std::size_t offset = 0;
  for (packet_type t : expected) {
    frame_result r = parse_frame(view(data, offset), k_no_limit);
    ASSERT_EQ(r.status, frame_status::complete) << "at offset " << offset;
    EXPECT_EQ(r.value.type(), t);
    auto p = decode(r.value.header, r.value.body, protocol_version::v311);
    ASSERT_TRUE(p.has_value()) << describe(p);
    EXPECT_EQ(type_of(p.value()), t);
    offset += r.value.size;
  }
  EXPECT_EQ(offset, data.size());
}

}  // namespace
}  // namespace mqtt_test
