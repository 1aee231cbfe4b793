// Topic names, topic filters and matching (MQTT 5.0 section 4.7, 3.1.1 section 4.7).
#include "edgemq/mqtt/topic.hpp"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "mqtt_test_util.hpp"

namespace mqtt_test {
namespace {

using namespace std::string_view_literals;

// ------------------------------------------------------------------ validate_topic_name

TEST(TopicName, ValidNames) {
  for (std::string_view n : {"a"sv, "a/b"sv, "/"sv, "a//b"sv, "/a"sv, "a/"sv, "sport/tennis/player1"sv,
                             "$SYS/broker/clients"sv, " "sv, "ü/€"sv}) {
    EXPECT_EQ(validate_topic_name(n), reason_code::success) << n;
  }
}

TEST(TopicName, EmptyIsProtocolError) {
  EXPECT_EQ(validate_topic_name(""), reason_code::protocol_error);
}

TEST(TopicName, WildcardsAreInvalid) {
  for (std::string_view n : {"+"sv, "#"sv, "a/+"sv, "a/#"sv, "a+"sv, "a#b"sv, "+/a"sv, "sport/tennis/#"sv}) {
    EXPECT_EQ(validate_topic_name(n), reason_code::topic_name_invalid) << n;
  }
}

TEST(TopicName, IllFormedUtf8IsMalformed) {
  EXPECT_EQ(validate_topic_name("a\xC0\x80"sv), reason_code::malformed_packet);
  EXPECT_EQ(validate_topic_name("\xED\xA0\x80"sv), reason_code::malformed_packet);
  EXPECT_EQ(validate_topic_name("a\0b"sv), reason_code::malformed_packet);
}

// The ASCII fast path hands over to the full check at the first non-ASCII byte, wherever it is.
TEST(TopicName, WildcardsAndErrorsAroundNonAscii) {
  EXPECT_EQ(validate_topic_name("+/\xC3\xBC"sv), reason_code::topic_name_invalid);
  EXPECT_EQ(validate_topic_name("\xC3\xBC/#"sv), reason_code::topic_name_invalid);
  EXPECT_EQ(validate_topic_name("+/\xC0\x80"sv), reason_code::malformed_packet);  // bad UTF-8 wins over a wildcard
  EXPECT_EQ(validate_topic_name("\xC3\xBC\0"sv), reason_code::malformed_packet);
}

// The 8-bytes-at-a-time pass must hand every special byte to the byte loop, at every position of
// a word and past it: a wildcard, a NUL, and non-ASCII (valid and ill-formed) in long names.
TEST(TopicName, SpecialBytesAtEveryPositionOfLongNames) {
  const std::string base(40, 'a');
  EXPECT_EQ(validate_topic_name(base), reason_code::success);
  for (std::size_t at = 0; at < base.size(); ++at) {
    std::string n = base;
    n[at] = '+';
    EXPECT_EQ(validate_topic_name(n), reason_code::topic_name_invalid) << at;
    n[at] = '#';
    EXPECT_EQ(validate_topic_name(n), reason_code::topic_name_invalid) << at;
    n[at] = '\0';
    EXPECT_EQ(validate_topic_name(n), reason_code::malformed_packet) << at;
    n[at] = '\x80';  // a lone continuation byte
    EXPECT_EQ(validate_topic_name(n), reason_code::malformed_packet) << at;
    if (at + 1 < base.size()) {
      n = base;
      n.replace(at, 2, "\xC3\xBC");
      EXPECT_EQ(validate_topic_name(n), reason_code::success) << at;
      if (at + 2 < base.size()) {
        n.back() = '#';
        EXPECT_EQ(validate_topic_name(n), reason_code::topic_name_invalid) << at;
      }
    }
  }
}

// ------------------------------------------------------------------ validate_topic_filter

TEST(TopicFilter, ValidFilters) {
  for (std::string_view f :
       {"#"sv, "+"sv, "a"sv, "a/b"sv, "a/+"sv, "+/+"sv, "a/#"sv, "+/tennis/#"sv, "sport/+/player1"sv, "/"sv, "/+"sv,
        "a//b"sv, "+/"sv, "$SYS/#"sv, "$share/group/a/+"sv, "$share/g/#"sv}) {
    EXPECT_EQ(validate_topic_filter(f), reason_code::success) << f;
  }
}

TEST(TopicFilter, InvalidFilters) {
  for (std::string_view f : {""sv, "a/#/b"sv, "a#"sv, "a/b+"sv, "#/a"sv, "sport/tennis#"sv, "sport+"sv, "##"sv, "++"sv,
                             "a/+b/c"sv, "#/"sv}) {
    EXPECT_EQ(validate_topic_filter(f), reason_code::topic_filter_invalid) << f;
  }
}

TEST(TopicFilter, IllFormedUtf8IsMalformed) {
  EXPECT_EQ(validate_topic_filter("a/\xFF"sv), reason_code::malformed_packet);
  EXPECT_EQ(validate_topic_filter("\0"sv), reason_code::malformed_packet);
}

// ------------------------------------------------------------------ topic_matches

struct match_case {
  std::string_view filter;
  std::string_view name;
  bool matches;
};

TEST(TopicMatches, SpecExamples) {
  const match_case cases[] = {
      // 4.7.1.2 multi-level wildcard
      {"sport/tennis/player1/#", "sport/tennis/player1", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/tennis/player1/#", "sport/tennis/player2", false},
      {"sport/#", "sport", true},
      {"sport/#", "sports", false},
      {"sport/#", "sport/", true},
      {"#", "sport/tennis", true},
      {"#", "/", true},
      // 4.7.1.3 single-level wildcard
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player2", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},
      {"+", "sport", true},
      {"+", "/finance", false},
      {"+/+", "/finance", true},
      {"/+", "/finance", true},
      {"+/tennis/#", "sport/tennis/player1", true},
      {"+/tennis/#", "sport/tennis", true},
      {"+/tennis/#", "sport/golf", false},
      // exact and case-sensitive
      {"a/b", "a/b", true},
      {"a/b", "a/b/c", false},
      {"a/b/c", "a/b", false},
      {"ACCOUNTS", "Accounts", false},
      {"a/b", "a/B", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(topic_matches(c.filter, c.name), c.matches) << c.filter << " vs " << c.name;
  }
}

TEST(TopicMatches, DollarTopicsAreNotMatchedByLeadingWildcards) {
  EXPECT_FALSE(topic_matches("#", "$SYS/x"));
  EXPECT_FALSE(topic_matches("+/x", "$SYS/x"));
  EXPECT_FALSE(topic_matches("+/#", "$SYS/x"));
  EXPECT_FALSE(topic_matches("+", "$SYS"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS/x"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS"));
  EXPECT_TRUE(topic_matches("$SYS/+", "$SYS/x"));
  EXPECT_TRUE(topic_matches("$SYS/x", "$SYS/x"));
  EXPECT_FALSE(topic_matches("$SYS/#", "SYS/x"));
  // A '$' that is not in the first character does not matter.
  EXPECT_TRUE(topic_matches("#", "a/$SYS"));
  EXPECT_TRUE(topic_matches("+/$x", "a/$x"));
}

TEST(TopicMatches, EmptyLevels) {
  EXPECT_TRUE(topic_matches("a//b", "a//b"));
  EXPECT_FALSE(topic_matches("a/b", "a//b"));
  EXPECT_TRUE(topic_matches("a/+/b", "a//b"));
  EXPECT_FALSE(topic_matches("a/+", "a//b"));
  EXPECT_TRUE(topic_matches("a/#", "a//b"));
  EXPECT_TRUE(topic_matches("+/a", "/a"));
  EXPECT_TRUE(topic_matches("/#", "/a"));
  EXPECT_TRUE(topic_matches("#", "/a"));
  EXPECT_FALSE(topic_matches("a", "/a"));
  EXPECT_FALSE(topic_matches("/a", "a"));
  EXPECT_TRUE(topic_matches("/", "/"));
  EXPECT_TRUE(topic_matches("+/+", "/"));
  EXPECT_FALSE(topic_matches("+", "/"));
  EXPECT_TRUE(topic_matches("a/+", "a/"));
  EXPECT_FALSE(topic_matches("a/+/+", "a/"));
}

// ------------------------------------------------------------------ is_shared_filter

TEST(SharedFilter, Recognised) {
  EXPECT_TRUE(is_shared_filter("$share/group/a/b"));
  EXPECT_TRUE(is_shared_filter("$share/g/#"));
  EXPECT_TRUE(is_shared_filter("$share/consumer1/sport/tennis/+"));
}

TEST(SharedFilter, NotShared) {
  EXPECT_FALSE(is_shared_filter("a/b"));
  EXPECT_FALSE(is_shared_filter("#"));
  EXPECT_FALSE(is_shared_filter("$SYS/a"));
  EXPECT_FALSE(is_shared_filter("$shared/g/a"));
  EXPECT_FALSE(is_shared_filter("share/g/a"));
  EXPECT_FALSE(is_shared_filter("a/$share/g/b"));
  EXPECT_FALSE(is_shared_filter("$SHARE/g/a"));
  EXPECT_FALSE(is_shared_filter(""));
}

}  // namespace
}  // namespace mqtt_test
