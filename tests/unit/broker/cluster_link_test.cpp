// The broker's cluster seam (cluster_link.hpp): interest reported per distinct filter and share
// group, local publishes forwarded after local routing (share groups only through the link), and
// messages from peers routed locally and never forwarded again.
#include "broker/cluster_link.hpp"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker/broker.hpp"

namespace edgemq::broker {
namespace {

struct quiet_link : link {
  void notify() override {}
  void kick(mqtt::reason_code) override {}
};

struct fake_cluster : cluster_link {
  std::vector<std::string> events;
  std::vector<message_ptr> forwarded;
  std::vector<bool> confirms;
  std::uint64_t ticket = 0;  // what forward returns
  std::uint64_t forward(const message_ptr& m, bool confirm) override {
    forwarded.push_back(m);
    confirms.push_back(confirm);
    return ticket;
  }
  void interest_added(std::string_view f, std::string_view g) override {
    events.push_back("+" + std::string(g) + "|" + std::string(f));
  }
  void interest_removed(std::string_view f, std::string_view g) override {
    events.push_back("-" + std::string(g) + "|" + std::string(f));
  }
};

struct fixture {
  broker b{limits{}};
  std::vector<session_ptr> sessions;
  session* add(const std::string& id) {
    auto a = b.sessions().attach(id, true, 0, std::make_shared<quiet_link>(), connection_info{});
    sessions.push_back(a.s);
    return a.s.get();
  }
  void sub(session* s, const std::string& filter) {
    subscriber x;
    x.s = s;
    x.options.qos = mqtt::qos::at_least_once;
    b.subscriptions().subscribe(filter, x);
  }
  static message_ptr msg(const std::string& topic) {
    auto m = std::make_shared<message>();
    m->topic = topic;
    m->payload = "p";
    return m;
  }
};

TEST(ClusterLinkTest, InterestIsReportedOncePerDistinctFilterAndShareGroup) {
  fixture f;
  auto* a = f.add("a");
  auto* c = f.add("c");
  f.sub(a, "x/+");  // there before the link: reported when it is set
  fake_cluster link;
  f.b.set_cluster_link(&link);
  EXPECT_EQ(link.events, (std::vector<std::string>{"+|x/+"}));
  f.sub(c, "x/+");  // same filter: no new interest
  f.sub(a, "$share/g/y/#");
  f.sub(c, "$share/g/y/#");
  f.sub(a, "$share/h/y/#");  // another group on the same filter: another queue group
  f.b.subscriptions().unsubscribe("x/+", a);
  f.b.subscriptions().unsubscribe("x/+", c);
  f.b.subscriptions().unsubscribe("$share/g/y/#", a);
  f.b.subscriptions().unsubscribe("$share/g/y/#", c);
  EXPECT_EQ(link.events, (std::vector<std::string>{"+|x/+", "+g|y/#", "+h|y/#", "-|x/+", "-g|y/#"}));
  f.b.set_cluster_link(nullptr);
}

TEST(ClusterLinkTest, LocalPublishesAreForwardedAndShareGroupsServedOnlyThroughTheLink) {
  fixture f;
  auto* a = f.add("a");
  auto* m = f.add("m");
  f.sub(a, "t/#");
  f.sub(m, "$share/g/t/#");
  EXPECT_EQ(f.b.publish(fixture::msg("t/1")), 2u);  // single node: subscriber and share member
  fake_cluster link;
  f.b.set_cluster_link(&link);
  // The subscriber here, the share group only through NATS (counted 1 for "forwarded").
  EXPECT_EQ(f.b.publish(fixture::msg("t/1")), 2u);
  ASSERT_EQ(link.forwarded.size(), 1u);
  EXPECT_EQ(link.forwarded[0]->topic, "t/1");
  // Node-local topics never cross.
  f.b.publish(fixture::msg("$SYS/broker/x"));
  EXPECT_EQ(link.forwarded.size(), 1u);
  // From a peer: ordinary subscriptions only, or one member of the named group only; never forwarded.
  EXPECT_EQ(f.b.route_from_peer(fixture::msg("t/2")), 1u);
  EXPECT_EQ(f.b.route_from_peer(fixture::msg("t/2"), "g", "t/#"), 1u);
  EXPECT_EQ(f.b.route_from_peer(fixture::msg("t/2"), "other", "t/#"), 0u);
  EXPECT_EQ(link.forwarded.size(), 1u);
  f.b.set_cluster_link(nullptr);
}

// Cluster-wide QoS 1/2: a client's QoS 1/2 publish waits for the ticket the link returns (other
// nodes' persistent sessions); QoS 0, wills and services (no ticket asked) do not ask for one.
TEST(ClusterLinkTest, AQos1PublishWaitsForTheLinksConfirmationTicket) {
  fixture f;
  fake_cluster link;
  link.ticket = 42;
  f.b.set_cluster_link(&link);
  auto q1 = std::make_shared<message>();
  q1->topic = "t/1";
  q1->qos = mqtt::qos::at_least_once;
  const message_ptr m = q1;
  std::uint64_t ticket = 0;
  f.b.publish(m, &ticket);
  EXPECT_EQ(ticket, 42u);
  f.b.publish(m);  // no ticket asked (a will, a service)
  auto q0 = fixture::msg("t/1");
  ticket = 7;
  f.b.publish(q0, &ticket);
  EXPECT_EQ(link.confirms, (std::vector<bool>{true, false, false}));
  f.b.set_cluster_link(nullptr);
}

}  // namespace
}  // namespace edgemq::broker
