// Request-body and encoding helpers of the admin routes: JSON bodies with their Content-Type,
// UTF-8 validity, base64 both ways.
#include "admin/route_util.hpp"

#include <vector>

#include <gtest/gtest.h>

namespace edgemq::admin {
namespace {

http_request with_body(std::string type, std::string body) {
  return {"PUT", "/x", "", std::move(type), std::move(body)};
}

TEST(RouteUtil, JsonBodyNeedsJsonContentType) {
  json j;
  auto bad = parse_json_body(with_body("text/plain", "{}"), j, false);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 415u);
  EXPECT_FALSE(parse_json_body(with_body("Application/JSON; charset=utf-8", R"({"a":1})"), j, false));
  EXPECT_EQ(j.at("a"), 1);
}

TEST(RouteUtil, JsonBodyMustBeAnObject) {
  json j;
  for (const auto* b : {"[1]", "{", "\"x\"", ""}) {
    auto bad = parse_json_body(with_body("application/json", b), j, false);
    ASSERT_TRUE(bad) << b;
    EXPECT_EQ(bad->status, 400u) << b;
  }
}

TEST(RouteUtil, EmptyBodyIsAnEmptyObjectOnlyWhenOptional) {
  json j;
  EXPECT_FALSE(parse_json_body(with_body("", ""), j, true));
  EXPECT_TRUE(j.is_object() && j.empty());
  auto bad = parse_json_body(with_body("", ""), j, false);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 415u);
}

TEST(RouteUtil, Utf8Validity) {
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("gr\xC3\xBC\xC3\x9F"));
  EXPECT_TRUE(valid_utf8("\xF0\x9F\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xFF"));
  EXPECT_FALSE(valid_utf8("\xC3"));          // truncated
  EXPECT_FALSE(valid_utf8("\xC0\x80"));      // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));  // surrogate
}

TEST(RouteUtil, Base64RoundTrip) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", std::string("\x00\xFF\x10", 3)})
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_FALSE(base64_decode("Zm8"));
  EXPECT_FALSE(base64_decode("Zm=v"));
  EXPECT_FALSE(base64_decode("Z!8="));
}

TEST(RouteUtil, BytesAreTextWhenTheyCanBe) {
  EXPECT_EQ(encode_bytes("hi").encoding, "utf-8");
  const auto b = encode_bytes(std::string("\xFF\x00", 2));
  EXPECT_EQ(b.encoding, "base64");
  EXPECT_EQ(b.text, "/wA=");
  std::string err;
  EXPECT_EQ(decode_bytes("/wA=", "base64", err), std::string("\xFF\x00", 2));
  EXPECT_FALSE(decode_bytes("x", "hex", err));
  EXPECT_FALSE(err.empty());
}

}  // namespace
}  // namespace edgemq::admin
