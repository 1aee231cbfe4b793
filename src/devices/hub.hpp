// The IoT Hub device API at the edge (docs/devices.md): the device registry, twins, direct
// methods and cloud-to-device messages. Devices reach it over MQTT (the IoT Hub topics: a
// reserved-topic service, device_topics.cpp); operators and the azure-iothub service SDK over
// REST (src/admin/routes_devices.cpp) through this interface. Registry and twins are kept in the
// state store (key layout in docs/devices.md), so they are durable and later replicated with it.
//
// Threads: every member may be called from any thread; completions (`done`) run on whichever
// thread finishes the work (the state store's, or a connection's) and must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgemq::devices {

// Outcomes, mapped to IoT Hub's HTTP statuses and error codes by the REST layer.
enum class status : std::uint8_t {
  ok,
  created,              // 200 as IoT Hub answers a create, kept apart for the events
  not_found,            // 404 DeviceNotFound
  conflict,             // 409 DeviceAlreadyExists (create of an existing id)
  precondition_failed,  // 412 PreconditionFailed (If-Match etag mismatch)
  bad_request,          // 400 ArgumentInvalid (malformed body, twin too large or too deep)
  device_offline,       // 404 DeviceNotOnline (direct method)
  timeout,              // 504 GatewayTimeout (direct method)
  unavailable,          // 503: the state store refused the write
};

struct device {
  std::string device_id;
  std::string etag;
  bool enabled = true;                                   // "status": "enabled" | "disabled"
  std::string auth_type = "sas";                         // "sas" | "selfSigned" | "certificateAuthority"
  std::string primary_key, secondary_key;                // base64 (sas)
  std::string primary_thumbprint, secondary_thumbprint;  // hex SHA-1 or SHA-256 (selfSigned)
  bool connected = false;                                // "connectionState"
  std::uint64_t last_activity_ms = 0;                    // wall clock
  std::uint64_t generation = 0;                          // "generationId"
  // The JSON IoT Hub's REST API returns for it (deviceId, etag, status, connectionState,
  // lastActivityTime, authentication, ...).
  nlohmann::json to_json() const;
};

struct twin {
  std::string device_id;
  std::string etag;
  std::uint64_t version = 0;  // twin version (any change)
  nlohmann::json tags = nlohmann::json::object();
  nlohmann::json desired = nlohmann::json::object();   // includes "$version" and "$metadata"
  nlohmann::json reported = nlohmann::json::object();  // includes "$version" and "$metadata"
  // {deviceId, etag, version, tags, properties: {desired, reported}} as GET /twins/{id} returns.
  nlohmann::json to_json() const;
};

struct method_request {
  std::string device_id;
  std::string method_name;
  nlohmann::json payload;
  std::chrono::seconds response_timeout{30};
};
struct method_response {
  int status = 0;  // the device's status
  nlohmann::json payload;
};

struct c2d_message {
  std::string payload;
  std::vector<std::pair<std::string, std::string>> properties;  // application properties
  std::optional<std::string> message_id, correlation_id, content_type, content_encoding;
  std::optional<std::chrono::seconds> expiry;
};

class hub {
 public:
  virtual ~hub() = default;
  // Registry. `if_match`: empty (create), "*" (any), or an etag ("\"...\"" quotes accepted).
  virtual void put_device(device d, std::string if_match, std::function<void(status, device)> done) = 0;
  virtual std::optional<device> get_device(const std::string& id) const = 0;
  virtual std::vector<device> list_devices() const = 0;
  virtual void delete_device(const std::string& id, std::string if_match, std::function<void(status)> done) = 0;
  // Twins. patch: {"properties":{"desired":{...}}} and/or {"tags":{...}} (JSON merge patch).
  virtual std::optional<twin> get_twin(const std::string& id) const = 0;
  virtual void patch_twin(const std::string& id, const nlohmann::json& patch, std::string if_match,
                          std::function<void(status, twin)> done) = 0;
  // Direct method: delivered at once to the connected device; `done` with its answer, or
  // device_offline / timeout / not_found.
  virtual void invoke_method(method_request r, std::function<void(status, method_response)> done) = 0;
  // Cloud-to-device: queued in the device's session (delivered now or when it reconnects).
  virtual status send_c2d(const std::string& id, c2d_message m) = 0;
  // The configured IoT Hub host name ("devices.hostname"): service SAS tokens sign it as `sr`.
  virtual std::string hostname() const = 0;
  // The key (base64) of the shared access policy `policy` ("devices.service_policies" and
  // "devices.service_policies_file"), or nullopt when no such policy is configured.
  virtual std::optional<std::string> service_key(const std::string& policy) const = 0;
};

// SharedAccessSignature tokens (both sides). `sr` is signed exactly as sent.
struct sas_token {
  std::string sr, sig, se, skn;  // as they appear in the token (sig URL-decoded)
};
std::optional<sas_token> parse_sas_token(std::string_view text);
// True when `t`'s signature is HMAC-SHA256(base64decode(key_b64), sr + "\n" + se) and `se` has not passed.
bool verify_sas(const sas_token& t, const std::string& key_b64, std::uint64_t now_s);

}  // namespace edgemq::devices
