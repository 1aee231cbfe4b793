// The Mqtt endpoint's settings (AIO mqttSettings) and the dataDestination topic template.
#include "dataflow/endpoints/mqtt_settings.hpp"

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dataflow/endpoint_kind.hpp"

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;

problems check(const json& settings) {
  problems out;
  validate_mqtt_settings(json{{"endpointType", "Mqtt"}, {"mqttSettings", settings}}, "/spec", out);
  return out;
}

std::string paths(const problems& ps) {
  std::string s;
  for (const auto& p : ps) s += p.path + " (" + p.message + ")\n";
  return s;
}

TEST(MqttTopicTemplate, InputTopicAndItsLevels) {
  EXPECT_EQ(expand_topic_template("factory/${inputTopic.2}", "plant/line1/temp"), "factory/line1");
  EXPECT_EQ(expand_topic_template("copy/${inputTopic}", "a/b"), "copy/a/b");
  EXPECT_EQ(expand_topic_template("${inputTopic.3}/${inputTopic.1}", "a/b/c"), "c/a");
  EXPECT_EQ(expand_topic_template("fixed", "a/b"), "fixed");
  EXPECT_EQ(expand_topic_template("f/${inputTopic.4}", "a/b/c"), std::nullopt);  // no 4th level
  EXPECT_EQ(expand_topic_template("f/${inputTopic.2}", "a//c"), std::nullopt);   // an empty level
}

TEST(MqttTopicTemplate, Validation) {
  const auto bad = [](const char* t) {
    problems out;
    validate_topic_template(t, "/spec/operations/2/destinationSettings/dataDestination", out);
    return out;
  };
  EXPECT_TRUE(bad("factory/${inputTopic.2}").empty());
  EXPECT_TRUE(bad("${inputTopic}").empty());
  for (const char* t : {"f/${inputTopic.0}", "f/${inputTopic.x}", "f/${other}", "f/${inputTopic", "f/#", "a/+/b", ""}) {
    auto ps = bad(t);
    ASSERT_EQ(ps.size(), 1u) << t;
    EXPECT_EQ(ps[0].path, "/spec/operations/2/destinationSettings/dataDestination");
  }
}

TEST(MqttSettings, TheAioKnobsAndTheirDefaults) {
  const json spec = {
      {"mqttSettings",
       {{"host", "broker.example:8883"},
        {"tls", {{"mode", "Enabled"}, {"trustedCaCertificateConfigMapRef", "/etc/ca.pem"}}},
        {"authentication", {{"method", "X509Certificate"}, {"x509CertificateSettings", {{"secretRef", "/run/sec"}}}}},
        {"clientIdPrefix", "plant"},
        {"qos", 0},
        {"retain", "Never"},
        {"sessionExpirySeconds", 60},
        {"maxInflightMessages", 10},
        {"keepAliveSeconds", 30},
        {"protocol", "Mqtt"}}}};
  problems out;
  validate_mqtt_settings(spec, "/spec", out);
  ASSERT_TRUE(out.empty()) << paths(out);
  const auto s = read_mqtt_settings(spec);
  EXPECT_EQ(s.host, "broker.example");
  EXPECT_EQ(s.port, 8883);
  EXPECT_TRUE(s.tls);
  EXPECT_EQ(s.ca_file, "/etc/ca.pem");
  EXPECT_EQ(s.auth_method, mqtt_settings::auth::x509);
  EXPECT_EQ(s.cert_file, "/run/sec/tls.crt");
  EXPECT_EQ(s.key_file, "/run/sec/tls.key");
  EXPECT_EQ(s.client_id_prefix, "plant");
  EXPECT_EQ(s.qos, 0);
  EXPECT_FALSE(s.retain_keep);
  EXPECT_EQ(s.session_expiry_s, 60u);
  EXPECT_EQ(s.max_inflight, 10);
  EXPECT_EQ(s.keep_alive_s, 30);

  const auto d = read_mqtt_settings(json{{"mqttSettings", {{"host", "[::1]:1883"}}}});
  EXPECT_EQ(d.host, "::1");
  EXPECT_TRUE(d.tls);  // AIO: TLS unless tls.mode says Disabled
  EXPECT_EQ(d.auth_method, mqtt_settings::auth::anonymous);
  EXPECT_EQ(d.qos, 1);
  EXPECT_TRUE(d.retain_keep);
  EXPECT_EQ(d.session_expiry_s, 3600u);
  EXPECT_EQ(d.max_inflight, 100);
}

TEST(MqttSettings, ProblemsWithTheirPointers) {
  auto ps = check({{"host", "nohostport"},
                   {"tls", {{"mode", "Sometimes"}}},
                   {"authentication", {{"method", "ServiceAccountToken"}}},
                   {"qos", 2},
                   {"retain", "Always"},
                   {"maxInflightMessages", 0},
                   {"keepAliveSeconds", -1},
                   {"sessionExpirySeconds", "1h"},
                   {"protocol", "Pigeon"},
                   {"colour", "blue"}});
  std::set<std::string> got;
  for (const auto& p : ps) got.insert(p.path);
  EXPECT_EQ(got,
            (std::set<std::string>{"/spec/mqttSettings/host", "/spec/mqttSettings/tls/mode",
                                   "/spec/mqttSettings/authentication/method", "/spec/mqttSettings/qos",
                                   "/spec/mqttSettings/retain", "/spec/mqttSettings/maxInflightMessages",
                                   "/spec/mqttSettings/keepAliveSeconds", "/spec/mqttSettings/sessionExpirySeconds",
                                   "/spec/mqttSettings/protocol", "/spec/mqttSettings/colour"}))
      << paths(ps);
  EXPECT_NE(paths(ps).find("must be Mqtt or WebSockets"), std::string::npos);
  EXPECT_TRUE(check({{"host", "h:1"}, {"protocol", "WebSockets"}}).empty());
  EXPECT_TRUE(read_mqtt_settings(json{{"mqttSettings", {{"host", "h:1"}, {"protocol", "WebSockets"}}}}).websockets);

  ps = check({{"host", "h:1"}, {"authentication", {{"method", "UsernamePassword"}}}});
  ASSERT_EQ(ps.size(), 1u) << paths(ps);
  EXPECT_EQ(ps[0].path, "/spec/mqttSettings/authentication/usernamePasswordSettings/secretRef");
  EXPECT_EQ(check({{"host", "h:0"}}).size(), 1u);
  EXPECT_TRUE(check({{"host", "h:1"}, {"protocolVersion", "3.1.1"}}).empty());
  EXPECT_EQ(check({{"host", "h:1"}, {"protocolVersion", 4}}).at(0).path, "/spec/mqttSettings/protocolVersion");
  EXPECT_EQ(check({{"host", "h:65536"}}).size(), 1u);
  EXPECT_EQ(check(json::object()).at(0).path, "/spec/mqttSettings/host");
  problems out;
  validate_mqtt_settings(json{{"endpointType", "Mqtt"}}, "/spec", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].path, "/spec/mqttSettings");
}

TEST(MqttSettings, TheKindIsRegistered) {
  const auto* k = find_endpoint_kind("Mqtt");
  ASSERT_NE(k, nullptr);
  EXPECT_TRUE(k->make_sink);
  EXPECT_TRUE(k->make_source);
  problems out;
  k->validate(json{{"mqttSettings", {{"host", "h:1883"}, {"qos", 3}}}}, "/spec", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].path, "/spec/mqttSettings/qos");
}

}  // namespace
}  // namespace edgemq::dataflow
