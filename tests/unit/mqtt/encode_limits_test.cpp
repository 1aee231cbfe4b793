// The encoder refuses what does not fit MQTT's fields instead of wrapping a length: strings,
// binary data, topics, filters and properties behind a two-byte length, subscription
// identifiers in a varint, and the remaining length (MQTT 1.5.4-1.5.7, 2.1.4).
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mqtt_test_util.hpp"

namespace mqtt_test {
namespace {

constexpr auto V311 = protocol_version::v311;
constexpr auto V5 = protocol_version::v5;
const std::string too_long(65536, 'x');
const std::string longest(65535, 'x');

void expect_refused(const packet& p, protocol_version v, reason_code why) {
  std::string out = "before";
  const auto ec = encode(p, v, out);
  EXPECT_EQ(to_reason_code(ec), why);
  EXPECT_TRUE(ec);
  EXPECT_EQ(out, "before") << "a refused packet must append nothing";
}

TEST(EncodeLimits, TopicOfExactly65535BytesIsEncoded) {
  publish p;
  p.topic = longest;
  std::string out;
  EXPECT_FALSE(encode(p, V5, out));
  auto back = decode_wire(bytes(out.begin(), out.end()), V5);
  ASSERT_TRUE(back);
  EXPECT_EQ(std::get<publish>(*back).topic.size(), 65535u);
}

TEST(EncodeLimits, TooLongTopicIsRefusedNotWrapped) {
  publish p;
  p.topic = too_long;
  for (auto v : {V311, V5}) expect_refused(p, v, reason_code::malformed_packet);
}

TEST(EncodeLimits, EveryLengthPrefixedConnectFieldIsChecked) {
  for (int field = 0; field < 5; ++field) {
    SCOPED_TRACE(field);
    connect c;
    c.version = V5;
    c.client_id = field == 0 ? too_long : "c";
    if (field == 1) c.username = too_long;
    if (field == 2) c.password = too_long;
    if (field >= 3) {
      will_message w;
      w.topic = field == 3 ? too_long : "w";
      w.payload = field == 4 ? too_long : "p";
      c.will = w;
    }
    expect_refused(c, V5, reason_code::malformed_packet);
  }
}

TEST(EncodeLimits, FiltersAreChecked) {
  expect_refused(subscribe{1, {{too_long, {}}}, {}}, V5, reason_code::malformed_packet);
  expect_refused(unsubscribe{1, {too_long}, {}}, V311, reason_code::malformed_packet);
}

TEST(EncodeLimits, StringAndBinaryPropertiesAreChecked) {
  const auto with = [](auto set) {
    disconnect d{reason_code::unspecified_error, {}};
    set(d.props);
    return d;
  };
  expect_refused(with([](properties& p) { p.reason_string = too_long; }), V5, reason_code::malformed_packet);
  expect_refused(with([](properties& p) { p.server_reference = too_long; }), V5, reason_code::malformed_packet);
  expect_refused(with([](properties& p) { p.user_properties = {{"k", too_long}}; }), V5, reason_code::malformed_packet);
  expect_refused(with([](properties& p) { p.user_properties = {{too_long, "v"}}; }), V5, reason_code::malformed_packet);
  publish p;
  p.topic = "t";
  p.props.correlation_data = too_long;
  expect_refused(p, V5, reason_code::malformed_packet);
  std::string out;
  EXPECT_FALSE(encode(p, V311, out));  // 3.1.1 does not carry properties: nothing to refuse
  p.props.correlation_data.reset();
  p.props.subscription_identifiers = {268'435'456};  // five varint bytes
  expect_refused(p, V5, reason_code::malformed_packet);
}

TEST(EncodeLimits, RemainingLengthAboveTheMaximumIsRefused) {
  publish p;
  p.topic = "t";
  p.payload = std::string(max_remaining_length - 3 + 1, 'x');  // 2 + 1 topic bytes + payload
  expect_refused(p, V311, reason_code::packet_too_large);
  p.payload.pop_back();
  std::string out;
  EXPECT_FALSE(encode(p, V311, out));
  EXPECT_EQ(out.size(), 1 + 4 + max_remaining_length);
}

TEST(EncodeLimits, PublishHeadRefusesWhatEncodedSizeRefuses) {
  publish_head h;
  h.topic = too_long;
  std::string out = "x";
  EXPECT_EQ(to_reason_code(encoded_size(h, V5).error()), reason_code::malformed_packet);
  EXPECT_EQ(to_reason_code(encode_publish_head(h, V5, out)), reason_code::malformed_packet);
  EXPECT_EQ(out, "x");

  h.topic = "t";
  h.payload_size = max_remaining_length;  // plus the topic: one too many
  EXPECT_EQ(to_reason_code(encoded_size(h, V311).error()), reason_code::packet_too_large);
  EXPECT_EQ(to_reason_code(encode_publish_head(h, V311, out)), reason_code::packet_too_large);
  EXPECT_EQ(out, "x");

  properties props;
  props.content_type = too_long;
  h.payload_size = 0;
  h.props = &props;
  EXPECT_FALSE(encoded_size(h, V5));
  EXPECT_TRUE(encoded_size(h, V311));  // 3.1.1 carries no properties
  const std::uint32_t ids[] = {268'435'456};
  h.props = nullptr;
  h.subscription_ids = ids;
  EXPECT_FALSE(encoded_size(h, V5));
}

}  // namespace
}  // namespace mqtt_test
