// The shared byte-text helpers: RFC 4648 vectors, strict decoding, RFC 3629 UTF-8.
#include "text/text.hpp"

#include <gtest/gtest.h>

using namespace edgemq::text;

TEST(Base64, Rfc4648Vectors) {
  const char* vectors[][2] = {{"", ""},
                              {"f", "Zg=="},
                              {"fo", "Zm8="},
                              {"foo", "Zm9v"},
                              {"foob", "Zm9vYg=="},
                              {"fooba", "Zm9vYmE="},
                              {"foobar", "Zm9vYmFy"}};
  for (const auto& v : vectors) {
    EXPECT_EQ(base64_encode(v[0]), v[1]);
    EXPECT_EQ(base64_decode(v[1]), std::string(v[0]));
  }
}

TEST(Base64, EveryByteRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 37)
    EXPECT_EQ(base64_decode(base64_encode(all.substr(0, n))), all.substr(0, n));
  EXPECT_EQ(base64_encode("\xff\xfe"), "//4=");
}

TEST(Base64, DecodingIsStrict) {
  EXPECT_FALSE(base64_decode("Zm8"));       // not a multiple of 4
  EXPECT_FALSE(base64_decode("Zm=v"));      // data after padding
  EXPECT_FALSE(base64_decode("Z!8="));      // outside the alphabet
  EXPECT_FALSE(base64_decode("Zg==Zg=="));  // padding before the last quantum
  EXPECT_FALSE(base64_decode("Z==="));      // three pads
  EXPECT_FALSE(base64_decode("Zm9v\n"));    // no line breaks
  EXPECT_FALSE(base64_decode("Zm9-"));      // base64url is another alphabet
}

TEST(Utf8, ValidAndInvalid) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(valid_utf8("\xe2\x82"));          // truncated at the end
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
  EXPECT_FALSE(valid_utf8("\x80"));              // a continuation byte alone
  EXPECT_FALSE(valid_utf8("\xf8\x88\x80\x80\x80"));
}
