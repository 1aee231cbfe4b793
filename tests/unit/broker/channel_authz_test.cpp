// Enforcement of an authorization policy by the channel, through the broker's authorizer hook
// (a fake policy here; the AIO policy itself is tested in tests/unit/auth): CONNECT, PUBLISH,
// SUBSCRIBE, wills, resumed sessions, and the permissions handed to reserved-topic services.
#include <set>

#include <gtest/gtest.h>

#include "broker/broker.hpp"
#include "broker/client_channel.hpp"
#include "channel_output.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::broker {
namespace {

namespace m = mqtt;

// Publish: topics matched by `pub` filters; subscribe: exactly the filters in `sub`.
struct fake_permissions : client_permissions {
  std::vector<std::string> pub;
  std::set<std::string, std::less<>> sub;
  bool may_publish(std::string_view t) const override {
    for (const auto& f : pub)
      if (m::topic_matches(f, t)) return true;
    return false;
  }
  bool may_subscribe(std::string_view f) const override { return sub.contains(f); }
  bool may_read_key(std::string_view k) const override { return k == "r"; }
  bool may_write_key(std::string_view) const override { return false; }
};

// "mallory" may not connect; everyone else gets `perms`.
struct fake_authorizer : authorizer {
  std::shared_ptr<const fake_permissions> perms;
  explicit fake_authorizer(std::shared_ptr<const fake_permissions> p) : perms(std::move(p)) {}
  std::shared_ptr<const client_permissions> on_connect(const principal& p) const override {
    if (p.username == "mallory") return nullptr;
    return perms;
  }
};

struct capturing_service : topic_service {
  std::shared_ptr<const client_permissions> seen;
  int calls = 0;
  m::reason_code on_publish(const publish_context& ctx, m::publish&) override {
    ++calls;
    seen = ctx.permissions;
    return m::reason_code::success;
  }
  void on_connection_closed(std::string_view, std::uint64_t) override {}
};

struct client : testing::channel_client {
  using channel_client::channel_client;
  // A username by default (every client has one here), an optional will, clean or resumed.
  m::connack connect(std::string id, std::optional<std::string> user = "u", std::optional<m::will_message> will = {},
                     bool clean = true) {
    m::connect c;
    c.version = v;
    c.client_id = std::move(id);
    c.clean_start = clean;
    c.username = std::move(user);
    c.will = std::move(will);
    if (!clean) c.props.session_expiry_interval = 3600;
    send(c);
    return one<m::connack>();
  }
};

// Every username is vouched for (any password): the principal's username is the CONNECT's.
struct any_password : password_checker {
  bool check(std::string_view, std::string_view) const override { return true; }
};

class ChannelAuthzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = std::make_shared<fake_permissions>();
    p->pub = {"allowed/#", "statestore/req"};
    p->sub = {"allowed/#", "allowed/a", "mine"};
    use(p);
  }
  // Installs a policy granting `p` on listener 0; listener 1 has none (opted out).
  void use(std::shared_ptr<const fake_permissions> p) {
    auto s = std::make_shared<listener_security>();
    s->authz = std::make_shared<fake_authorizer>(std::move(p));
    s->passwords = std::make_shared<any_password>();
    b_.set_listener_security(0, std::move(s));
    b_.set_listener_security(1, std::make_shared<listener_security>());
  }
  broker b_{limits{}};
};

TEST_F(ChannelAuthzTest, ConnectRefusedWhenThePolicyGrantsNothing) {
  EXPECT_EQ(client(b_).connect("c1", "mallory").code, m::reason_code::not_authorized);
  EXPECT_EQ(client(b_, m::protocol_version::v311).connect("c2", "mallory").code,
            m::reason_code::not_authorized);  // 0x05 on the wire
  EXPECT_EQ(client(b_, m::protocol_version::v5, 1).connect("c3", "mallory").code, m::reason_code::success);
  EXPECT_EQ(b_.stats().connect_denied.load(), 2u);
}

// Without a password file nothing vouches for a CONNECT's username: the policy never sees it (the
// client is anonymous), so a client cannot take on a username the policy names.
TEST_F(ChannelAuthzTest, AnUncheckedUsernameIsNotThePrincipal) {
  auto s = std::make_shared<listener_security>();
  std::optional<std::string> seen = "unset";
  struct recording : authorizer {
    std::optional<std::string>* seen;
    std::shared_ptr<const client_permissions> on_connect(const principal& p) const override {
      *seen = p.username;
      return p.username == "mallory" ? nullptr : std::make_shared<fake_permissions>();
    }
  };
  auto a = std::make_shared<recording>();
  a->seen = &seen;
  s->authz = a;
  b_.set_listener_security(2, std::move(s));
  EXPECT_EQ(client(b_, m::protocol_version::v5, 2).connect("c4", "mallory").code, m::reason_code::success);
  EXPECT_EQ(seen, std::nullopt);
}

TEST_F(ChannelAuthzTest, DeniedPublishIsRefusedOrDroppedAndNeverRouted) {
  client sub(b_, m::protocol_version::v5, 1), pub(b_), old(b_, m::protocol_version::v311);
  sub.connect("sub");
  pub.connect("pub");
  old.connect("old");
  sub.send(m::subscribe{1, {{"#", {m::qos::at_least_once}}}, {}});
  sub.received();
  pub.send(m::publish{"denied/x", "no", m::qos::at_least_once, true, false, 5, {}});
  EXPECT_EQ(pub.one<m::puback>().code, m::reason_code::not_authorized);
  pub.send(m::publish{"denied/x", "no", m::qos::exactly_once, true, false, 6, {}});
  EXPECT_EQ(pub.one<m::pubrec>().code, m::reason_code::not_authorized);
  pub.send(m::publish{"denied/x", "no", m::qos::at_most_once, true, false, 0, {}});
  EXPECT_TRUE(pub.received().empty());
  old.send(m::publish{"denied/x", "no", m::qos::at_least_once, true, false, 7, {}});
  const auto ack = old.one<m::puback>();
  EXPECT_EQ(ack.packet_id, 7);
  EXPECT_EQ(ack.code, m::reason_code::success);  // 3.1.1 has no refusal: acknowledged, dropped
  EXPECT_TRUE(sub.received().empty());
  EXPECT_EQ(b_.retained().size(), 0u);
  EXPECT_EQ(b_.stats().publish_denied.load(), 4u);
  EXPECT_FALSE(pub.ch.closing());
  pub.send(m::publish{"allowed/x", "yes", m::qos::at_least_once, false, false, 8, {}});
  EXPECT_EQ(pub.one<m::puback>().code, m::reason_code::success);
  EXPECT_EQ(sub.received().size(), 1u);
}

TEST_F(ChannelAuthzTest, DeniedFiltersAreRefusedOneByOne) {
  client c(b_), old(b_, m::protocol_version::v311);
  c.connect("c");
  old.connect("old");
  c.send(m::subscribe{1,
                      {{"allowed/#", {m::qos::at_least_once}},
                       {"#", {m::qos::at_least_once}},
                       {"$share/g/allowed/a", {m::qos::at_most_once}},
                       {"other", {m::qos::at_most_once}}},
                      {}});
  EXPECT_EQ(c.one<m::suback>().codes,
            (std::vector<m::reason_code>{m::reason_code::granted_qos_1, m::reason_code::not_authorized,
                                         m::reason_code::granted_qos_0, m::reason_code::not_authorized}));
  old.send(m::subscribe{2, {{"other", {m::qos::at_least_once}}, {"mine", {m::qos::at_least_once}}}, {}});
  const auto codes = old.one<m::suback>().codes;
  ASSERT_EQ(codes.size(), 2u);
  EXPECT_TRUE(m::is_error(codes[0]));  // 0x80 on the wire
  EXPECT_EQ(codes[1], m::reason_code::granted_qos_1);
  EXPECT_EQ(b_.stats().subscribe_denied.load(), 3u);
}

TEST_F(ChannelAuthzTest, AWillOnlyWhereTheClientMayPublish) {
  const auto will = [](std::string topic) {
    return m::will_message{std::move(topic), "gone", m::qos::at_most_once, false, {}};
  };
  EXPECT_EQ(client(b_).connect("w1", "u", will("denied/w")).code, m::reason_code::not_authorized);
  EXPECT_EQ(client(b_, m::protocol_version::v311).connect("w2", "u", will("denied/w")).code,
            m::reason_code::not_authorized);
  EXPECT_EQ(client(b_).connect("w3", "u", will("allowed/w")).code, m::reason_code::success);
  // $SYS is the broker's with or without a policy.
  EXPECT_EQ(client(b_, m::protocol_version::v5, 1).connect("w4", "u", will("$SYS/x")).code,
            m::reason_code::not_authorized);
  EXPECT_EQ(client(b_, m::protocol_version::v5, 1).connect("w5", "u", will("denied/w")).code, m::reason_code::success);
  EXPECT_EQ(b_.stats().connect_denied.load(), 3u);
}

TEST_F(ChannelAuthzTest, ServicesGetTheClientsPermissions) {
  capturing_service svc;
  b_.services().add("statestore/req", &svc);
  client c(b_), open(b_, m::protocol_version::v5, 1);
  c.connect("c");
  c.send(m::publish{"statestore/req", "x", m::qos::at_least_once, false, false, 1, {}});
  EXPECT_EQ(c.one<m::puback>().code, m::reason_code::success);
  ASSERT_EQ(svc.calls, 1);
  ASSERT_TRUE(svc.seen);
  EXPECT_TRUE(svc.seen->may_read_key("r"));
  EXPECT_FALSE(svc.seen->may_write_key("r"));
  open.connect("open");
  open.send(m::publish{"statestore/req", "x", m::qos::at_least_once, false, false, 1, {}});
  open.received();
  EXPECT_EQ(svc.calls, 2);
  EXPECT_FALSE(svc.seen);  // no policy on that listener
}

TEST_F(ChannelAuthzTest, AResumedSessionKeepsOnlyWhatIsStillGranted) {
  {
    client c(b_);
    ASSERT_EQ(c.connect("s", "u", {}, false).code, m::reason_code::success);
    c.send(m::subscribe{1, {{"allowed/#", {m::qos::at_most_once}}, {"mine", {m::qos::at_most_once}}}, {}});
    c.received();
    c.send(m::disconnect{});
  }
  auto narrower = std::make_shared<fake_permissions>();
  narrower->sub = {"mine"};
  use(narrower);  // a reload
  client c(b_);
  EXPECT_TRUE(c.connect("s", "u", {}, false).session_present);
  auto mine = std::make_shared<message>();
  mine->topic = "mine";
  EXPECT_EQ(b_.publish(mine), 1u);
  auto other = std::make_shared<message>();
  other->topic = "allowed/x";
  EXPECT_EQ(b_.publish(other), 0u);
  EXPECT_EQ(c.received().size(), 1u);
  EXPECT_EQ(b_.stats().subscribe_denied.load(), 1u);
}

// Lifecycle events (lifecycle_events.hpp) are subscribable only with a grant covering the filter,
// and show the username only because the password check vouched for it.
TEST_F(ChannelAuthzTest, LifecycleEventsNeedAGrantAndShowTheVouchedUsername) {
  client denied(b_);
  denied.connect("d1");
  denied.send(m::subscribe{1, {{"$edgemq/events/#", {}}}, {}});
  EXPECT_EQ(denied.one<m::suback>().codes, std::vector<m::reason_code>{m::reason_code::not_authorized});

  auto p = std::make_shared<fake_permissions>();
  p->sub = {"$edgemq/events/#"};
  use(p);
  client l(b_);
  l.connect("l1");
  l.send(m::subscribe{1, {{"$edgemq/events/#", {}}}, {}});
  auto first = l.received();
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(std::get<m::suback>(first[0]).codes, std::vector<m::reason_code>{m::reason_code::granted_qos_0});
  client c(b_);
  c.connect("c9", "alice");
  auto got = l.received();
  ASSERT_EQ(got.size(), 1u);
  const auto& ev = std::get<m::publish>(got[0]);
  EXPECT_EQ(ev.topic, "$edgemq/events/clients/connected/c9");
  EXPECT_NE(ev.payload.find(R"("username":"alice")"), std::string::npos) << ev.payload;
}

}  // namespace
}  // namespace edgemq::broker
