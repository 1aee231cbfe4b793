// The Mqtt endpoint's settings: AIO's DataflowEndpoint `mqttSettings` (host, tls,
// authentication, clientIdPrefix, qos, retain, sessionExpirySeconds, maxInflightMessages,
// keepAliveSeconds, protocol), validated with JSON pointers and read into a value; and the
// destination topic template (`dataDestination`: "factory/${inputTopic.2}", "${inputTopic}").
// AIO's Kubernetes references are files here (docs/dataflows.md, "MQTT endpoints"):
// - tls.trustedCaCertificateConfigMapRef: a PEM file of CA certificates;
// - x509CertificateSettings.secretRef: a directory holding tls.crt and tls.key (a mounted
//   kubernetes.io/tls Secret);
// - usernamePasswordSettings.secretRef (edgemq's own method UsernamePassword): a directory holding
//   the files `username` and `password` (a mounted kubernetes.io/basic-auth Secret).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "dataflow/problems.hpp"

namespace edgemq::dataflow {

struct mqtt_settings {
  std::string host;  // name or address, without brackets
  std::uint16_t port = 1883;
  bool tls = true;      // AIO's default: tls.mode Enabled
  std::string ca_file;  // empty: the system's CAs
  enum class auth { anonymous, x509, username_password } auth_method = auth::anonymous;
  std::string cert_file, key_file;           // x509
  std::string username_file, password_file;  // username_password
  std::string client_id_prefix;
  std::uint8_t qos = 1;
  bool retain_keep = true;  // retain: Keep (the record's flag) | Never
  std::uint32_t session_expiry_s = 3600;
  std::uint16_t max_inflight = 100;
  std::uint16_t keep_alive_s = 60;
  // edgemq's own `protocolVersion`: "5" (default) or "3.1.1" (no properties, no session expiry:
  // a source keeps its session with clean session off).
  bool v311 = false;
  // protocol: WebSockets (MQTT over RFC 6455, subprotocol "mqtt", binary frames) on ws_path.
  bool websockets = false;
  std::string ws_path = "/mqtt";
};

// Checks spec.mqttSettings (`path` is the spec's pointer); appends problems.
void validate_mqtt_settings(const nlohmann::json& spec, const std::string& path, problems& out);
// Reads a validated spec.
mqtt_settings read_mqtt_settings(const nlohmann::json& spec);

// dataDestination templates: ${inputTopic} (the record's whole topic) and ${inputTopic.N} (its
// Nth level, 1-based). Checks the template; the result must be a topic name (no wildcards).
void validate_topic_template(std::string_view tmpl, const std::string& path, problems& out);
// The topic for a record from `input_topic`; nullopt when a level it names does not exist (or is
// empty) or the result is not a valid topic name.
std::optional<std::string> expand_topic_template(std::string_view tmpl, std::string_view input_topic);

}  // namespace edgemq::dataflow
