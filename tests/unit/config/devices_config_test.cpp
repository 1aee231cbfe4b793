// The "devices" section (docs/devices.md): on with a hostname, policies checked with their path.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace edgemq::config {
namespace {

TEST(DevicesConfig, HostnameTurnsDevicesOnAndPoliciesAreRead) {
  daemon_config cfg;
  EXPECT_FALSE(cfg.devices.enabled);
  const auto errors = apply_json(R"({"devices": {"hostname": "edgehub.test",
      "service_policies": [{"name": "iothubowner", "key": "a2V5a2V5a2V5"}], "service_policies_file": "/p.json"}})",
                                 cfg);
  ASSERT_TRUE(errors.empty()) << errors[0].path << ": " << errors[0].message;
  EXPECT_TRUE(cfg.devices.enabled);
  EXPECT_EQ(cfg.devices.hostname, "edgehub.test");
  ASSERT_EQ(cfg.devices.service_policies.size(), 1u);
  EXPECT_EQ(cfg.devices.service_policies[0].name, "iothubowner");
  EXPECT_EQ(cfg.devices.service_policies[0].key, "a2V5a2V5a2V5");
  EXPECT_EQ(cfg.devices.service_policies_file, "/p.json");
  daemon_config off;
  ASSERT_TRUE(apply_json(R"({"devices": {"hostname": "h", "enabled": false}})", off).empty());
  EXPECT_FALSE(off.devices.enabled);
}

TEST(DevicesConfig, BadValuesNameTheirPath) {
  daemon_config cfg;
  auto errors = apply_json(R"({"devices": {"enabled": true}})", cfg);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/devices/hostname");
  errors = apply_json(R"({"devices": {"hostname": "h", "service_policies": [{"name": "p", "key": "not base64!"},
      {"key": "a2V5"}, {"name": "q", "key": "a2V5", "extra": 1}], "bogus": 1}})",
                      cfg);
  std::vector<std::string> paths;
  for (const auto& e : errors) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/devices/bogus", "/devices/service_policies/0/key",
                                             "/devices/service_policies/1/name", "/devices/service_policies/2/extra"}));
}

}  // namespace
}  // namespace edgemq::config

namespace edgemq::config {
namespace {

// Devices authenticate themselves, so a listener beyond loopback may serve them without a password
// file; other clients there are refused unless the listener allows anonymous clients, while
// loopback listeners stay open as without devices.
TEST(DevicesConfig, DevicesCountAsAuthenticationBeyondLoopbackOnly) {
  daemon_config cfg;
  ASSERT_TRUE(apply_json(R"({"listeners": ["0.0.0.0:8883", "127.0.0.1:1883",
      {"address": "0.0.0.0:1884", "allow_anonymous": true}], "devices": {"hostname": "h"}})",
                         cfg)
                  .empty());
  EXPECT_TRUE(open_listeners(cfg).empty());
  resolve_listener_auth(cfg);
  EXPECT_EQ(cfg.server.listeners[0].allow_anonymous, false);
  EXPECT_EQ(cfg.server.listeners[1].allow_anonymous, true);
  EXPECT_EQ(cfg.server.listeners[2].allow_anonymous, true);
  daemon_config without;
  ASSERT_TRUE(apply_json(R"({"listeners": ["0.0.0.0:8883"]})", without).empty());
  EXPECT_EQ(open_listeners(without).size(), 1u);
}

}  // namespace
}  // namespace edgemq::config
