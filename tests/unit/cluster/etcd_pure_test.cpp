// The I/O-free parts of the etcd gateway client: base64 (keys and values travel in it), the
// prefix range end, and reading a watch stream line by line with the revision to resume from.
#include <gtest/gtest.h>

#include "cluster/etcd_client.hpp"
#include "cluster/etcd_watch_stream.hpp"

namespace edgemq::cluster {
namespace {

TEST(EtcdBase64, RoundTripsEveryLengthAndByte) {
  EXPECT_EQ(etcd_client::b64(""), "");
  EXPECT_EQ(etcd_client::b64("ss/k1"), "c3MvazE=");
  EXPECT_EQ(etcd_client::b64("ss/"), "c3Mv");
  EXPECT_EQ(etcd_client::b64("ss0"), "c3Mw");
  EXPECT_EQ(etcd_client::b64("v1"), "djE=");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    const auto part = all.substr(0, n);
    EXPECT_EQ(etcd_client::unb64(etcd_client::b64(part)), part) << n;
  }
}

TEST(EtcdBase64, MalformedDecodesEmpty) {
  EXPECT_EQ(etcd_client::unb64("c3M*azE="), "");
  EXPECT_EQ(etcd_client::unb64("c"), "");
}

TEST(EtcdPrefixEnd, IncrementsTheLastByteThatCan) {
  EXPECT_EQ(etcd_client::prefix_end("ss/"), "ss0");
  EXPECT_EQ(etcd_client::prefix_end("ss/v/"), "ss/v0");
  EXPECT_EQ(etcd_client::prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(etcd_client::prefix_end(std::string("\xff\xff", 2)), std::string(1, '\0'));
}

TEST(EtcdWatchStream, SplitsLinesAcrossChunks) {
  line_splitter s;
  EXPECT_TRUE(s.feed("{\"a\":").empty());
  auto lines = s.feed("1}\n{\"b\":2}\r\n{\"c\"");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"a\":1}");
  EXPECT_EQ(lines[1], "{\"b\":2}");
  EXPECT_EQ(s.pending(), 4u);
  lines = s.feed(":3}\n\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "{\"c\":3}");
}

TEST(EtcdWatchStream, CreatedFromNowResumesAfterTheHeaderRevision) {
  auto m = parse_watch_line(R"({"result":{"header":{"revision":"41","raft_term":"2"},"created":true}})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, watch_message::kind::created);
  EXPECT_EQ(next_watch_revision(0, *m), 42);
  EXPECT_EQ(next_watch_revision(7, *m), 7);  // opened from 7: events from 7 are still to come
}

TEST(EtcdWatchStream, EventsMoveTheResumePointPastTheLastOne) {
  // Exactly the gateway's output: a PUT has no "type", int64s are strings.
  auto m = parse_watch_line(
      R"({"result":{"header":{"revision":"3"},"events":[{"kv":{"key":"c3Mvdi9h","create_revision":"2","mod_revision":"2","version":"1","value":"MQ=="}},{"type":"DELETE","kv":{"key":"c3Mvdi9h","mod_revision":"3"}}]}})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, watch_message::kind::events);
  EXPECT_EQ(m->events.size(), 2u);
  EXPECT_EQ(m->last_mod_revision, 3);
  EXPECT_EQ(m->header_revision, 3);
  EXPECT_EQ(next_watch_revision(2, *m), 4);
}

TEST(EtcdWatchStream, NoLeaderErrorAndCompaction) {
  auto e = parse_watch_line(R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, watch_message::kind::error);
  EXPECT_EQ(e->error, "etcdserver: no leader");
  EXPECT_EQ(next_watch_revision(9, *e), 9);
  auto c = parse_watch_line(R"({"result":{"header":{"revision":"90"},"canceled":true,"compact_revision":"50"}})");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type, watch_message::kind::canceled);
  EXPECT_EQ(c->compact_revision, 50);
  EXPECT_EQ(next_watch_revision(9, *c), 0);
  EXPECT_FALSE(parse_watch_line("not json"));
}

}  // namespace
}  // namespace edgemq::cluster
