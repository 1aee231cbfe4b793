// The retained store keeps messages in a compact form (ADR 0032): every field a subscriber or the
// admin API sees must come back as it was stored.
#include "broker/retained_store.hpp"

#include <gtest/gtest.h>

namespace edgemq::broker {
namespace {

message_ptr make(std::string topic, std::string payload) {
  auto m = std::make_shared<message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->retain = true;
  return m;
}

std::vector<message_ptr> matching(retained_store& s, std::string_view filter, clock::time_point now = clock::now()) {
  std::vector<message_ptr> out;
  s.match(filter, now, [&](const message_ptr& m) { out.push_back(m); });
  return out;
}

TEST(RetainedStore, KeepsEveryFieldOfAMessage) {
  retained_store s;
  auto m = std::make_shared<message>();
  m->topic = "a/long/enough/topic/to/leave/the/small/string/buffer";
  m->payload = std::string("binary\0payload", 14);
  m->qos = mqtt::qos::exactly_once;
  m->retain = true;
  m->origin_client_id = "publisher-7";
  m->props.mut().content_type = "text/plain";
  m->props.mut().user_properties.emplace_back("k", "v");
  const auto now = clock::now();
  m->expires_at = now + std::chrono::seconds(30);
  s.put(m);

  const auto hits = matching(s, m->topic, now);
  ASSERT_EQ(hits.size(), 1u);
  const auto& got = *hits[0];
  EXPECT_EQ(got.topic, m->topic);
  EXPECT_EQ(got.payload, m->payload);
  EXPECT_EQ(got.qos, mqtt::qos::exactly_once);
  EXPECT_TRUE(got.retain);
  EXPECT_EQ(got.origin_client_id, "publisher-7");
  EXPECT_EQ(got.props->content_type, std::optional<std::string>("text/plain"));
  ASSERT_EQ(got.props->user_properties.size(), 1u);
  ASSERT_TRUE(got.expires_at.has_value());
  EXPECT_EQ(*got.expires_at, *m->expires_at);
  // Past its expiry it is gone (MQTT-3.3.2-5).
  EXPECT_TRUE(matching(s, "#", now + std::chrono::seconds(31)).empty());
  EXPECT_EQ(s.size(), 0u);
}

TEST(RetainedStore, WithoutPropertiesOrExpiryNoneComeBack) {
  retained_store s;
  s.put(make("t", "x"));
  const auto hits = matching(s, "t");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]->props.ptr(), nullptr);
  EXPECT_FALSE(hits[0]->expires_at.has_value());
  EXPECT_EQ(hits[0]->qos, mqtt::qos::at_most_once);
}

TEST(RetainedStore, ReplacesClearsAndKeepsTopicOrder) {
  retained_store s;
  // Out of order, then in order (start-up appends at the end), then a replacement.
  for (const auto* t : {"m/2", "m/1", "m/3", "m/4", "a", "z"}) s.put(make(t, std::string("v-") + t));
  s.put(make("m/3", "new"));
  EXPECT_EQ(s.size(), 6u);
  s.put(make("a", ""));  // an empty payload clears
  EXPECT_EQ(s.size(), 5u);
  bool more = false;
  const auto page = s.list("#", "", 10, clock::now(), more);
  std::vector<std::string> topics;
  for (const auto& m : page) topics.push_back(m->topic);
  EXPECT_EQ(topics, (std::vector<std::string>{"m/1", "m/2", "m/3", "m/4", "z"}));
  EXPECT_EQ(page[2]->payload, "new");
  EXPECT_EQ(matching(s, "m/+").size(), 4u);
  EXPECT_TRUE(s.erase("m/1"));
  EXPECT_FALSE(s.erase("m/1"));
  EXPECT_EQ(s.size(), 4u);
}

TEST(RetainedStore, RestoreAppendsInKeyOrderAndReplaces) {
  retained_store s;
  message m;
  m.retain = true;
  for (int i = 0; i < 100; ++i) {
    m.topic = "r/" + std::to_string(1000 + i);
    m.payload = std::to_string(i);
    s.restore(m);
  }
  m.topic = "r/1050";
  m.payload = "again";
  s.restore(m);
  EXPECT_EQ(s.size(), 100u);
  const auto hits = matching(s, "r/1050");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]->payload, "again");
}

}  // namespace
}  // namespace edgemq::broker
