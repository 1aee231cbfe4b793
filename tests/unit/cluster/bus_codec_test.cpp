// A broker message through the binary envelope and back (src/cluster/bus_codec.hpp): the MQTT 5
// properties, QoS, retain, the origin client (no-local), the expiry left and the topic all
// survive; a malformed envelope is refused without a crash.
#include "cluster/bus_codec.hpp"

#include <gtest/gtest.h>

namespace edgemq::cluster {
namespace {

using namespace std::chrono_literals;

broker::message full_message(broker::clock::time_point now) {
  broker::message m;
  m.topic = "a/b";
  m.payload = std::string("\x00payload", 8);
  m.qos = mqtt::qos::at_least_once;
  m.retain = true;
  m.origin_client_id = "client one";
  auto& p = m.props.mut();
  p.user_properties = {{"k", "v1"}, {"k", "v2"}, {"a=b", "c\r\nd"}, {"", ""}};
  p.content_type = "application/json";
  p.response_topic = "reply/here";
  p.correlation_data = std::string("\x00\xff\x01", 3);
  p.payload_format_indicator = 1;
  m.expires_at = now + 90s;
  return m;
}

TEST(bus_codec, properties_survive_the_round_trip) {
  const auto now = broker::clock::now();
  const auto m = full_message(now);
  std::string buf;
  encode_envelope(buf, m, "node1.abc", 42, now, false);

  const auto d = decode_envelope("a/b", buf, now + 10s);
  ASSERT_TRUE(d.msg);
  EXPECT_FALSE(d.end);
  EXPECT_EQ(d.origin, "node1.abc");
  EXPECT_EQ(d.seq, 42u);
  EXPECT_EQ(d.msg->topic, "a/b");
  EXPECT_EQ(d.msg->payload, m.payload);
  EXPECT_EQ(d.msg->qos, mqtt::qos::at_least_once);
  EXPECT_TRUE(d.msg->retain);
  EXPECT_EQ(d.msg->origin_client_id, "client one");
  const auto& p = m.props.get();
  const auto& q = d.msg->props.get();
  EXPECT_EQ(q.user_properties, p.user_properties);
  EXPECT_EQ(q.content_type, p.content_type);
  EXPECT_EQ(q.response_topic, p.response_topic);
  EXPECT_EQ(q.correlation_data, p.correlation_data);
  EXPECT_EQ(q.payload_format_indicator, 1);
  EXPECT_EQ(q.message_expiry_interval, 90u);
  ASSERT_TRUE(d.msg->expires_at);
  EXPECT_EQ(*d.msg->expires_at, now + 10s + 90s);
}

TEST(bus_codec, every_qos_and_large_sequences_survive) {
  const auto now = broker::clock::now();
  for (auto q : {mqtt::qos::at_most_once, mqtt::qos::at_least_once, mqtt::qos::exactly_once})
    for (std::uint64_t seq : {std::uint64_t{0}, std::uint64_t{127}, std::uint64_t{128}, ~std::uint64_t{0}}) {
      broker::message m;
      m.topic = "t";
      m.qos = q;
      std::string buf;
      encode_envelope(buf, m, "n.1", seq, now, false);
      const auto d = decode_envelope("t", buf, now);
      ASSERT_TRUE(d.msg);
      EXPECT_EQ(d.msg->qos, q);
      EXPECT_EQ(d.seq, seq);
      EXPECT_TRUE(d.msg->payload.empty());
    }
}

TEST(bus_codec, a_plain_message_has_no_properties) {
  const auto now = broker::clock::now();
  broker::message m;
  m.topic = "t";
  m.payload = "x";
  std::string buf;
  encode_envelope(buf, m, "n.1", 1, now, false);
  const auto d = decode_envelope("t", buf, now);
  ASSERT_TRUE(d.msg);
  EXPECT_EQ(d.msg->props.ptr(), nullptr);
  EXPECT_FALSE(d.msg->retain);
  EXPECT_FALSE(d.msg->expires_at);
  EXPECT_TRUE(d.msg->origin_client_id.empty());
  EXPECT_EQ(d.msg->payload, "x");
}

TEST(bus_codec, the_topic_travels_when_the_subject_does_not_spell_it) {
  const auto now = broker::clock::now();
  auto m = full_message(now);
  m.topic = "with space/and.dot/";
  std::string buf;
  encode_envelope(buf, m, "n.1", 7, now, true);
  const auto d = decode_envelope(std::nullopt, buf, now);
  ASSERT_TRUE(d.msg);
  EXPECT_EQ(d.msg->topic, m.topic);
  EXPECT_EQ(d.msg->payload, m.payload);
  // Without it, a subject that is not a topic's leaves no topic: refused.
  encode_envelope(buf, m, "n.1", 7, now, false);
  EXPECT_FALSE(decode_envelope(std::nullopt, buf, now).msg);
}

TEST(bus_codec, a_confirmation_request_travels_with_the_message) {
  const auto now = broker::clock::now();
  auto m = full_message(now);
  std::string buf;
  encode_envelope(buf, m, "n.1", 9, now, false, true);
  const auto d = decode_envelope("a/b", buf, now);
  ASSERT_TRUE(d.msg);
  EXPECT_TRUE(d.confirm);
  EXPECT_EQ(d.seq, 9u);
  EXPECT_EQ(d.msg->payload, m.payload);
  encode_envelope(buf, m, "n.1", 9, now, false);
  EXPECT_FALSE(decode_envelope("a/b", buf, now).confirm);
}

TEST(bus_codec, the_end_marker_is_no_message) {
  const auto d = decode_envelope(std::nullopt, encode_end_marker("n.1"), broker::clock::now());
  EXPECT_TRUE(d.end);
  EXPECT_FALSE(d.msg);
  EXPECT_EQ(d.origin, "n.1");
}

TEST(bus_codec, malformed_envelopes_are_refused) {
  const auto now = broker::clock::now();
  std::string good;
  encode_envelope(good, full_message(now), "node1.abc", 42, now, true);
  const auto refused = [&](std::string data) { return !decode_envelope("t", data, now).msg; };
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused("plain MQTT payload"));  // no envelope (a node from before it)
  auto v = good;
  v[1] = 2;  // unknown version
  EXPECT_TRUE(refused(v));
  v = good;
  v[2] = static_cast<char>(v[2] | 0x03);  // QoS 3
  EXPECT_TRUE(refused(v));
  v = good;
  v[3] = static_cast<char>(v[3] | 0x80);  // unknown flag
  EXPECT_TRUE(refused(v));
  // Every truncation inside the envelope: the payload is the rest, so only cuts before it fail.
  const auto envelope_size = good.size() - full_message(now).payload.size();
  for (std::size_t n = 0; n < envelope_size; ++n) EXPECT_TRUE(refused(good.substr(0, n))) << n;
  // A string length past the end, a varint that never ends, a huge user property count.
  EXPECT_TRUE(refused(std::string("\xEB\x01\x00\x00\x01\x7F", 6)));
  EXPECT_TRUE(refused(std::string("\xEB\x01\x00\x00", 4) + std::string(11, '\xFF')));
  EXPECT_TRUE(refused(std::string("\xEB\x01\x00\x02\x01\x00\xFF\xFF\xFF\xFF\x0F", 11)));
  // Random corruption of each byte never crashes (ASan/UBSan run this too).
  for (std::size_t i = 0; i < good.size(); ++i)
    for (int x : {0x01, 0x80, 0xFF}) {
      auto c = good;
      c[i] = static_cast<char>(c[i] ^ x);
      (void)decode_envelope(std::nullopt, c, now);
    }
}

}  // namespace
}  // namespace edgemq::cluster
