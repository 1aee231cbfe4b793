// A verified TLS client certificate as an identity (docs/security.md, "Client certificates as
// identities"): it is a credential where anonymous clients are refused, its subject CN becomes the
// principal's username unless a password check vouched for the CONNECT's username, and its
// subject fields become the principal's attributes.
#include <gtest/gtest.h>

#include "broker/broker.hpp"
#include "broker/client_channel.hpp"
#include "channel_output.hpp"

namespace edgemq::broker {
namespace {

namespace m = mqtt;

struct only_alice : password_checker {
  bool check(std::string_view u, std::string_view p) const override { return u == "alice" && p == "pw"; }
};

peer_certificate cert(std::string cn) {
  peer_certificate c;
  c.subject_cn = cn;
  c.subject = {{"CN", cn}, {"O", "edge plant 7"}, {"OU", "line-3"}};
  return c;
}

class CertIdentityTest : public ::testing::Test {
 protected:
  // Anonymous clients refused; with or without a password file.
  void listener(bool passwords) {
    auto s = std::make_shared<listener_security>();
    s->allow_anonymous = false;
    if (passwords) s->passwords = std::make_shared<only_alice>();
    b_.set_listener_security(0, std::move(s));
  }
  struct result {
    m::reason_code code;
    std::shared_ptr<const principal> who;
  };
  result connect(std::optional<peer_certificate> c, std::optional<std::string> user = std::nullopt,
                 std::optional<std::string> password = std::nullopt) {
    testing::channel_client cl(b_);
    if (c) cl.ch.set_peer_certificate(std::move(*c));
    const auto code = cl.connect("c" + std::to_string(++n_), std::move(user), std::move(password)).code;
    return {code, cl.ch.who()};
  }
  broker b_{limits{}};
  int n_ = 0;
};

TEST_F(CertIdentityTest, ACertificateIsACredentialWhereAnonymousClientsAreRefused) {
  listener(false);
  const auto r = connect(cert("sensor-17"));
  ASSERT_EQ(r.code, m::reason_code::success);
  EXPECT_EQ(r.who->username, "sensor-17");
  EXPECT_EQ(r.who->attributes.at("O"), "edge plant 7");
  EXPECT_EQ(r.who->attributes.at("OU"), "line-3");
  EXPECT_EQ(r.who->attributes.at("CN"), "sensor-17");
  EXPECT_EQ(connect(std::nullopt).code, m::reason_code::not_authorized);
}

TEST_F(CertIdentityTest, AnUncheckedUsernameDoesNotReplaceTheCertificatesCn) {
  listener(false);  // no password file: nothing checks a username
  const auto r = connect(cert("sensor-17"), "admin", "anything");
  ASSERT_EQ(r.code, m::reason_code::success);
  EXPECT_EQ(r.who->username, "sensor-17");
}

TEST_F(CertIdentityTest, APasswordCheckedUsernameWinsAndAWrongPasswordIsStillRefused) {
  listener(true);
  const auto r = connect(cert("sensor-17"), "alice", "pw");
  ASSERT_EQ(r.code, m::reason_code::success);
  EXPECT_EQ(r.who->username, "alice");
  EXPECT_EQ(r.who->attributes.at("CN"), "sensor-17");  // the certificate's subject is still known
  EXPECT_EQ(connect(cert("sensor-17"), "alice", "wrong").code, m::reason_code::bad_user_name_or_password);
  EXPECT_EQ(connect(cert("sensor-17")).who->username, "sensor-17");
}

TEST_F(CertIdentityTest, ACertificateWithoutCnIsNoCredential) {
  listener(false);
  peer_certificate c;
  c.subject = {{"O", "no common name"}};
  EXPECT_EQ(connect(c).code, m::reason_code::not_authorized);
}

}  // namespace
}  // namespace edgemq::broker
