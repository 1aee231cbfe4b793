// MQTT topic/filter <-> NATS subject mapping (src/cluster/subject_map.hpp): one to one, and the
// subjects NATS matches are exactly the topics MQTT's filter matches.
#include "cluster/subject_map.hpp"

#include <gtest/gtest.h>

namespace edgemq::cluster {
namespace {

TEST(subject_map, plain_topics_become_dotted_subjects) {
  EXPECT_EQ(topic_to_subject("factory/line1/temp"), "mqtt.factory.line1.temp");
  EXPECT_EQ(topic_to_subject("a"), "mqtt.a");
}

TEST(subject_map, special_characters_and_empty_levels_are_escaped) {
  EXPECT_EQ(topic_to_subject("v1.2/a b/*/>/50%"), "mqtt.v1%2E2.a%20b.%2A.%3E.50%25");
  EXPECT_EQ(topic_to_subject("/a//b/"), "mqtt.%.a.%.b.%");
  EXPECT_EQ(topic_to_subject(""), "mqtt.%");
  EXPECT_EQ(topic_to_subject("tab\there/\x7f"), "mqtt.tab%09here.%7F");
  EXPECT_EQ(topic_to_subject("caf\xc3\xa9"), "mqtt.caf\xc3\xa9");  // UTF-8 passes as is
}

TEST(subject_map, subjects_map_back_to_the_same_topic) {
  for (std::string t : {"a", "a/b/c", "/a//b/", "", "/", "v1.2/a b/*/>/50%", "%/%25/%%", "caf\xc3\xa9/x"}) {
    const auto back = subject_to_topic(topic_to_subject(t));
    ASSERT_TRUE(back) << t;
    EXPECT_EQ(*back, t);
  }
}

TEST(subject_map, foreign_or_malformed_subjects_are_refused) {
  EXPECT_FALSE(subject_to_topic("edgemq.nodes"));
  EXPECT_FALSE(subject_to_topic("mqtt"));
  EXPECT_FALSE(subject_to_topic("mqtt."));
  EXPECT_FALSE(subject_to_topic("mqtt.a..b"));
  EXPECT_FALSE(subject_to_topic("mqtt.a%2"));
  EXPECT_FALSE(subject_to_topic("mqtt.a%zz"));
  EXPECT_FALSE(subject_to_topic("mqttx.a"));
}

TEST(subject_map, wildcards_map_to_nats_wildcards) {
  using v = std::vector<std::string>;
  EXPECT_EQ(filter_to_subjects("factory/+/temp"), (v{"mqtt.factory.*.temp"}));
  // `#` also matches the parent level in MQTT: two subjects.
  EXPECT_EQ(filter_to_subjects("factory/#"), (v{"mqtt.factory", "mqtt.factory.>"}));
  EXPECT_EQ(filter_to_subjects("#"), (v{"mqtt.>"}));
  EXPECT_EQ(filter_to_subjects("+/#"), (v{"mqtt.*", "mqtt.*.>"}));
  EXPECT_EQ(filter_to_subjects("+"), (v{"mqtt.*"}));
  EXPECT_EQ(filter_to_subjects("a.b/+"), (v{"mqtt.a%2Eb.*"}));
  EXPECT_EQ(filter_to_subjects("/#"), (v{"mqtt.%", "mqtt.%.>"}));
  EXPECT_EQ(filter_to_subjects("exact/topic"), (v{topic_to_subject("exact/topic")}));
}

TEST(subject_map, queue_names_differ_per_group_and_filter_and_have_no_whitespace) {
  EXPECT_NE(queue_name("g", "a/b"), queue_name("g", "a/c"));
  EXPECT_NE(queue_name("g", "a/b"), queue_name("h", "a/b"));
  EXPECT_NE(queue_name("g:a", "b"), queue_name("g", "a:b"));  // the separator is escaped
  const auto q = queue_name("my group", "a b/#");
  EXPECT_EQ(q.find(' '), std::string::npos);
  EXPECT_EQ(q, "mqtt:my%20group:a%20b/#");
}

}  // namespace
}  // namespace edgemq::cluster
