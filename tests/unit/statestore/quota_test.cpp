// The quota rule shared by the single-node service and the cluster's etcd store.
#include "statestore/quota.hpp"

#include <gtest/gtest.h>

namespace edgemq::statestore {
namespace {

TEST(QuotaRule, NewKeysByCountOverwritesOnlyByBytes) {
  const quota_limits lim{.max_keys = 2, .max_bytes = 100};
  EXPECT_FALSE(quota_exceeded(lim, {1, 10}, "k", "v", std::nullopt));
  EXPECT_TRUE(quota_exceeded(lim, {2, 10}, "k", "v", std::nullopt));
  EXPECT_FALSE(quota_exceeded(lim, {2, 10}, "k", "new", std::string_view("old")));
  EXPECT_FALSE(quota_exceeded(lim, {3, 10}, "k", "new", std::string_view("old")));  // limit lowered: still kept
}

TEST(QuotaRule, BytesAreKeysPlusValuesTheReplacedValueFreed) {
  const quota_limits lim{.max_keys = 10, .max_bytes = 20};
  EXPECT_EQ(quota_usage::entry_bytes("key", "value"), 8u);
  EXPECT_FALSE(quota_exceeded(lim, {1, 10}, "b", std::string(9, 'x'), std::nullopt));  // 20
  EXPECT_TRUE(quota_exceeded(lim, {1, 10}, "b", std::string(10, 'x'), std::nullopt));  // 21
  EXPECT_FALSE(quota_exceeded(lim, {1, 10}, "a", std::string(19, 'x'), std::string_view(std::string(9, 'x'))));
  EXPECT_TRUE(quota_exceeded(lim, {1, 10}, "a", std::string(20, 'x'), std::string_view(std::string(9, 'x'))));
  // A usage that does not yet hold the replaced value (a lagging view) does not wrap around.
  EXPECT_FALSE(quota_exceeded(lim, {0, 0}, "a", "v", std::string_view("longer than the usage")));
}

}  // namespace
}  // namespace edgemq::statestore
