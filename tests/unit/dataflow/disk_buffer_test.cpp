// The disk buffer against real RocksDB in a temp dir: order, the bound and both policies,
// resuming after a reopen, and the record encoding.
#include "dataflow/disk_buffer.hpp"

#include <filesystem>

#include <gtest/gtest.h>
#include <unistd.h>

#include "dataflow/record_codec.hpp"

namespace edgemq::dataflow {
namespace {

namespace fs = std::filesystem;

record make(const std::string& topic, const std::string& payload) {
  record r;
  r.topic = topic;
  r.payload = payload;
  return r;
}

class DiskBufferTest : public ::testing::Test {
 protected:
  fs::path dir_;
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("edgemq-dfbuf-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> payloads(const disk_buffer& b) {
    std::vector<std::string> out;
    for (const auto& r : b.peek(1000)) out.push_back(r.payload);
    return out;
  }
};

TEST(RecordCodec, RoundTripsEveryField) {
  record r;
  r.topic = "factory/1/temp";
  r.payload = std::string("{\"t\":21.5}\0bin", 15);
  r.properties = {{"a", "1"}, {"b", ""}, {"a", "2"}};
  r.content_type = "application/json";
  r.response_topic = "reply/x";
  r.correlation_data = std::string("\x01\x00\x02", 3);
  r.message_expiry_s = 3600;
  r.qos = 1;
  r.retain = true;
  r.timestamp_ms = 1764700000123;
  std::string bytes;
  encode_record(r, bytes);
  auto back = decode_record(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->topic, r.topic);
  EXPECT_EQ(back->payload, r.payload);
  EXPECT_EQ(back->properties, r.properties);
  EXPECT_EQ(back->content_type, r.content_type);
  EXPECT_EQ(back->response_topic, r.response_topic);
  EXPECT_EQ(back->correlation_data, r.correlation_data);
  EXPECT_EQ(back->message_expiry_s, r.message_expiry_s);
  EXPECT_EQ(back->qos, 1);
  EXPECT_TRUE(back->retain);
  EXPECT_EQ(back->timestamp_ms, r.timestamp_ms);

  record plain = make("t", "p");
  std::string small;
  encode_record(plain, small);
  EXPECT_EQ(small.size(), 9u);  // compact: 7 bytes beside topic and payload, absent fields cost nothing
  auto p2 = decode_record(small);
  ASSERT_TRUE(p2);
  EXPECT_FALSE(p2->content_type);
  EXPECT_FALSE(p2->message_expiry_s);
}

TEST(RecordCodec, RefusesTruncatedAndUnknownVersions) {
  std::string bytes;
  encode_record(make("topic", "payload"), bytes);
  for (std::size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(decode_record(bytes.substr(0, n))) << n;
  bytes[0] = 99;
  EXPECT_FALSE(decode_record(bytes));
}

TEST_F(DiskBufferTest, KeepsOrderAndResumesAfterReopen) {
  buffer_limits lim;
  {
    buffer_db db(dir_.string());
    disk_buffer b(db, "flow");
    disk_buffer other(db, "flow2");  // a name that extends the first must not mix with it
    std::uint64_t ev = 0;
    for (int i = 0; i < 5; ++i) {
      auto r = make("t", "m" + std::to_string(i));
      ASSERT_EQ(b.push(r, lim, ev), disk_buffer::push_result::stored);
      EXPECT_EQ(r.seq, static_cast<std::uint64_t>(i + 1));
    }
    auto o = make("t", "other");
    other.push(o, lim, ev);
    EXPECT_EQ(payloads(b), (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"}));
    EXPECT_EQ(b.remove_through(2), 2u);  // the sink took the first two
    EXPECT_EQ(b.messages(), 3u);
  }
  buffer_db db(dir_.string());
  disk_buffer b(db, "flow");
  EXPECT_EQ(payloads(b), (std::vector<std::string>{"m2", "m3", "m4"}));
  std::uint64_t ev = 0;
  auto r = make("t", "m5");
  b.push(r, lim, ev);
  EXPECT_EQ(r.seq, 6u);  // after what is still there
  const auto all = b.peek(10);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all.front().seq, 3u);
  EXPECT_EQ(disk_buffer(db, "flow2").messages(), 1u);
}

TEST_F(DiskBufferTest, DropOldestEvictsToTheBound) {
  buffer_limits lim;
  lim.max_messages = 3;
  buffer_db db(dir_.string());
  disk_buffer b(db, "flow");
  std::uint64_t ev = 0;
  for (int i = 0; i < 5; ++i) {
    auto r = make("t", "m" + std::to_string(i));
    EXPECT_EQ(b.push(r, lim, ev), disk_buffer::push_result::stored);
  }
  EXPECT_EQ(ev, 2u);
  EXPECT_EQ(payloads(b), (std::vector<std::string>{"m2", "m3", "m4"}));

  // By bytes: each record is 10 bytes encoded here.
  buffer_limits by_bytes;
  by_bytes.max_bytes = 20;
  disk_buffer c(db, "bytes");
  ev = 0;
  for (int i = 0; i < 4; ++i) {
    auto r = make("t", "p" + std::to_string(i));
    c.push(r, by_bytes, ev);
  }
  EXPECT_EQ(c.messages(), 2u);
  EXPECT_LE(c.bytes(), 20u);
  EXPECT_EQ(ev, 2u);
  auto big = make("t", std::string(100, 'x'));
  EXPECT_EQ(c.push(big, by_bytes, ev), disk_buffer::push_result::too_large);
  EXPECT_EQ(c.messages(), 2u);
}

TEST_F(DiskBufferTest, StopPolicyRefusesWithoutEvicting) {
  buffer_limits lim;
  lim.max_messages = 2;
  lim.when_full = buffer_limits::policy::stop;
  buffer_db db(dir_.string());
  disk_buffer b(db, "flow");
  std::uint64_t ev = 0;
  auto r0 = make("t", "a"), r1 = make("t", "b"), r2 = make("t", "c");
  EXPECT_EQ(b.push(r0, lim, ev), disk_buffer::push_result::stored);
  EXPECT_EQ(b.push(r1, lim, ev), disk_buffer::push_result::stored);
  EXPECT_EQ(b.push(r2, lim, ev), disk_buffer::push_result::full);
  EXPECT_EQ(ev, 0u);
  EXPECT_EQ(payloads(b), (std::vector<std::string>{"a", "b"}));
  b.remove_through(r0.seq);
  EXPECT_EQ(b.push(r2, lim, ev), disk_buffer::push_result::stored);
  EXPECT_EQ(payloads(b), (std::vector<std::string>{"b", "c"}));
}

TEST_F(DiskBufferTest, EraseAllRemovesOnlyItsOwnRecords) {
  buffer_limits lim;
  {
    buffer_db db(dir_.string());
    disk_buffer a(db, "a"), b(db, "b");
    std::uint64_t ev = 0;
    for (int i = 0; i < 3; ++i) {
      auto r = make("t", "x");
      a.push(r, lim, ev);
      auto s = make("t", "y");
      b.push(s, lim, ev);
    }
    a.erase_all();
    EXPECT_EQ(a.messages(), 0u);
    EXPECT_TRUE(a.peek(10).empty());
  }
  buffer_db db(dir_.string());
  EXPECT_EQ(disk_buffer(db, "a").messages(), 0u);
  EXPECT_EQ(disk_buffer(db, "b").messages(), 3u);
}

}  // namespace
}  // namespace edgemq::dataflow
