// endpointType Kafka: validation of kafkaSettings (AIO's names and values) and the sink factory.
// Kafka as a source (AIO allows it) is not implemented: make_source stays null.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "dataflow/endpoints/kafka_sink.hpp"
#include "dataflow/endpoints/kinds.hpp"
#include "dataflow/endpoints/settings_reader.hpp"

namespace edgemq::dataflow {

namespace {

std::string resolve(const std::string& ref, const std::string& data_dir) {
  std::filesystem::path p(ref);
  return (p.is_absolute() || data_dir.empty() ? p : std::filesystem::path(data_dir) / p).string();
}

}  // namespace

kafka_settings parse_kafka_settings(const nlohmann::json& spec, const std::string& path, const std::string& data_dir,
                                    problems& out) {
  const auto it = spec.find("kafkaSettings");
  settings_reader s(it == spec.end() ? nullptr : &*it, join_pointer(path, "kafkaSettings"), out);
  kafka_settings k;
  if (auto host = s.string("host", true)) k.host = *host;

  auto batching = s.object("batching");
  if (auto mode = batching.one_of("mode", {"Enabled", "Disabled"})) k.batching = *mode == "Enabled";
  if (auto n = batching.integer("latencyMs", 0, 900000)) k.latency_ms = *n;
  if (auto n = batching.integer("maxMessages", 1, 1000000)) k.max_messages = *n;
  if (auto n = batching.integer("maxBytes", 1, 1000000000)) k.max_bytes = *n;

  if (auto c = s.one_of("compression", {"None", "Gzip", "Snappy", "Lz4"})) {
    k.compression = *c == "None" ? "none" : *c == "Gzip" ? "gzip" : *c == "Snappy" ? "snappy" : "lz4";
  }
  if (auto a = s.one_of("kafkaAcks", {"Zero", "One", "All"})) k.acks = *a == "Zero" ? "0" : *a == "One" ? "1" : "all";
  if (auto p = s.one_of("partitionStrategy", {"Default", "Static", "Topic", "Property"})) {
    k.partitioning = *p == "Default"  ? kafka_partitioning::by_default
                     : *p == "Static" ? kafka_partitioning::fixed
                     : *p == "Topic"  ? kafka_partitioning::by_topic
                                      : kafka_partitioning::by_property;
  }
  if (auto c = s.one_of("copyMqttProperties", {"Enabled", "Disabled"})) k.copy_mqtt_properties = *c == "Enabled";
  if (auto t = s.integer("timeoutSeconds", 1, 3600)) k.timeout_seconds = *t;

  auto auth = s.object("authentication");
  if (auth.present()) {
    auto method = auth.one_of("method", {"Sasl", "Anonymous", "SystemAssignedManagedIdentity",
                                         "UserAssignedManagedIdentity", "X509Certificate"});
    if (method && *method != "Sasl" && *method != "Anonymous") {
      auth.problem("method", "\"" + *method + "\" is not supported by edgemq (Sasl and Anonymous are)");
    } else if (method && *method == "Sasl") {
      auto sasl = auth.object("saslSettings", true);
      if (auto t = sasl.one_of("saslType", {"Plain", "ScramSha256", "ScramSha512"}))
        k.sasl_mechanism = *t == "Plain" ? "PLAIN" : *t == "ScramSha256" ? "SCRAM-SHA-256" : "SCRAM-SHA-512";
      if (auto ref = sasl.string("secretRef", true)) k.sasl_secret = resolve(*ref, data_dir);
    }
  }
  auto tls = s.object("tls");
  if (auto mode = tls.one_of("mode", {"Enabled", "Disabled"})) k.tls = *mode == "Enabled";
  if (auto ca = tls.string("trustedCaCertificateConfigMapRef")) k.ca_location = resolve(*ca, data_dir);
  return k;
}

std::size_t kafka_max_batch(const kafka_settings& s) {
  // The runtime's batch is what is in flight at once; librdkafka batches further by latency and bytes.
  return s.batching ? static_cast<std::size_t>(std::min<std::int64_t>(s.max_messages, 10000)) : 1;
}

endpoint_kind kafka_endpoint_kind() {
  endpoint_kind k;
  k.type = "Kafka";
  k.validate = [](const nlohmann::json& spec, const std::string& path, problems& out) {
    parse_kafka_settings(spec, path, {}, out);
  };
  k.make_sink = [](const endpoint_args& a) {
    problems ignored;  // validated before
    return make_kafka_sink(parse_kafka_settings(a.spec, "", a.data_dir, ignored), a.data_destination, a.dataflow, a.io,
                           a.log);
  };
  return k;
}

}  // namespace edgemq::dataflow
