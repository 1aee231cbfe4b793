#include "broker/topic_tree.hpp"

#include <algorithm>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "broker/memory_release.hpp"

namespace edgemq::broker {
namespace {

class TopicTreeTest : public ::testing::Test {
 protected:
  limits lim_;
  counters stats_;
  session_env env_{lim_, stats_};
  session a_{"a", env_};
  session b_{"b", env_};
  topic_tree tree_;

  std::multiset<std::string> matches(std::string_view topic) {
    std::multiset<std::string> out;
    tree_.match(topic, [&](const subscriber& s) { out.insert(s.s->client_id()); });
    return out;
  }
  void sub(session& s, std::string_view f) { tree_.subscribe(f, subscriber{&s, {}, 0}); }
};

TEST_F(TopicTreeTest, ExactAndWildcards) {
  sub(a_, "sport/tennis/player1");
  sub(b_, "sport/+/player1");
  EXPECT_EQ(matches("sport/tennis/player1"), (std::multiset<std::string>{"a", "b"}));
  EXPECT_EQ(matches("sport/golf/player1"), (std::multiset<std::string>{"b"}));
  EXPECT_TRUE(matches("sport/tennis/player2").empty());
}

// A topic's matches are remembered per thread until the tree changes: every subscribe and
// unsubscribe in between, and a tree made anew (even at the same address), must be seen at once.
TEST_F(TopicTreeTest, RememberedMatchesFollowEveryChange) {
  EXPECT_TRUE(matches("r/x").empty());
  sub(a_, "r/x");
  EXPECT_EQ(matches("r/x"), (std::multiset<std::string>{"a"}));
  EXPECT_EQ(matches("r/x"), (std::multiset<std::string>{"a"}));  // remembered
  sub(b_, "r/+");
  EXPECT_EQ(matches("r/x"), (std::multiset<std::string>{"a", "b"}));
  tree_.subscribe("r/x", subscriber{&a_, {mqtt::qos::at_least_once}, 7});  // replaced in place
  std::vector<std::pair<mqtt::qos, std::uint32_t>> seen;
  tree_.match("r/x", [&](const subscriber& s) {
    if (s.s == &a_) seen.emplace_back(s.options.qos, s.subscription_id);
  });
  EXPECT_EQ(seen, (std::vector<std::pair<mqtt::qos, std::uint32_t>>{{mqtt::qos::at_least_once, 7}}));
  EXPECT_TRUE(tree_.unsubscribe("r/x", &a_));
  EXPECT_EQ(matches("r/x"), (std::multiset<std::string>{"b"}));
  EXPECT_TRUE(tree_.unsubscribe("r/+", &b_));
  EXPECT_TRUE(matches("r/x").empty());
  // Share groups are remembered too, and handed to the group visitor.
  tree_.subscribe("$share/g/r/x", subscriber{&a_, {}, 0});
  for (int i = 0; i < 2; ++i) {
    std::size_t groups = 0;
    tree_.match(
        "r/x", [](const subscriber&) {}, [&](const std::shared_ptr<share_group>& g) { groups += g->members.size(); });
    EXPECT_EQ(groups, 1u);
  }
  // A new tree in the same storage starts with nothing remembered.
  sub(a_, "same/place");
  EXPECT_EQ(matches("same/place").size(), 1u);
  tree_.~topic_tree();
  new (&tree_) topic_tree();
  EXPECT_TRUE(matches("same/place").empty());
}

// A match wider than what is remembered is walked every time, and still complete.
TEST_F(TopicTreeTest, WideMatchesAreComplete) {
  std::vector<std::unique_ptr<session>> many;
  for (int i = 0; i < 100; ++i) {
    many.push_back(std::make_unique<session>("s" + std::to_string(i), env_));
    sub(*many.back(), i % 2 ? "wide/+" : "wide/t");
  }
  for (int round = 0; round < 2; ++round) EXPECT_EQ(matches("wide/t").size(), 100u);
  tree_.unsubscribe("wide/t", many[0].get());
  EXPECT_EQ(matches("wide/t").size(), 99u);
}

TEST_F(TopicTreeTest, MultiLevelMatchesParentLevel) {
  sub(a_, "sport/#");
  EXPECT_EQ(matches("sport").size(), 1u);  // MQTT 4.7.1.2: "sport/#" matches "sport"
  EXPECT_EQ(matches("sport/tennis/x").size(), 1u);
  EXPECT_TRUE(matches("sports").empty());
}

TEST_F(TopicTreeTest, HashAloneMatchesEverythingButDollarTopics) {
  sub(a_, "#");
  sub(b_, "+/monitor/Clients");
  EXPECT_EQ(matches("a/b/c").size(), 1u);
  EXPECT_TRUE(matches("$SYS/monitor/Clients").empty());  // MQTT-4.7.2-1
  sub(a_, "$SYS/#");
  EXPECT_EQ(matches("$SYS/monitor/Clients"), (std::multiset<std::string>{"a"}));
}

TEST_F(TopicTreeTest, EmptyLevels) {
  sub(a_, "+/+");
  sub(b_, "/+");
  EXPECT_EQ(matches("/finance"), (std::multiset<std::string>{"a", "b"}));
  EXPECT_TRUE(matches("finance").empty());
  sub(a_, "a//b");
  EXPECT_EQ(matches("a//b"), (std::multiset<std::string>{"a"}));
}

TEST_F(TopicTreeTest, ResubscribeReplacesAndUnsubscribePrunes) {
  EXPECT_FALSE(tree_.subscribe("x/y", subscriber{&a_, {mqtt::qos::at_most_once}, 0}));
  EXPECT_TRUE(tree_.subscribe("x/y", subscriber{&a_, {mqtt::qos::exactly_once}, 7}));
  EXPECT_EQ(tree_.size(), 1u);
  mqtt::qos seen = mqtt::qos::at_most_once;
  std::uint32_t id = 0;
  tree_.match("x/y", [&](const subscriber& s) {
    seen = s.options.qos;
    id = s.subscription_id;
  });
  EXPECT_EQ(seen, mqtt::qos::exactly_once);
  EXPECT_EQ(id, 7u);
  EXPECT_TRUE(tree_.unsubscribe("x/y", &a_));
  EXPECT_FALSE(tree_.unsubscribe("x/y", &a_));
  EXPECT_FALSE(tree_.unsubscribe("never/subscribed", &a_));
  EXPECT_EQ(tree_.size(), 0u);
  EXPECT_TRUE(matches("x/y").empty());
}

}  // namespace
}  // namespace edgemq::broker

namespace edgemq::broker {
namespace {

// Removing every filter leaves no node behind, whatever the shapes (shared levels, wildcards,
// share groups, the empty level), and the tree still works afterwards.
TEST_F(TopicTreeTest, NoNodeIsLeftOnceEveryFilterIsRemoved) {
  const std::vector<std::string> filters = {
      "a/b/c", "a/b", "a/+/c", "a/#", "#", "+", "/x", "x/", "", "$share/g/a/b", "$share/h/a/b/c/d", "$SYS/broker/load"};
  std::vector<std::string> many;
  for (int i = 0; i < 2000; ++i) many.push_back("m/" + std::to_string(i % 50) + "/" + std::to_string(i) + "/leaf");
  for (const auto& f : filters) sub(a_, f);
  for (const auto& f : many) sub(b_, f);
  for (const auto& f : filters) sub(b_, f);
  EXPECT_GT(tree_.node_count(), 2000u);
  for (const auto& f : filters) EXPECT_TRUE(tree_.unsubscribe(f, &a_)) << f;
  EXPECT_GT(tree_.node_count(), 0u);  // b_ still holds them
  for (const auto& f : many) EXPECT_TRUE(tree_.unsubscribe(f, &b_)) << f;
  for (const auto& f : filters) EXPECT_TRUE(tree_.unsubscribe(f, &b_)) << f;
  EXPECT_EQ(tree_.size(), 0u);
  EXPECT_EQ(tree_.node_count(), 0u);
  EXPECT_EQ(tree_.removals(), 2u * filters.size() + many.size());
  EXPECT_FALSE(tree_.unsubscribe("a/b/c", &a_));
  EXPECT_EQ(tree_.node_count(), 0u);
  sub(a_, "a/b/c");
  EXPECT_EQ(matches("a/b/c").size(), 1u);
  EXPECT_EQ(tree_.node_count(), 3u);
}

TEST(MemoryRelease, DueAfterManyRemovalsAtMostOncePerInterval) {
  memory_release r;
  const auto t0 = memory_release::clock::now();
  EXPECT_FALSE(r.due(memory_release::threshold - 1, t0));
  EXPECT_TRUE(r.due(memory_release::threshold, t0));
  EXPECT_FALSE(r.due(memory_release::threshold, t0 + std::chrono::hours(1)));               // nothing new removed
  EXPECT_FALSE(r.due(3 * memory_release::threshold, t0 + std::chrono::milliseconds(100)));  // too soon
  EXPECT_TRUE(r.due(3 * memory_release::threshold, t0 + memory_release::min_interval));
}

}  // namespace
}  // namespace edgemq::broker
