// Lifecycle events (lifecycle_events.hpp): what a subscriber of $edgemq/events/# receives when
// clients connect, disconnect, subscribe, unsubscribe and when sessions expire; that clients may
// subscribe there but not publish; that nothing is published when nobody listens or when off.
#include "broker/lifecycle_events.hpp"

#include <gtest/gtest.h>

#include "channel_output.hpp"

namespace edgemq::broker {
namespace {

using namespace std::chrono_literals;
namespace m = mqtt;
using testing::channel_client;

class LifecycleEventsTest : public ::testing::Test {
 protected:
  broker b_{limits{}};
  clock::time_point t_ = clock::time_point{} + 1h;
  void SetUp() override {
    b_.set_clock([this] { return t_; });
  }

  // A client subscribed to `filter`; its SUBACK (and its own subscribed event) consumed.
  std::unique_ptr<channel_client> listener(const std::string& filter = "$edgemq/events/#") {
    auto c = std::make_unique<channel_client>(b_);
    c->connect("listener");
    c->send(m::subscribe{1, {{filter, {m::qos::at_least_once}}}, {}});
    auto ps = c->received();
    EXPECT_FALSE(ps.empty());
    EXPECT_TRUE(std::holds_alternative<m::suback>(ps[0]));
    EXPECT_EQ(std::get<m::suback>(ps[0]).codes, std::vector<m::reason_code>{m::reason_code::granted_qos_1});
    return c;
  }
  static std::vector<m::publish> publishes(channel_client& c) {
    std::vector<m::publish> out;
    for (auto& p : c.received())
      if (auto* pub = std::get_if<m::publish>(&p)) out.push_back(*pub);
    return out;
  }
};

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(LifecycleEventsTest, ConnectAndDisconnectWithReason) {
  auto l = listener();
  channel_client c(b_, m::protocol_version::v311);
  c.ch.set_peer("127.0.0.1:5555", std::make_shared<const std::string>("mqtt://127.0.0.1:1883"));
  c.connect("dev/1+#");
  auto got = publishes(*l);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "$edgemq/events/clients/connected/dev%2F1%2B%23");
  EXPECT_EQ(got[0].qos, m::qos::at_least_once);
  EXPECT_TRUE(has(got[0].payload, R"("event":"connected","clientId":"dev/1+#")")) << got[0].payload;
  EXPECT_TRUE(has(got[0].payload, R"("listener":"mqtt://127.0.0.1:1883","protocolVersion":"3.1.1")")) << got[0].payload;
  EXPECT_FALSE(has(got[0].payload, "username"));  // nobody vouched for one
  EXPECT_TRUE(has(got[0].payload, R"("time":")"));
  EXPECT_EQ(got[0].props.content_type, "application/json");

  c.send(m::disconnect{});
  c.ch.on_close(t_);
  got = publishes(*l);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "$edgemq/events/clients/disconnected/dev%2F1%2B%23");
  EXPECT_TRUE(has(got[0].payload, R"("reasonCode":0,)")) << got[0].payload;
  EXPECT_TRUE(has(got[0].payload, R"("reason":"normal DISCONNECT")")) << got[0].payload;
}

TEST_F(LifecycleEventsTest, DisconnectReasonsFromTheClientTheBrokerAndTheSocket) {
  auto l = listener("$edgemq/events/clients/disconnected/+");
  channel_client a(b_);
  a.connect("a");
  a.send(m::disconnect{m::reason_code::disconnect_with_will, {}});
  a.ch.on_close(t_);
  channel_client k(b_);
  k.connect("k");
  k.ch.kick(m::reason_code::keep_alive_timeout);
  k.ch.on_close(t_);
  channel_client s(b_);
  s.connect("s");
  s.ch.on_close(t_);
  auto got = publishes(*l);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(has(got[0].payload, R"("reasonCode":4,)")) << got[0].payload;
  EXPECT_TRUE(has(got[1].payload, R"("reasonCode":141,)")) << got[1].payload;
  EXPECT_TRUE(has(got[1].payload, R"("reason":"keep-alive timeout")")) << got[1].payload;
  EXPECT_TRUE(has(got[2].payload, R"("reasonCode":null,)")) << got[2].payload;
  EXPECT_TRUE(has(got[2].payload, R"("reason":"socket closed")")) << got[2].payload;
}

TEST_F(LifecycleEventsTest, SubscribeAndUnsubscribeWithTheirCodes) {
  auto l = listener("$edgemq/events/clients/+/c");
  channel_client c(b_);
  c.connect("c");
  c.send(m::subscribe{7, {{"a/#", {m::qos::exactly_once}}, {"$edgemq/commands/reply", {m::qos::at_most_once}}}, {}});
  c.send(m::unsubscribe{8, {"a/#", "never"}, {}});
  auto got = publishes(*l);
  ASSERT_EQ(got.size(), 3u);  // connected, subscribed, unsubscribed
  EXPECT_EQ(got[1].topic, "$edgemq/events/clients/subscribed/c");
  EXPECT_TRUE(has(got[1].payload, R"("filters":[{"filter":"a/#","qos":2,"reasonCode":2,"reasonName":"granted"},)"
                                  R"({"filter":"$edgemq/commands/reply","reasonCode":135,)"))
      << got[1].payload;
  EXPECT_EQ(got[2].topic, "$edgemq/events/clients/unsubscribed/c");
  EXPECT_TRUE(has(got[2].payload, R"({"filter":"a/#","reasonCode":0,)")) << got[2].payload;
  EXPECT_TRUE(has(got[2].payload, R"({"filter":"never","reasonCode":17,)")) << got[2].payload;
}

TEST_F(LifecycleEventsTest, SessionExpiry) {
  auto l = listener("$edgemq/events/sessions/#");
  channel_client c(b_);
  m::connect cn;
  cn.client_id = "short";
  cn.props.session_expiry_interval = 5;
  c.send(cn);
  c.received();
  c.ch.on_close(t_);
  t_ += 4s;
  b_.tick();
  EXPECT_TRUE(publishes(*l).empty());
  t_ += 2s;
  b_.tick();
  auto got = publishes(*l);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "$edgemq/events/sessions/expired/short");
  EXPECT_TRUE(has(got[0].payload, R"({"event":"sessionExpired","clientId":"short","time":")")) << got[0].payload;
}

TEST_F(LifecycleEventsTest, OnlyEventsAreSubscribableUnderTheNamespaceAndNothingIsPublishable) {
  channel_client c(b_);
  c.connect("c");
  c.send(m::subscribe{1,
                      {{"$edgemq/events/#", {}},
                       {"$share/g/$edgemq/events/clients/#", {}},
                       {"$edgemq/#", {}},
                       {"$edgemq/+/clients/#", {}},
                       {"$edgemq/eventsx", {}}},
                      {}});
  auto first = c.received();  // SUBACK, then its own subscribed event twice (plain and shared)
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(std::get<m::publish>(first[1]).topic, "$edgemq/events/clients/subscribed/c");
  EXPECT_EQ(std::get<m::suback>(first[0]).codes,
            (std::vector<m::reason_code>{m::reason_code::granted_qos_0, m::reason_code::granted_qos_0,
                                         m::reason_code::not_authorized, m::reason_code::not_authorized,
                                         m::reason_code::not_authorized}));
  c.send(m::publish{"$edgemq/events/clients/connected/x", "{}", m::qos::at_least_once, false, false, 3, {}});
  auto ps = c.received();
  ASSERT_EQ(ps.size(), 1u);  // the refusal only: the message went nowhere
  ASSERT_TRUE(std::holds_alternative<m::puback>(ps[0]));
  EXPECT_EQ(std::get<m::puback>(ps[0]).code, m::reason_code::not_authorized);
  EXPECT_TRUE(events_filter("$edgemq/events"));
  EXPECT_FALSE(events_filter("$edgemq/eventsx/a"));
}

TEST_F(LifecycleEventsTest, NothingBuiltWhenNobodyListens) {
  channel_client other(b_);
  other.connect("other");
  other.send(m::subscribe{1, {{"#", {}}, {"$edgemq/events/clients/connected/nobody", {}}}, {}});
  other.received();
  const auto before = b_.events().published();
  channel_client c(b_);
  c.connect("c");
  c.send(m::subscribe{2, {{"x", {}}}, {}});
  c.ch.on_close(t_);
  EXPECT_EQ(b_.events().published(), before);  // `#` does not match $ topics (MQTT 4.7.2)
  EXPECT_TRUE(other.received().empty());
}

TEST(LifecycleEventsOff, NoEventsWhenDisabled) {
  limits lim;
  lim.lifecycle_events = false;
  broker b{lim};
  channel_client l(b);
  l.connect("listener");
  l.send(m::subscribe{1, {{"$edgemq/events/#", {}}}, {}});
  l.received();
  channel_client c(b);
  c.connect("c");
  c.ch.on_close(clock::now());
  EXPECT_TRUE(l.received().empty());
  EXPECT_EQ(b.events().published(), 0u);
}

}  // namespace
}  // namespace edgemq::broker
