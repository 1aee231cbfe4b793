// The admin server's settings: "admin" in the file, the address forms, and the safe default.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace edgemq::config {
namespace {

bool has_error(const std::vector<config_error>& errors, const std::string& path) {
  for (const auto& e : errors)
    if (e.path == path) return true;
  return false;
}

TEST(AdminConfig, OffByDefault) {
  daemon_config cfg;
  EXPECT_FALSE(cfg.admin.enabled);
  EXPECT_FALSE(admin_open(cfg));
}

TEST(AdminConfig, StringOrObject) {
  daemon_config cfg;
  EXPECT_TRUE(apply_json(R"({"admin": "http://127.0.0.1:9090"})", cfg).empty());
  EXPECT_TRUE(cfg.admin.enabled);
  EXPECT_EQ(cfg.admin.host, "127.0.0.1");
  EXPECT_EQ(cfg.admin.port, 9090);
  daemon_config obj;
  EXPECT_TRUE(apply_json(R"({"admin": {"address": "[::1]:0", "token_file": "tok"}})", obj).empty());
  EXPECT_EQ(obj.admin.host, "::1");
  EXPECT_EQ(obj.admin.port, 0);
  EXPECT_EQ(obj.admin.token_file, "tok");
}

TEST(AdminConfig, BadValuesNameTheKey) {
  daemon_config cfg;
  EXPECT_TRUE(has_error(apply_json(R"({"admin": "ftp://127.0.0.1:1"})", cfg), "/admin"));
  EXPECT_TRUE(has_error(apply_json(R"({"admin": {"address": "127.0.0.1:1", "tls": {"cert": "c", "key": "k"}}})", cfg),
                        "/admin/tls"));  // tls only with https://
  EXPECT_TRUE(has_error(
      apply_json(R"({"admin": {"address": "https://127.0.0.1:1", "tls": {"cert": "c", "key": "k", "client_ca": "x"}}})",
                 cfg),
      "/admin/tls"));
  EXPECT_TRUE(has_error(apply_json(R"({"admin": 8080})", cfg), "/admin"));
  EXPECT_TRUE(has_error(apply_json(R"({"admin": {"token_file": "x"}})", cfg), "/admin/address"));
  EXPECT_TRUE(
      has_error(apply_json(R"({"admin": {"address": "1.2.3.4:1", "token_file": ""}})", cfg), "/admin/token_file"));
  EXPECT_TRUE(has_error(apply_json(R"({"admin": {"address": "1.2.3.4:1", "colour": 1}})", cfg), "/admin/colour"));
}

TEST(AdminConfig, CommandTopic) {
  daemon_config cfg;
  EXPECT_EQ(cfg.admin.command_topic, "commands/{clientId}/{name}");
  EXPECT_TRUE(apply_json(R"({"admin": {"address": "127.0.0.1:1", "command_topic": "dev/{clientId}/cmd/{name}"}})", cfg)
                  .empty());
  EXPECT_EQ(cfg.admin.command_topic, "dev/{clientId}/cmd/{name}");
  for (const auto* bad : {R"("cmd/{name}")", R"("$cmd/{clientId}")", R"("cmd/+/{clientId}")", "7"})
    EXPECT_TRUE(has_error(
        apply_json(std::string(R"({"admin": {"address": "127.0.0.1:1", "command_topic": )") + bad + "}}", cfg),
        "/admin/command_topic"))
        << bad;
}

TEST(AdminConfig, ParseAdminUrl) {
  admin_options a;
  std::string why;
  EXPECT_TRUE(parse_admin_url("localhost:8080", a, &why));
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_FALSE(a.https);
  EXPECT_TRUE(parse_admin_url("https://127.0.0.1:8443", a, &why));
  EXPECT_TRUE(a.https);
  EXPECT_EQ(format_admin(a, 1), "https://127.0.0.1:1");
  EXPECT_TRUE(parse_admin_url("http://[::1]:8080", a, &why));
  EXPECT_FALSE(a.https);
  EXPECT_EQ(format_admin(a, 2), "http://[::1]:2");
  EXPECT_FALSE(parse_admin_url("mqtt://127.0.0.1:1", a, &why));
  EXPECT_FALSE(parse_admin_url("http://host.example:1", a, &why));
}

TEST(AdminConfig, HttpsWithItsOwnTls) {
  daemon_config cfg;
  EXPECT_TRUE(
      apply_json(R"({"admin": {"address": "https://127.0.0.1:8443", "tls": {"cert": "c.pem", "key": "k.pem"}}})", cfg)
          .empty());
  EXPECT_TRUE(cfg.admin.https);
  EXPECT_EQ(cfg.admin.tls.cert, "c.pem");
  EXPECT_EQ(cfg.admin.tls.key, "k.pem");
}

TEST(AdminConfig, BeyondLoopbackNeedsAToken) {
  daemon_config cfg;
  ASSERT_TRUE(parse_admin_url("0.0.0.0:8080", cfg.admin));
  EXPECT_TRUE(admin_open(cfg));
  cfg.admin.token_file = "tok";
  EXPECT_FALSE(admin_open(cfg));
  ASSERT_TRUE(parse_admin_url("[::1]:8080", cfg.admin));
  cfg.admin.token_file.clear();
  EXPECT_FALSE(admin_open(cfg));
}

}  // namespace
}  // namespace edgemq::config
