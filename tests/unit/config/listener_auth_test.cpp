// The safe-default rule for listeners (docs/security.md): loopback by default; a listener beyond
// loopback needs a password file or an explicit allow_anonymous.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace edgemq::config {
namespace {

TEST(ListenerAuth, DefaultListenerIsLoopbackAndOpenToAnonymousClients) {
  daemon_config cfg;
  ASSERT_EQ(cfg.server.listeners.size(), 1u);
  EXPECT_EQ(format_endpoint(cfg.server.listeners[0]), "127.0.0.1:1883");
  EXPECT_TRUE(open_listeners(cfg).empty());
  resolve_listener_auth(cfg);
  EXPECT_EQ(cfg.server.listeners[0].allow_anonymous, true);
}

TEST(ListenerAuth, ShippedConfigListensOnLoopback) {
  daemon_config cfg;
  auto errors = load_file(std::string(EDGEMQ_SOURCE_DIR) + "/config/edgemq.json", cfg);
  for (const auto& e : errors) ADD_FAILURE() << e.path << ": " << e.message;
  ASSERT_EQ(cfg.server.listeners.size(), 1u);
  EXPECT_EQ(cfg.server.listeners[0].host, "127.0.0.1");
  EXPECT_TRUE(open_listeners(cfg).empty());
}

TEST(ListenerAuth, ContainerConfigSaysExplicitlyWhoMayConnect) {
  daemon_config cfg;
  auto errors = load_file(std::string(EDGEMQ_SOURCE_DIR) + "/docker/edgemq.json", cfg);
  for (const auto& e : errors) ADD_FAILURE() << e.path << ": " << e.message;
  ASSERT_EQ(cfg.server.listeners.size(), 1u);
  EXPECT_EQ(cfg.server.listeners[0].host, "0.0.0.0");
  EXPECT_EQ(cfg.server.listeners[0].allow_anonymous, true);
  EXPECT_TRUE(open_listeners(cfg).empty());
}

TEST(ListenerAuth, ObjectFormAndStringFormTogether) {
  daemon_config cfg;
  auto errors = apply_json(R"({"listeners": ["127.0.0.1:1884",
                                              {"address": "0.0.0.0:1885", "allow_anonymous": true},
                                              {"address": "[::]:1886", "allow_anonymous": false},
                                              {"address": "[::1]:1887"}],
                               "password_file": "/etc/edgemq/passwd"})",
                           cfg);
  for (const auto& e : errors) ADD_FAILURE() << e.path << ": " << e.message;
  ASSERT_EQ(cfg.server.listeners.size(), 4u);
  EXPECT_FALSE(cfg.server.listeners[0].allow_anonymous.has_value());
  EXPECT_EQ(cfg.server.listeners[1].allow_anonymous, true);
  EXPECT_EQ(cfg.server.listeners[2].allow_anonymous, false);
  EXPECT_EQ(format_endpoint(cfg.server.listeners[3]), "[::1]:1887");
  EXPECT_EQ(cfg.password_file, "/etc/edgemq/passwd");
  EXPECT_TRUE(open_listeners(cfg).empty());  // a password file: credentials are checked
  resolve_listener_auth(cfg);                // with a password file, anonymous only where allowed explicitly
  EXPECT_EQ(cfg.server.listeners[0].allow_anonymous, false);
  EXPECT_EQ(cfg.server.listeners[1].allow_anonymous, true);
  EXPECT_EQ(cfg.server.listeners[3].allow_anonymous, false);
}

TEST(ListenerAuth, BadListenerObjectsAreReportedWithTheirPath) {
  daemon_config cfg;
  auto errors = apply_json(R"({"listeners": [{"allow_anonymous": true},
                                              {"address": "0.0.0.0:1", "allow_anonymous": "yes"},
                                              {"address": "0.0.0.0:1", "tls": true},
                                              {"address": 5}],
                               "password_file": ""})",
                           cfg);
  std::vector<std::string> paths;
  for (const auto& e : errors) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/listeners/0/address", "/listeners/1/allow_anonymous", "/listeners/2/tls",
                                             "/listeners/3/address", "/password_file"}));
}

TEST(ListenerAuth, BeyondLoopbackWithoutPasswordFileOrExplicitAnonymousIsOpen) {
  daemon_config cfg;
  auto errors = apply_json(R"({"listeners": ["127.0.0.2:1", "[::1]:2", "0.0.0.0:3", "[::]:4", "10.1.2.3:5",
                                              {"address": "0.0.0.0:6", "allow_anonymous": false},
                                              {"address": "0.0.0.0:7", "allow_anonymous": true}]})",
                           cfg);
  ASSERT_TRUE(errors.empty());
  EXPECT_EQ(open_listeners(cfg), (std::vector<std::size_t>{2, 3, 4, 5}));
  cfg.password_file = "passwd";
  EXPECT_TRUE(open_listeners(cfg).empty());
}

TEST(ListenerAuth, WebSocketListenersFollowTheSameRule) {
  daemon_config cfg;
  auto errors = apply_json(R"({"listeners": ["ws://127.0.0.1:1", "ws://0.0.0.0:2", "wss://0.0.0.0:3/mqtt",
                                              {"address": "ws://0.0.0.0:4", "allow_anonymous": true},
                                              {"address": "wss://0.0.0.0:5", "tls": {"cert": "c", "key": "k",
                                               "client_ca": "ca", "require_client_cert": true}}]})",
                           cfg);
  ASSERT_TRUE(errors.empty()) << errors[0].path << ": " << errors[0].message;
  // wss with required client certificates authenticates like mqtts does.
  EXPECT_EQ(open_listeners(cfg), (std::vector<std::size_t>{1, 2}));
  cfg.password_file = "passwd";
  EXPECT_TRUE(open_listeners(cfg).empty());
}

TEST(ListenerAuth, Loopback) {
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("127.255.0.9"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_TRUE(is_loopback("::ffff:127.0.0.1"));
  EXPECT_FALSE(is_loopback("0.0.0.0"));
  EXPECT_FALSE(is_loopback("::"));
  EXPECT_FALSE(is_loopback("128.0.0.1"));
  EXPECT_FALSE(is_loopback("::ffff:10.0.0.1"));
  EXPECT_FALSE(is_loopback("localhost"));  // parse_endpoint has made it 127.0.0.1 before
}

}  // namespace
}  // namespace edgemq::config

namespace edgemq::config {
namespace {

TEST(ListenerAuthz, PolicyFileAndPerListenerOptOut) {
  daemon_config cfg;
  auto errors = apply_json(R"({"listeners": ["127.0.0.1:1884", {"address": "127.0.0.1:1885", "authorization": false}],
                               "authz_file": "/etc/edgemq/authz.json"})",
                           cfg);
  for (const auto& e : errors) ADD_FAILURE() << e.path << ": " << e.message;
  EXPECT_EQ(cfg.authz_file, "/etc/edgemq/authz.json");
  ASSERT_EQ(cfg.server.listeners.size(), 2u);
  EXPECT_TRUE(cfg.server.listeners[0].authorization);
  EXPECT_FALSE(cfg.server.listeners[1].authorization);
  daemon_config bad;
  errors = apply_json(R"({"listeners": [{"address": "127.0.0.1:1", "authorization": "no"}], "authz_file": ""})", bad);
  std::vector<std::string> paths;
  for (const auto& e : errors) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/authz_file", "/listeners/0/authorization"}));
}

// The "jwt" section (K8S-SAT): values applied; JWT keys are an authentication method, so a
// listener beyond loopback may start and anonymous clients are refused by default.
TEST(JwtConfig, SectionIsAppliedAndCountsAsAuthentication) {
  daemon_config cfg;
  auto errors = apply_json(R"({"listeners": ["0.0.0.0:1883"],
                               "jwt": {"keys": ["/k/a.pem", "/k/b.pem"], "jwks": "/k/jwks.json",
                                       "issuer": "https://kubernetes.default.svc.cluster.local",
                                       "audiences": ["aio-internal"], "leeway_s": 30}})",
                           cfg);
  for (const auto& e : errors) ADD_FAILURE() << e.path << ": " << e.message;
  EXPECT_EQ(cfg.jwt.key_files, (std::vector<std::string>{"/k/a.pem", "/k/b.pem"}));
  EXPECT_EQ(cfg.jwt.jwks_file, "/k/jwks.json");
  EXPECT_EQ(cfg.jwt.issuer, "https://kubernetes.default.svc.cluster.local");
  EXPECT_EQ(cfg.jwt.audiences, (std::vector<std::string>{"aio-internal"}));
  EXPECT_EQ(cfg.jwt.leeway_s, 30u);
  EXPECT_TRUE(open_listeners(cfg).empty());
  resolve_listener_auth(cfg);
  EXPECT_EQ(cfg.server.listeners[0].allow_anonymous, false);
}

TEST(JwtConfig, BadValuesNameTheirKey) {
  const auto first_error = [](const std::string& text) {
    daemon_config cfg;
    auto errors = apply_json(text, cfg);
    return errors.empty() ? std::string("<none>") : errors.front().path;
  };
  EXPECT_EQ(first_error(R"({"jwt": {"keys": "a.pem"}})"), "/jwt/keys");
  EXPECT_EQ(first_error(R"({"jwt": {"keys": []}})"), "/jwt/keys");
  EXPECT_EQ(first_error(R"({"jwt": {"jwks": ""}})"), "/jwt/jwks");
  EXPECT_EQ(first_error(R"({"jwt": {"jwks": "j", "audiences": [1]}})"), "/jwt/audiences");
  EXPECT_EQ(first_error(R"({"jwt": {"jwks": "j", "leeway_s": 4000}})"), "/jwt/leeway_s");
  EXPECT_EQ(first_error(R"({"jwt": {"jwks": "j", "audience": "x"}})"), "/jwt/audience");
  EXPECT_EQ(first_error(R"({"jwt": {"issuer": "i"}})"), "/jwt");  // nothing to check tokens with
}

}  // namespace
}  // namespace edgemq::config
