// validate() of the Http, File, LocalStorage and Kafka endpoint types: every bad value reported
// with its JSON pointer; AIO's own documents accepted as they are.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dataflow/endpoint_kind.hpp"
#include "dataflow/endpoints/file_sink.hpp"
#include "dataflow/endpoints/http_sink.hpp"
#include "dataflow/endpoints/kafka_sink.hpp"

namespace edgemq::dataflow {
namespace {

using nlohmann::json;

problems validate(const char* type, const json& spec) {
  const auto* k = find_endpoint_kind(type);
  EXPECT_NE(k, nullptr) << type;
  problems p;
  if (k) k->validate(spec, "/spec", p);
  return p;
}

std::string paths(const problems& p) {
  std::string s;
  for (const auto& x : p) s += x.path + " (" + x.message + ")\n";
  return s;
}

bool has(const problems& p, const std::string& path) {
  for (const auto& x : p)
    if (x.path == path) return true;
  return false;
}

TEST(SinkValidation, KindsAreListed) {
  for (const char* t : {"Http", "File", "LocalStorage", "Kafka"}) {
    const auto* k = find_endpoint_kind(t);
    ASSERT_NE(k, nullptr) << t;
    EXPECT_TRUE(k->make_sink) << t;
    EXPECT_FALSE(k->make_source) << t;  // destinations only
  }
}

TEST(SinkValidation, Http) {
  EXPECT_TRUE(validate("Http", json::parse(R"({"endpointType": "Http", "httpSettings": {
      "url": "https://hooks.example.com:8443/ingest?x=1", "headers": {"Authorization": "Bearer t"},
      "batching": {"maxMessages": 50}, "tls": {"caFile": "/etc/ca.pem"}, "timeoutSeconds": 10}})"))
                  .empty());
  EXPECT_TRUE(has(validate("Http", json::parse(R"({"endpointType": "Http"})")), "/spec/httpSettings"));
  auto p = validate("Http", json::parse(R"({"endpointType": "Http", "httpSettings": {
      "url": "ftp://x", "headers": {"Bad Name": "v", "X-Ok": "a\r\nInjected: 1"},
      "batching": {"maxMessages": 0}, "tls": {"caFile": 3}, "timeoutSeconds": "10"}})"));
  EXPECT_TRUE(has(p, "/spec/httpSettings/url")) << paths(p);
  EXPECT_TRUE(has(p, "/spec/httpSettings/headers/Bad Name")) << paths(p);
  EXPECT_TRUE(has(p, "/spec/httpSettings/headers/X-Ok")) << paths(p);
  EXPECT_TRUE(has(p, "/spec/httpSettings/batching/maxMessages")) << paths(p);
  EXPECT_TRUE(has(p, "/spec/httpSettings/tls/caFile")) << paths(p);
  EXPECT_TRUE(has(p, "/spec/httpSettings/timeoutSeconds")) << paths(p);
  EXPECT_TRUE(
      has(validate("Http", json::parse(R"({"httpSettings": {"url": "http://:80/"}})")), "/spec/httpSettings/url"));
  EXPECT_TRUE(
      has(validate("Http", json::parse(R"({"httpSettings": {"url": "http://h:99999/"}})")), "/spec/httpSettings/url"));
  EXPECT_TRUE(has(validate("Http", json::parse(R"({"httpSettings": {"url": "http://h/", "tls": {"caFile": "c"}}})")),
                  "/spec/httpSettings/tls/caFile"));  // a CA file with plain HTTP is a mistake

  problems none;
  const auto s = parse_http_settings(json::parse(R"({"httpSettings": {"url": "http://[::1]:8080/a/b"}})"), "", none);
  EXPECT_EQ(s.host, "::1");
  EXPECT_EQ(s.port, "8080");
  EXPECT_EQ(s.target, "/a/b");
  EXPECT_FALSE(s.tls);
  const auto d = parse_http_settings(json::parse(R"({"httpSettings": {"url": "https://h"}})"), "", none);
  EXPECT_EQ(d.port, "443");
  EXPECT_EQ(d.target, "/");
  EXPECT_TRUE(none.empty()) << paths(none);
}

TEST(SinkValidation, FileAndLocalStorage) {
  EXPECT_TRUE(validate("File", json::parse(R"({"endpointType": "File", "fileSettings": {"path": "exports",
        "maxFileBytes": 1048576, "rotateSeconds": 60, "batching": {"maxMessages": 500}}})"))
                  .empty());
  auto p = validate("File", json::parse(R"({"endpointType": "File", "fileSettings": {"path": "",
        "maxFileBytes": 0, "rotateSeconds": -1}})"));
  EXPECT_TRUE(has(p, "/spec/fileSettings/path")) << paths(p);
  EXPECT_TRUE(has(p, "/spec/fileSettings/maxFileBytes")) << paths(p);
  EXPECT_TRUE(has(p, "/spec/fileSettings/rotateSeconds")) << paths(p);
  // AIO's LocalStorage document, as it is.
  EXPECT_TRUE(validate("LocalStorage", json::parse(R"({"endpointType": "LocalStorage",
        "localStorageSettings": {"persistentVolumeClaimRef": "my-pvc"}})"))
                  .empty());
  EXPECT_TRUE(has(validate("LocalStorage", json::parse(R"({"endpointType": "LocalStorage",
        "localStorageSettings": {}})")),
                  "/spec/localStorageSettings/persistentVolumeClaimRef"));

  problems none;
  const auto rel = parse_file_settings(
      json::parse(R"({"endpointType": "LocalStorage", "localStorageSettings": {"persistentVolumeClaimRef": "pvc"}})"),
      "", "/var/lib/edgemq", none);
  EXPECT_EQ(rel.directory, "/var/lib/edgemq/pvc");
  const auto abs = parse_file_settings(json::parse(R"({"fileSettings": {"path": "/srv/x/"}})"), "", "/d", none);
  EXPECT_EQ(abs.directory, "/srv/x/");
  EXPECT_EQ(file_prefix("factory/line 1", "df"), "factory_line_1");
  EXPECT_EQ(file_prefix("", "df"), "df");
}

TEST(SinkValidation, KafkaAsAioWritesItForEventHubs) {
  const auto spec = json::parse(R"({"endpointType": "Kafka", "kafkaSettings": {
      "host": "myns.servicebus.windows.net:9093",
      "batching": {"mode": "Enabled", "latencyMs": 5, "maxMessages": 10000, "maxBytes": 1000000},
      "compression": "Gzip", "kafkaAcks": "All", "partitionStrategy": "Topic",
      "copyMqttProperties": "Enabled", "consumerGroupId": "ignored", "cloudEventAttributes": "Propagate",
      "authentication": {"method": "Sasl", "saslSettings": {"saslType": "Plain", "secretRef": "cs-secret"}},
      "tls": {"mode": "Enabled"}}})");
  EXPECT_TRUE(validate("Kafka", spec).empty()) << paths(validate("Kafka", spec));
  problems none;
  const auto k = parse_kafka_settings(spec, "", "/var/lib/edgemq", none);
  EXPECT_EQ(k.compression, "gzip");
  EXPECT_EQ(k.acks, "all");
  EXPECT_EQ(k.partitioning, kafka_partitioning::by_topic);
  EXPECT_TRUE(k.copy_mqtt_properties);
  EXPECT_EQ(k.sasl_mechanism, "PLAIN");
  EXPECT_EQ(k.sasl_secret, "/var/lib/edgemq/cs-secret");
  EXPECT_TRUE(k.tls);
  EXPECT_EQ(kafka_max_batch(k), 10000u);
}

TEST(SinkValidation, KafkaProblems) {
  auto p = validate("Kafka", json::parse(R"({"endpointType": "Kafka", "kafkaSettings": {
      "batching": {"mode": "On", "latencyMs": -1}, "compression": "zstd", "kafkaAcks": "2",
      "partitionStrategy": "RoundRobin", "copyMqttProperties": true,
      "authentication": {"method": "Sasl", "saslSettings": {"saslType": "Gssapi"}},
      "tls": {"mode": "Strict"}}})"));
  for (const char* path :
       {"/spec/kafkaSettings/host", "/spec/kafkaSettings/batching/mode", "/spec/kafkaSettings/batching/latencyMs",
        "/spec/kafkaSettings/compression", "/spec/kafkaSettings/kafkaAcks", "/spec/kafkaSettings/partitionStrategy",
        "/spec/kafkaSettings/copyMqttProperties", "/spec/kafkaSettings/authentication/saslSettings/saslType",
        "/spec/kafkaSettings/authentication/saslSettings/secretRef", "/spec/kafkaSettings/tls/mode"})
    EXPECT_TRUE(has(p, path)) << path << "\n" << paths(p);
  auto mi = validate("Kafka", json::parse(R"({"kafkaSettings": {"host": "h:9093",
      "authentication": {"method": "SystemAssignedManagedIdentity"}}})"));
  EXPECT_TRUE(has(mi, "/spec/kafkaSettings/authentication/method")) << paths(mi);
  EXPECT_TRUE(has(validate("Kafka", json::parse(R"({"kafkaSettings": {"host": "h:9093",
      "authentication": {"method": "Sasl"}}})")),
                  "/spec/kafkaSettings/authentication/saslSettings"));
}

}  // namespace
}  // namespace edgemq::dataflow
