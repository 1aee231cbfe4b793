// The broker's hooks for protocol dialects (docs/adr/0024): services registered by topic prefix
// (exact topics still win), a service that annotates a message and has it routed as usual, and a
// connect interceptor that decides its own CONNECTs (identity and permissions) ahead of the
// listener's chain, leaving every other CONNECT to it.
#include <gtest/gtest.h>

#include "broker/broker.hpp"
#include "broker/client_channel.hpp"
#include "broker/connect_interceptor.hpp"
#include "channel_output.hpp"

namespace edgemq::broker {
namespace {

namespace m = mqtt;

struct counting_service : topic_service {
  int seen = 0;
  bool route = false;
  m::reason_code on_publish(const publish_context& ctx, m::publish& p) override {
    ++seen;
    if (route) {
      ctx.route = true;
      p.props.user_properties.emplace_back("seen-by", "service");
    }
    return m::reason_code::success;
  }
  void on_connection_closed(std::string_view, std::uint64_t) override {}
};

TEST(ReservedTopics, PrefixesMatchAfterExactTopics) {
  reserved_topics t;
  counting_service exact, prefix;
  EXPECT_EQ(t.find("$iothub/twin/GET/"), nullptr);
  t.add("$iothub/exact", &exact);
  t.add_prefix("$iothub/", &prefix);
  EXPECT_EQ(t.find("$iothub/exact"), &exact);
  EXPECT_EQ(t.find("$iothub/twin/GET/?$rid=1"), &prefix);
  EXPECT_EQ(t.find("$iothub"), nullptr);
  EXPECT_EQ(t.find("other/$iothub/"), nullptr);
}

struct only_topic : client_permissions {
  bool may_publish(std::string_view t) const override { return t.starts_with("dev/"); }
  bool may_subscribe(std::string_view f) const override { return f == "dev/in"; }
  bool may_read_key(std::string_view) const override { return false; }
  bool may_write_key(std::string_view) const override { return false; }
};

struct dialect : connect_interceptor {
  std::vector<std::uint64_t> connected;
  std::optional<connect_decision> on_connect(const m::connect& c, const peer_certificate*, std::uint64_t) override {
    if (!c.username || !c.username->starts_with("dialect/")) return std::nullopt;
    connect_decision d;
    if (c.password != "right") {
      d.code = m::reason_code::bad_user_name_or_password;
      d.why = "wrong";
      return d;
    }
    d.code = m::reason_code::success;
    d.username = "dev-" + c.client_id;
    d.permissions = std::make_shared<only_topic>();
    return d;
  }
  void on_connected(std::string_view, std::uint64_t id) override { connected.push_back(id); }
};

struct refuse_all : password_checker {
  bool check(std::string_view, std::string_view) const override { return false; }
};

class DialectHooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = std::make_shared<listener_security>();
    s->allow_anonymous = false;
    s->passwords = std::make_shared<refuse_all>();
    b_.set_listener_security(0, std::move(s));
    b_.set_connect_interceptor(&hook_);
  }
  broker b_{limits{}};
  dialect hook_;
};

TEST_F(DialectHooksTest, TheInterceptorDecidesItsConnectsAndGivesThePermissions) {
  testing::channel_client dev(b_, m::protocol_version::v5);
  ASSERT_EQ(dev.connect("d1", "dialect/d1", "right").code, m::reason_code::success);
  EXPECT_EQ(dev.ch.who()->username, "dev-d1");
  ASSERT_NE(dev.ch.permissions(), nullptr);
  EXPECT_FALSE(dev.ch.permissions()->may_subscribe("#"));
  EXPECT_EQ(hook_.connected.size(), 1u);
  testing::channel_client bad(b_, m::protocol_version::v311);
  EXPECT_EQ(bad.connect("d2", "dialect/d2", "wrong").code, m::reason_code::bad_user_name_or_password);
  // Not the dialect: the listener's password file refuses it as before.
  testing::channel_client other(b_, m::protocol_version::v5);
  EXPECT_EQ(other.connect("c", "alice", "right").code, m::reason_code::bad_user_name_or_password);
  EXPECT_EQ(hook_.connected.size(), 1u);
  dev.ch.on_close(clock::now());
}

TEST_F(DialectHooksTest, AServiceMayAnnotateAMessageAndHaveItRouted) {
  counting_service svc;
  svc.route = true;
  b_.services().add_prefix("dev/", &svc);
  testing::channel_client sub(b_, m::protocol_version::v5);
  ASSERT_EQ(sub.connect("s", "dialect/s", "right").code, m::reason_code::success);
  sub.send(m::subscribe{1, {{"dev/in", {m::qos::at_least_once}}}, {}});
  sub.received();
  testing::channel_client pub(b_, m::protocol_version::v5);
  ASSERT_EQ(pub.connect("p", "dialect/p", "right").code, m::reason_code::success);
  m::publish p;
  p.topic = "dev/in";
  p.payload = "x";
  p.qos = m::qos::at_least_once;
  p.packet_id = 7;
  pub.send(p);
  EXPECT_EQ(svc.seen, 1);
  auto acks = pub.received();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(std::get<m::puback>(acks[0]).code, m::reason_code::success);
  auto got = sub.received();
  ASSERT_EQ(got.size(), 1u);
  const auto& d = std::get<m::publish>(got[0]);
  EXPECT_EQ(d.payload, "x");
  ASSERT_EQ(d.props.user_properties.size(), 1u);
  EXPECT_EQ(d.props.user_properties[0].second, "service");
  // Without `route` the service consumes it.
  svc.route = false;
  p.packet_id = 8;
  pub.send(p);
  EXPECT_EQ(svc.seen, 2);
  pub.received();
  EXPECT_TRUE(sub.received().empty());
  sub.ch.on_close(clock::now());
  pub.ch.on_close(clock::now());
}

}  // namespace
}  // namespace edgemq::broker
