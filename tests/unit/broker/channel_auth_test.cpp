// CONNECT with username/password through the broker's password_checker hook, and the access rules
// every client is held to ($SYS not writable, other clients' state store topics unreachable).
#include <gtest/gtest.h>

#include "broker/broker.hpp"
#include "broker/client_channel.hpp"
#include "channel_output.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace edgemq::broker {
namespace {

namespace m = mqtt;

struct fake_checker : password_checker {
  std::string user, password;
  fake_checker(std::string u, std::string p) : user(std::move(u)), password(std::move(p)) {}
  bool check(std::string_view u, std::string_view p) const override { return u == user && p == password; }
};

// Listener 0 lets anonymous clients in, listener 1 does not (ChannelAuthTest::use_passwords).
struct client : testing::channel_client {
  client(broker& b, m::protocol_version ver = m::protocol_version::v5, bool allow_anonymous = true)
      : channel_client(b, ver, allow_anonymous ? 0 : 1) {}
};

class ChannelAuthTest : public ::testing::Test {
 protected:
  void SetUp() override { use_passwords(nullptr); }
  // Installs `checker` on both listeners, as a reload does.
  void use_passwords(std::shared_ptr<const password_checker> checker) {
    for (const std::uint32_t listener : {0u, 1u}) {
      auto s = std::make_shared<listener_security>();
      s->allow_anonymous = listener == 0;
      s->passwords = checker;
      b_.set_listener_security(listener, std::move(s));
    }
  }
  broker b_{limits{}};
};

TEST_F(ChannelAuthTest, PasswordsAreCheckedAndRefusalsCounted) {
  use_passwords(std::make_shared<fake_checker>("alice", "secret"));
  EXPECT_EQ(client(b_).connect("a1", "alice", "secret").code, m::reason_code::success);
  EXPECT_EQ(client(b_).connect("a2", "alice", "wrong").code, m::reason_code::bad_user_name_or_password);
  EXPECT_EQ(client(b_).connect("a3", "bob", "secret").code, m::reason_code::bad_user_name_or_password);
  client v3(b_, m::protocol_version::v311);
  EXPECT_EQ(v3.connect("a4", "alice", "wrong").code, m::reason_code::bad_user_name_or_password);  // 0x04 on the wire
  EXPECT_TRUE(v3.ch.closing());
  EXPECT_EQ(b_.stats().auth_failures.load(), 3u);
}

TEST_F(ChannelAuthTest, AnonymousClientsOnlyWhereTheListenerAllowsThem) {
  use_passwords(std::make_shared<fake_checker>("alice", "secret"));
  EXPECT_EQ(client(b_, m::protocol_version::v5, false).connect("n1").code, m::reason_code::not_authorized);
  EXPECT_EQ(client(b_, m::protocol_version::v311, false).connect("n2").code, m::reason_code::not_authorized);
  EXPECT_EQ(client(b_, m::protocol_version::v5, true).connect("n3").code, m::reason_code::success);
  // Without a password file every client is anonymous, whatever it sends.
  use_passwords(nullptr);
  EXPECT_EQ(client(b_).connect("n4", "who", "ever").code, m::reason_code::success);
  EXPECT_EQ(client(b_, m::protocol_version::v5, false).connect("n5", "who", "ever").code,
            m::reason_code::not_authorized);
  EXPECT_EQ(b_.stats().auth_failures.load(), 3u);
}

TEST_F(ChannelAuthTest, AReplacedCheckerAppliesToNewConnectionsOnly) {
  use_passwords(std::make_shared<fake_checker>("alice", "old"));
  client kept(b_);
  ASSERT_EQ(kept.connect("kept", "alice", "old").code, m::reason_code::success);
  use_passwords(std::make_shared<fake_checker>("alice", "new"));
  EXPECT_EQ(client(b_).connect("x", "alice", "old").code, m::reason_code::bad_user_name_or_password);
  EXPECT_EQ(client(b_).connect("y", "alice", "new").code, m::reason_code::success);
  kept.send(m::pingreq{});
  EXPECT_EQ(kept.received().size(), 1u);  // still connected
  EXPECT_FALSE(kept.ch.closing());
}

TEST_F(ChannelAuthTest, SysIsNotWritable) {
  client sub(b_), pub(b_), old(b_, m::protocol_version::v311);
  sub.connect("sub");
  pub.connect("pub");
  old.connect("old");
  sub.send(m::subscribe{1, {{"$SYS/#", {m::qos::at_least_once}}}, {}});
  sub.received();
  pub.send(m::publish{"$SYS/broker/version", "HACKED", m::qos::at_least_once, true, false, 5, {}});
  EXPECT_EQ(pub.one<m::puback>().code, m::reason_code::not_authorized);
  pub.send(m::publish{"$SYS/broker/version", "HACKED", m::qos::exactly_once, true, false, 6, {}});
  EXPECT_EQ(pub.one<m::pubrec>().code, m::reason_code::not_authorized);
  pub.send(m::publish{"$SYS/x", "HACKED", m::qos::at_most_once, false, false, 0, {}});
  EXPECT_TRUE(pub.received().empty());
  old.send(m::publish{"$SYS/x", "HACKED", m::qos::at_least_once, false, false, 7, {}});
  EXPECT_EQ(old.one<m::puback>().packet_id, 7);  // 3.1.1: acknowledged, dropped
  EXPECT_FALSE(pub.ch.closing());
  EXPECT_TRUE(sub.received().empty());
  EXPECT_EQ(b_.retained().size(), 0u);
  EXPECT_EQ(b_.stats().publish_denied.load(), 4u);
}

const std::string area = "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8";

TEST_F(ChannelAuthTest, OtherClientsStateStoreTopicsAreNotSubscribable) {
  client c(b_), old(b_, m::protocol_version::v311);
  c.connect("me");
  old.connect("me2");
  c.send(m::subscribe{1,
                      {{area + "/796F75/#", {m::qos::at_least_once}},
                       {"clients/#", {m::qos::at_least_once}},
                       {area + "/6D65/#", {m::qos::at_least_once}},
                       {"$share/g/" + area + "/+/#", {m::qos::at_least_once}},
                       {"#", {m::qos::at_least_once}}},
                      {}});
  EXPECT_EQ(c.one<m::suback>().codes,
            (std::vector<m::reason_code>{m::reason_code::not_authorized, m::reason_code::not_authorized,
                                         m::reason_code::granted_qos_1, m::reason_code::not_authorized,
                                         m::reason_code::granted_qos_1}));
  old.send(m::subscribe{2, {{"clients/#", {m::qos::at_least_once}}}, {}});
  const auto codes = old.one<m::suback>().codes;
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_TRUE(m::is_error(codes[0]));  // 0x80 on the wire
  EXPECT_EQ(b_.stats().subscribe_denied.load(), 4u);
}

TEST_F(ChannelAuthTest, HashSubscribersNeverGetAnotherClientsStateStoreMessages) {
  client me(b_), other(b_);
  me.connect("me");
  other.connect("you");
  for (auto* c : {&me, &other}) {
    c->send(m::subscribe{1, {{"#", {m::qos::at_most_once}}}, {}});
    c->received();
  }
  auto msg = std::make_shared<message>();
  msg->topic = area + "/6D65/command/notify/4B";  // HEX("me")
  msg->payload = "private";
  EXPECT_EQ(b_.publish(msg), 1u);
  const auto got = me.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<m::publish>(got[0]).payload, "private");
  EXPECT_TRUE(other.received().empty());
}

}  // namespace
}  // namespace edgemq::broker
