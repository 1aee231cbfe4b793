#include "edgemq/statestore/hlc.hpp"

#include <gtest/gtest.h>

#include "statestore/record.hpp"

namespace edgemq::statestore {
namespace {

TEST(Hlc, FormatAndParsePaddedAndUnpadded) {
  const hlc h{1696374425000, 1, "StateStore"};
  EXPECT_EQ(h.to_string(), "001696374425000:00001:StateStore");
  EXPECT_EQ(hlc::parse("001696374425000:00001:StateStore"), h);
  EXPECT_EQ(hlc::parse("1696374425000:1:StateStore"), h);  // the docs' unpadded form
  EXPECT_EQ(hlc::parse("1:2:"), (hlc{1, 2, ""}));
  for (auto bad : {"", "1:2", "1:2:3:4", "a:2:n", "1:b:n", ":1:n", "1::n", "-1:2:n", "99999999999999999999999:0:n"})
    EXPECT_FALSE(hlc::parse(bad)) << bad;
}

TEST(Hlc, OrderIsTimeThenCounterThenNode) {
  EXPECT_LT((hlc{1, 9, "z"}), (hlc{2, 0, "a"}));
  EXPECT_LT((hlc{2, 0, "z"}), (hlc{2, 1, "a"}));
  EXPECT_LT((hlc{2, 1, "a"}), (hlc{2, 1, "b"}));
}

TEST(Hlc, ClockIsMonotonicAndAboveWhatItSaw) {
  hlc_clock c("edgemq");
  const auto a = c.tick(1000);
  const auto b = c.tick(1000);
  EXPECT_LT(a, b);
  const auto back = c.tick(500);  // the wall clock went backwards
  EXPECT_LT(b, back);
  const hlc ahead{5000, 7, "client"};
  const auto after = c.tick(1000, &ahead);
  EXPECT_EQ(after.wall_ms, 5000u);
  EXPECT_EQ(after.counter, 8u);  // greater than the request's timestamp
  const hlc behind{10, 0, "client"};
  EXPECT_LT(ahead, c.tick(2000, &behind));
}

TEST(Record, EncodeDecodeRoundTripAndRejectsGarbage) {
  key_record r;
  r.value = std::string("v\0x", 3);
  r.version = {123, 4, "edgemq"};
  r.fencing_token = hlc{100, 1, "client"};
  r.expires_at_ms = 99999;
  const auto bytes = encode(r);
  EXPECT_EQ(bytes[0], static_cast<char>(record_format_version));
  EXPECT_EQ(decode(bytes), r);
  key_record plain;
  plain.value = "x";
  EXPECT_EQ(decode(encode(plain)), plain);
  EXPECT_FALSE(decode(""));
  EXPECT_FALSE(decode(bytes.substr(0, bytes.size() - 1)));
  std::string future = bytes;
  future[0] = 9;  // an unknown format version is refused, not misread
  EXPECT_FALSE(decode(future));
}

}  // namespace
}  // namespace edgemq::statestore
