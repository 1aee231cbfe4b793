// The nodes whose filters match a topic (node_filter_index.hpp): MQTT wildcard rules, each node
// once, filters counted so that removing one of two equal filters keeps the node.
#include "cluster/node_filter_index.hpp"

#include <gtest/gtest.h>

namespace edgemq::cluster {
namespace {

std::vector<std::string> nodes_for(const node_filter_index& idx, std::string_view topic) {
  std::vector<std::string> out;
  idx.match(topic, out);
  return out;
}

using list = std::vector<std::string>;

TEST(NodeFilterIndex, WildcardsMatchAsInMqtt) {
  node_filter_index idx;
  idx.add("a", "dev/+/cmd");
  idx.add("b", "dev/#");
  idx.add("c", "dev/1/cmd");
  idx.add("d", "#");
  idx.add("e", "other");
  EXPECT_EQ(nodes_for(idx, "dev/1/cmd"), (list{"a", "b", "c", "d"}));
  EXPECT_EQ(nodes_for(idx, "dev/2/cmd"), (list{"a", "b", "d"}));
  EXPECT_EQ(nodes_for(idx, "dev"), (list{"b", "d"})) << "'#' matches its parent level";
  EXPECT_EQ(nodes_for(idx, "dev/1/cmd/x"), (list{"b", "d"}));
  EXPECT_EQ(nodes_for(idx, "other"), (list{"d", "e"}));
  EXPECT_EQ(nodes_for(idx, "$SYS/x"), list{}) << "wildcards at the first level skip $ topics";
  idx.add("f", "$SYS/#");
  EXPECT_EQ(nodes_for(idx, "$SYS/x"), list{"f"});
  idx.add("g", "a//b");
  EXPECT_EQ(nodes_for(idx, "a//b"), (list{"d", "g"})) << "an empty level is a level";
}

TEST(NodeFilterIndex, EachNodeOnceAndCountsPerFilter) {
  node_filter_index idx;
  idx.add("a", "t/+");
  idx.add("a", "t/#");
  idx.add("a", "t/+");  // two sessions of node a with the same filter
  EXPECT_EQ(nodes_for(idx, "t/1"), list{"a"});
  EXPECT_EQ(idx.filters_of("a"), 3u);
  idx.remove("a", "t/+");
  idx.remove("a", "t/#");
  EXPECT_EQ(nodes_for(idx, "t/1"), list{"a"}) << "one t/+ is left";
  idx.remove("a", "t/+");
  EXPECT_EQ(nodes_for(idx, "t/1"), list{});
  EXPECT_EQ(idx.filters_of("a"), 0u);
  idx.remove("a", "t/+");  // not there: nothing
  idx.remove("z", "never/added");
  EXPECT_EQ(idx.filters_of("a"), 0u);
}

}  // namespace
}  // namespace edgemq::cluster
