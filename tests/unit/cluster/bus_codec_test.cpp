// A broker message through NATS headers and back (src/cluster/bus_codec.hpp): the MQTT 5
// properties, QoS, retain, the origin client (no-local) and the expiry left all survive.
#include "cluster/bus_codec.hpp"

#include <map>

#include <gtest/gtest.h>

namespace edgemq::cluster {
namespace {

using namespace std::chrono_literals;

std::function<std::vector<std::string>(const char*)> lookup(const header_list& h) {
  return [h](const char* key) {
    std::vector<std::string> v;
    for (const auto& [k, val] : h)
      if (k == key) v.push_back(val);
    return v;
  };
}

TEST(bus_codec, properties_survive_the_round_trip) {
  const auto now = broker::clock::now();
  broker::message m;
  m.topic = "a/b";
  m.payload = std::string("\x00payload", 8);
  m.qos = mqtt::qos::at_least_once;
  m.retain = true;
  m.origin_client_id = "client one";
  auto& p = m.props.mut();
  p.user_properties = {{"k", "v1"}, {"k", "v2"}, {"a=b", "c\r\nd"}};
  p.content_type = "application/json";
  p.response_topic = "reply/here";
  p.correlation_data = std::string("\x00\xff\x01", 3);
  p.payload_format_indicator = 1;
  m.expires_at = now + 90s;
  const auto h = encode_headers(m, "node1.abc", 42, now);
  for (const auto& [k, v] : h) EXPECT_EQ(v.find_first_of("\r\n"), std::string::npos) << k;

  const auto d = decode_message("a/b", m.payload, lookup(h), now + 10s);
  ASSERT_TRUE(d.msg);
  EXPECT_EQ(d.origin, "node1.abc");
  EXPECT_EQ(d.seq, 42u);
  EXPECT_EQ(d.msg->payload, m.payload);
  EXPECT_EQ(d.msg->qos, mqtt::qos::at_least_once);
  EXPECT_TRUE(d.msg->retain);
  EXPECT_EQ(d.msg->origin_client_id, "client one");
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

TEST(bus_codec, a_plain_message_has_no_properties) {
  const auto now = broker::clock::now();
  broker::message m;
  m.topic = "t";
  m.payload = "x";
  const auto d = decode_message("t", "x", lookup(encode_headers(m, "n.1", 1, now)), now);
  ASSERT_TRUE(d.msg);
  EXPECT_EQ(d.msg->props.ptr(), nullptr);
  EXPECT_FALSE(d.msg->retain);
  EXPECT_FALSE(d.msg->expires_at);
}

TEST(bus_codec, malformed_headers_are_refused) {
  const auto now = broker::clock::now();
  EXPECT_FALSE(decode_message("t", "", lookup({{"Em-Origin", "n"}}), now).msg);  // no sequence
  EXPECT_FALSE(decode_message("t", "", lookup({{"Em-Seq", "1"}, {"Em-Qos", "3"}}), now).msg);
  EXPECT_FALSE(decode_message("t", "", lookup({{"Em-Seq", "1"}, {"Em-Qos", "0"}, {"Mq-Up", "novalue"}}), now).msg);
  EXPECT_FALSE(decode_message("t", "", lookup({{"Em-Seq", "1"}, {"Em-Qos", "0"}, {"Mq-Cd", "%z1"}}), now).msg);
}

}  // namespace
}  // namespace edgemq::cluster
