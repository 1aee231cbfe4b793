// The JSON of devices and twins as IoT Hub's REST API returns them (hub.hpp).
#include "devices/dialect.hpp"
#include "devices/hub.hpp"

namespace edgemq::devices {

nlohmann::json device::to_json() const {
  using json = nlohmann::json;
  json auth = {{"type", auth_type}};
  auth["symmetricKey"] = {{"primaryKey", primary_key.empty() ? json() : json(primary_key)},
                          {"secondaryKey", secondary_key.empty() ? json() : json(secondary_key)}};
  auth["x509Thumbprint"] = {
      {"primaryThumbprint", primary_thumbprint.empty() ? json() : json(primary_thumbprint)},
      {"secondaryThumbprint", secondary_thumbprint.empty() ? json() : json(secondary_thumbprint)}};
  const std::string never = "0001-01-01T00:00:00Z";
  return json{{"deviceId", device_id},
              {"moduleId", nullptr},
              {"generationId", std::to_string(generation)},
              {"etag", etag},
              {"connectionState", connected ? "Connected" : "Disconnected"},
              {"status", enabled ? "enabled" : "disabled"},
              {"statusReason", nullptr},
              {"connectionStateUpdatedTime", never},
              {"statusUpdatedTime", never},
              {"lastActivityTime", last_activity_ms ? iso8601(last_activity_ms) : never},
              {"cloudToDeviceMessageCount", 0},
              {"authentication", std::move(auth)},
              {"capabilities", {{"iotEdge", false}}}};
}

nlohmann::json twin::to_json() const {
  return nlohmann::json{{"deviceId", device_id},
                        {"etag", etag},
                        {"version", version},
                        {"tags", tags},
                        {"properties", {{"desired", desired}, {"reported", reported}}}};
}

}  // namespace edgemq::devices
