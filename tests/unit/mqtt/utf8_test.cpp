// is_valid_mqtt_utf8: RFC 3629 well-formedness plus the MQTT ban on U+0000 (MQTT 1.5.4).
#include "edgemq/mqtt/utf8.hpp"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace {

using edgemq::mqtt::is_valid_mqtt_utf8;
using namespace std::string_view_literals;

TEST(Utf8, AcceptsWellFormedStrings) {
  for (std::string_view s : {
           ""sv,
           "hello/world"sv,
           "\x01"sv,              // U+0001: discouraged but well-formed
           "\x7F"sv,              // U+007F
           "\xC2\x80"sv,          // U+0080, smallest two-byte
           "\xC3\xA9"sv,          // é
           "\xDF\xBF"sv,          // U+07FF, largest two-byte
           "\xE0\xA0\x80"sv,      // U+0800, smallest three-byte
           "\xE2\x82\xAC"sv,      // €
           "\xED\x9F\xBF"sv,      // U+D7FF, just below the surrogates
           "\xEE\x80\x80"sv,      // U+E000, just above the surrogates
           "\xEF\xBB\xBF"sv,      // U+FEFF (BOM) is allowed and not stripped
           "\xEF\xBF\xBF"sv,      // U+FFFF
           "\xF0\x90\x80\x80"sv,  // U+10000, smallest four-byte
           "\xF0\x9F\x98\x80"sv,  // 😀
           "\xF4\x8F\xBF\xBF"sv,  // U+10FFFF, largest code point
           "a\xC3\xA9z\xE2\x82\xAC\xF0\x9F\x98\x80!"sv,
       }) {
    EXPECT_TRUE(is_valid_mqtt_utf8(s)) << "length " << s.size();
  }
}

struct bad_utf8 {
  const char* what;
  std::string_view s;
};

TEST(Utf8, RejectsIllFormedOrNul) {
  const bad_utf8 cases[] = {
      {"U+0000", "\0"sv},
      {"embedded U+0000", "ab\0cd"sv},
      {"overlong NUL C0 80", "\xC0\x80"sv},
      {"overlong '/' C0 AF", "\xC0\xAF"sv},
      {"overlong C1 BF", "\xC1\xBF"sv},
      {"overlong three-byte E0 80 80", "\xE0\x80\x80"sv},
      {"overlong three-byte E0 9F BF", "\xE0\x9F\xBF"sv},
      {"overlong four-byte F0 80 80 80", "\xF0\x80\x80\x80"sv},
      {"overlong four-byte F0 8F BF BF", "\xF0\x8F\xBF\xBF"sv},
      {"high surrogate ED A0 80", "\xED\xA0\x80"sv},
      {"low surrogate ED BF BF", "\xED\xBF\xBF"sv},
      {"surrogate pair CESU-8", "\xED\xA0\xBD\xED\xB8\x80"sv},
      {"above U+10FFFF F4 90 80 80", "\xF4\x90\x80\x80"sv},
      {"F5 lead byte", "\xF5\x80\x80\x80"sv},
      {"F8 five-byte lead", "\xF8\x88\x80\x80\x80"sv},
      {"FE", "\xFE"sv},
      {"FF", "\xFF"sv},
      {"lone continuation 80", "\x80"sv},
      {"lone continuation inside ASCII", "a\x80z"sv},
      {"continuation BF after complete char", "\xC3\xA9\xBF"sv},
      {"truncated two-byte at end", "a\xC3"sv},
      {"truncated three-byte at end", "\xE2\x82"sv},
      {"truncated four-byte at end", "\xF0\x9F\x98"sv},
      {"truncated two-byte followed by ASCII",
       "\xC3"
       "A"sv},
      {"truncated three-byte followed by ASCII",
       "\xE2\x82"
       "A"sv},
      {"two-byte lead followed by lead", "\xC3\xC3\xA9"sv},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(is_valid_mqtt_utf8(c.s)) << c.what;
  }
}

TEST(Utf8, InvalidByteAnywhereInLongStringIsFound) {
  std::string s(1000, 'a');
  EXPECT_TRUE(is_valid_mqtt_utf8(s));
  s[999] = '\xC0';
  EXPECT_FALSE(is_valid_mqtt_utf8(s));
  s[999] = 'a';
  s[500] = '\0';
  EXPECT_FALSE(is_valid_mqtt_utf8(s));
}

}  // namespace
