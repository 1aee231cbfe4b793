#include "edgemq/statestore/resp3.hpp"

#include <gtest/gtest.h>

namespace edgemq::statestore::resp3 {
namespace {

using parts = std::vector<std::string_view>;

// The exact request bytes of the reference (section 1.3), built and parsed.
TEST(Resp3, ReferenceRequestsRoundTrip) {
  const std::vector<std::pair<std::string, parts>> cases = {
      {"*3\r\n$3\r\nSET\r\n$7\r\ntestkey\r\n$9\r\ntestvalue\r\n", {"SET", "testkey", "testvalue"}},
      {"*4\r\n$3\r\nSET\r\n$7\r\ntestkey\r\n$9\r\ntestvalue\r\n$2\r\nNX\r\n", {"SET", "testkey", "testvalue", "NX"}},
      {"*4\r\n$3\r\nSET\r\n$7\r\ntestkey\r\n$9\r\ntestvalue\r\n$3\r\nNEX\r\n", {"SET", "testkey", "testvalue", "NEX"}},
      {"*5\r\n$3\r\nSET\r\n$7\r\ntestkey\r\n$9\r\ntestvalue\r\n$2\r\nPX\r\n$2\r\n10\r\n",
       {"SET", "testkey", "testvalue", "PX", "10"}},
      {"*6\r\n$3\r\nSET\r\n$4\r\nlock\r\n$7\r\nclient1\r\n$3\r\nNEX\r\n$2\r\nPX\r\n$5\r\n10000\r\n",
       {"SET", "lock", "client1", "NEX", "PX", "10000"}},
      {"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n", {"SET", "", ""}},
      {"*2\r\n$3\r\nGET\r\n$7\r\ntestkey\r\n", {"GET", "testkey"}},
      {"*2\r\n$3\r\nDEL\r\n$7\r\ntestkey\r\n", {"DEL", "testkey"}},
      {"*3\r\n$4\r\nVDEL\r\n$7\r\ntestkey\r\n$9\r\ntestvalue\r\n", {"VDEL", "testkey", "testvalue"}},
      {"*2\r\n$9\r\nKEYNOTIFY\r\n$7\r\nSOMEKEY\r\n", {"KEYNOTIFY", "SOMEKEY"}},
      {"*3\r\n$9\r\nKEYNOTIFY\r\n$7\r\nSOMEKEY\r\n$4\r\nSTOP\r\n", {"KEYNOTIFY", "SOMEKEY", "STOP"}},
  };
  for (const auto& [bytes, expected] : cases) {
    EXPECT_EQ(request(expected), bytes);
    auto got = parse_request(bytes);
    ASSERT_TRUE(got) << bytes;
    EXPECT_EQ(*got, expected);
  }
}

TEST(Resp3, BinarySafe) {
  const std::string value("a\r\n\0b", 5);
  const auto req = request({"SET", "k", value});
  auto got = parse_request(req);
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)[2], value);
}

TEST(Resp3, ReplyBytes) {
  EXPECT_EQ(ok(), "+OK\r\n");
  EXPECT_EQ(integer(-1), ":-1\r\n");
  EXPECT_EQ(integer(1), ":1\r\n");
  EXPECT_EQ(integer(0), ":0\r\n");
  EXPECT_EQ(bulk("1234"), "$4\r\n1234\r\n");
  EXPECT_EQ(bulk(""), "$0\r\n\r\n");
  EXPECT_EQ(null_bulk(), "$-1\r\n");
  EXPECT_EQ(error("syntax error"), "-ERR syntax error\r\n");
  EXPECT_EQ(request({"NOTIFY", "SET", "VALUE", "abc"}),
            "*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\nabc\r\n");
  EXPECT_EQ(request({"NOTIFY", "DELETE"}), "*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n");
}

TEST(Resp3, ParseReplies) {
  auto r = parse_reply("$4\r\n1234\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, reply::kind::bulk);
  EXPECT_EQ(r->text, "1234");
  r = parse_reply("-ERR not authorized\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, reply::kind::error);
  EXPECT_EQ(r->text, "not authorized");
  r = parse_reply(":-1\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->number, -1);
  EXPECT_EQ(parse_reply("$-1\r\n")->type, reply::kind::null);
  EXPECT_EQ(parse_reply("*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n")->items,
            (std::vector<std::string>{"NOTIFY", "DELETE"}));
  EXPECT_FALSE(parse_reply("$5\r\n1234\r\n"));
  EXPECT_FALSE(parse_reply("?x\r\n"));
}

TEST(Resp3, StrictRequestParser) {
  for (std::string bad : {"", "*0\r\n", "*1\r\n", "*1\r\n$3\r\nGET", "*1\r\n$3\r\nGETX\r\n", "*1\r\n$3\r\nGET\r\nextra",
                          "*2\r\n$3\r\nGET\r\n", "*1\r\n+GET\r\n", "*1\r\n$-1\r\n", "*17\r\n",
                          "*1\r\n$99999999\r\nGET\r\n", "*x\r\n$3\r\nGET\r\n", "*1\r\n$3\r\nGET\n\n", "$3\r\nGET\r\n"})
    EXPECT_FALSE(parse_request(bad)) << bad;
}

}  // namespace
}  // namespace edgemq::statestore::resp3
