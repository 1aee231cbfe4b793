// IoT Hub's service REST API (routes_devices.cpp) without sockets, over a fake hub: SAS and
// bearer authorization, the paths the SDKs build, IoT Hub's statuses and error bodies, the
// deferred answers of the registry, twins and methods, C2D headers.
#include <chrono>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "admin/router.hpp"
#include "broker/broker.hpp"
#include "devices/hub.hpp"

namespace edgemq::admin {
namespace {

using json = nlohmann::json;
using devices::status;

const std::string policy_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";  // base64 of 32 bytes

std::string b64(const unsigned char* p, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  return out;
}

std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// A service token as azure-iothub makes it: sr plain, sig URL-encoded, skn the policy.
std::string service_sas(const std::string& sr, const std::string& key_b64, std::int64_t expiry,
                        const std::string& skn = "iothubowner") {
  std::string key(64, '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(key.data()),
                      reinterpret_cast<const unsigned char*>(key_b64.data()), static_cast<int>(key_b64.size()));
  key.resize(static_cast<std::size_t>(n) - (key_b64.ends_with("=") ? 1 : 0));
  const std::string to_sign = sr + "\n" + std::to_string(expiry);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(to_sign.data()),
       to_sign.size(), mac, &len);
  return "SharedAccessSignature sr=" + sr + "&sig=" + url_encode(b64(mac, len)) + "&se=" + std::to_string(expiry) +
         "&skn=" + skn;
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Completes every operation at once, recording what it was asked.
struct fake_hub : devices::hub {
  std::map<std::string, devices::device> registry;
  std::map<std::string, devices::twin> twins;
  std::string last_if_match;
  json last_patch;
  devices::method_request last_method;
  status method_status = status::ok;
  std::vector<std::pair<std::string, devices::c2d_message>> c2d;

  void put_device(devices::device d, std::string if_match, std::function<void(status, devices::device)> done) override {
    last_if_match = if_match;
    const bool exists = registry.count(d.device_id) > 0;
    if (if_match.empty() && exists) return done(status::conflict, {});
    if (!if_match.empty() && !exists) return done(status::not_found, {});
    if (d.primary_key.empty()) d.primary_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    d.etag = "\"e1\"";
    registry[d.device_id] = d;
    twins[d.device_id].device_id = d.device_id;
    done(exists ? status::ok : status::created, d);
  }
  std::optional<devices::device> get_device(const std::string& id) const override {
    auto it = registry.find(id);
    return it == registry.end() ? std::nullopt : std::optional(it->second);
  }
  std::vector<devices::device> list_devices() const override {
    std::vector<devices::device> out;
    for (const auto& [k, v] : registry) out.push_back(v);
    return out;
  }
  void delete_device(const std::string& id, std::string if_match, std::function<void(status)> done) override {
    last_if_match = if_match;
    done(registry.erase(id) ? status::ok : status::not_found);
  }
  std::optional<devices::twin> get_twin(const std::string& id) const override {
    auto it = twins.find(id);
    return it == twins.end() ? std::nullopt : std::optional(it->second);
  }
  void patch_twin(const std::string& id, const json& patch, std::string if_match,
                  std::function<void(status, devices::twin)> done) override {
    last_if_match = if_match;
    last_patch = patch;
    auto it = twins.find(id);
    if (it == twins.end()) return done(status::not_found, {});
    if (if_match != "*" && if_match != "\"t1\"") return done(status::precondition_failed, {});
    it->second.desired.merge_patch(patch["properties"]["desired"]);
    done(status::ok, it->second);
  }
  void invoke_method(devices::method_request r, std::function<void(status, devices::method_response)> done) override {
    last_method = r;
    done(method_status, {200, {{"echo", r.payload}}});
  }
  status send_c2d(const std::string& id, devices::c2d_message m) override {
    if (!registry.count(id)) return status::not_found;
    c2d.emplace_back(id, std::move(m));
    return status::ok;
  }
  std::string hostname() const override { return "hub.example"; }
  std::optional<std::string> service_key(const std::string& policy) const override {
    return policy == "iothubowner" ? std::optional(policy_key) : std::nullopt;
  }
};

class RoutesDevicesTest : public ::testing::Test {
 protected:
  broker::broker core{broker::limits{}};
  fake_hub hub;
  admin_context ctx{core, {}, "1", "operator-token", {}, {}, {}, "c/{clientId}/{name}", {}, nullptr, &hub};

  http_response call(const std::string& method, const std::string& target, const std::string& body = "",
                     std::vector<std::pair<std::string, std::string>> headers = {}, std::string auth = "") {
    if (auth.empty()) auth = service_sas("hub.example", policy_key, now_s() + 600);
    http_request req{method, target, auth, body.empty() ? "" : "application/json; charset=utf-8", body};
    req.headers = std::move(headers);
    auto r = handle(ctx, req);
    if (!r.deferred) return r;
    http_response out = r;
    out.deferred.reset();
    r.deferred->start([&out](http_response done) { out = std::move(done); });
    return out;
  }
  static json body(const http_response& r) { return json::parse(r.body); }
  static void expect_hub_error(const http_response& r, unsigned status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_TRUE(body(r).at("Message").get<std::string>().starts_with("ErrorCode:" + code + ";")) << r.body;
  }
  void create(const std::string& id) {
    ASSERT_EQ(call("PUT", "/devices/" + id + "?api-version=2021-04-12", R"({"deviceId":")" + id + R"("})").status,
              200u);
  }
};

TEST_F(RoutesDevicesTest, SasOfAServicePolicyOrTheBearerTokenIsRequired) {
  const auto path = "/devices?api-version=2021-04-12";
  EXPECT_EQ(call("GET", path).status, 200u);
  EXPECT_EQ(call("GET", path, "", {}, "Bearer operator-token").status, 200u);
  // sr URL-encoded (other SDKs), the hostname in another case: the same hub.
  EXPECT_EQ(call("GET", path, "", {}, service_sas("HUB.example", policy_key, now_s() + 60)).status, 200u);
  const std::string other_key = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
  for (const auto& auth :
       {std::string("Bearer nope"), service_sas("hub.example", other_key, now_s() + 60),
        service_sas("hub.example", policy_key, now_s() - 1), service_sas("other.example", policy_key, now_s() + 60),
        service_sas("hub.example", policy_key, now_s() + 60, "nosuch"), std::string("SharedAccessSignature garbage")})
    expect_hub_error(call("GET", path, "", {}, auth), 401, "IotHubUnauthorizedAccess");
  // The operator API keeps its own rule: a SAS does not open /api/v1.
  EXPECT_EQ(call("GET", "/api/v1/broker").status, 401u);
}

TEST_F(RoutesDevicesTest, RegistryLifecycle) {
  auto r = call(
      "PUT", "/devices/d1?api-version=2021-04-12",
      R"({"deviceId":"d1","status":"disabled","authentication":{"type":"sas","symmetricKey":{"primaryKey":"","secondaryKey":""}}})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(body(r).at("deviceId"), "d1");
  EXPECT_EQ(body(r).at("status"), "disabled");
  EXPECT_FALSE(hub.registry.at("d1").enabled);
  EXPECT_EQ(hub.last_if_match, "");
  expect_hub_error(call("PUT", "/devices/d1?api-version=2021-04-12", R"({"deviceId":"d1"})"), 409,
                   "DeviceAlreadyExists");
  EXPECT_EQ(call("PUT", "/devices/d1", R"({"deviceId":"d1","status":"enabled"})", {{"if-match", "\"*\""}}).status,
            200u);
  EXPECT_EQ(hub.last_if_match, "\"*\"");
  EXPECT_TRUE(hub.registry.at("d1").enabled);
  EXPECT_EQ(body(call("GET", "/devices/d1")).at("deviceId"), "d1");
  // azure-iothub lists with GET /devices/ (devicePath('')).
  EXPECT_EQ(body(call("GET", "/devices/?api-version=2021-04-12")).size(), 1u);
  EXPECT_EQ(call("DELETE", "/devices/d1", "", {{"if-match", "\"*\""}}).status, 204u);
  expect_hub_error(call("GET", "/devices/d1"), 404, "DeviceNotFound");
  expect_hub_error(call("DELETE", "/devices/d1"), 404, "DeviceNotFound");
}

TEST_F(RoutesDevicesTest, BadDevicesAreRefused) {
  expect_hub_error(call("PUT", "/devices/d1", R"({"deviceId":"d2"})"), 400, "ArgumentInvalid");
  expect_hub_error(call("PUT", "/devices/d1", R"({"status":"sleepy"})"), 400, "ArgumentInvalid");
  expect_hub_error(call("PUT", "/devices/d1", R"({"authentication":{"symmetricKey":{"primaryKey":"c2hvcnQ="}}})"), 400,
                   "ArgumentInvalid");
  expect_hub_error(call("PUT", "/devices/d1", "[1]"), 400, "ArgumentInvalid");
  expect_hub_error(call("PUT", "/devices/a%2Bb", "{}"), 400, "ArgumentInvalid");  // '+' is a wildcard
  expect_hub_error(call("PUT", "/devices/a%23b", "{}"), 400, "ArgumentInvalid");
  expect_hub_error(call("GET", "/devices/" + std::string(129, 'x')), 400, "ArgumentInvalid");
  expect_hub_error(call("GET", "/devices?api-version=1&bogus=1"), 400, "ArgumentInvalid");
  EXPECT_EQ(call("POST", "/devices/d1").status, 405u);
  EXPECT_TRUE(hub.registry.empty());
}

TEST_F(RoutesDevicesTest, TwinsGetAndPatchWithEtag) {
  create("d1");
  auto r = call("GET", "/twins/d1?api-version=2021-04-12");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(body(r).at("deviceId"), "d1");
  r = call("PATCH", "/twins/d1", R"({"properties":{"desired":{"x":1}}})", {{"if-match", "\"t1\""}});
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(body(r).at("properties").at("desired").at("x"), 1);
  EXPECT_EQ(hub.last_if_match, "\"t1\"");
  expect_hub_error(call("PATCH", "/twins/d1", R"({"properties":{"desired":{"x":2}}})", {{"if-match", "\"old\""}}), 412,
                   "PreconditionFailed");
  expect_hub_error(call("PATCH", "/twins/d1", R"({"properties":{"reported":{"x":2}}})", {{"if-match", "*"}}), 400,
                   "ArgumentInvalid");
  expect_hub_error(call("GET", "/twins/nosuch"), 404, "DeviceNotFound");
}

TEST_F(RoutesDevicesTest, DirectMethods) {
  create("d1");
  auto r =
      call("POST", "/twins/d1/methods?api-version=2021-04-12",
           R"({"methodName":"reboot","payload":{"a":1},"responseTimeoutInSeconds":7,"connectTimeoutInSeconds":0})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(body(r), json::parse(R"({"status":200,"payload":{"echo":{"a":1}}})"));
  EXPECT_EQ(hub.last_method.method_name, "reboot");
  EXPECT_EQ(hub.last_method.response_timeout, std::chrono::seconds(7));
  // The server's own deadline comes after the hub's timeout, and answers the same 504.
  auto deferred = handle(ctx, {"POST", "/twins/d1/methods", service_sas("hub.example", policy_key, now_s() + 60),
                               "application/json", R"({"methodName":"m"})"});
  ASSERT_TRUE(deferred.deferred);
  EXPECT_GT(deferred.deferred->timeout, std::chrono::seconds(30));
  expect_hub_error(deferred, 504, "GatewayTimeout");
  hub.method_status = status::device_offline;
  expect_hub_error(call("POST", "/twins/d1/methods", R"({"methodName":"m"})"), 404, "DeviceNotOnline");
  hub.method_status = status::timeout;
  expect_hub_error(call("POST", "/twins/d1/methods", R"({"methodName":"m"})"), 504, "GatewayTimeout");
  expect_hub_error(call("POST", "/twins/nosuch/methods", R"({"methodName":"m"})"), 404, "DeviceNotFound");
  expect_hub_error(call("POST", "/twins/d1/methods", R"({"payload":1})"), 400, "ArgumentInvalid");
  expect_hub_error(call("POST", "/twins/d1/methods", R"({"methodName":"a/b"})"), 400, "ArgumentInvalid");
  expect_hub_error(call("POST", "/twins/d1/methods", R"({"methodName":"m","responseTimeoutInSeconds":301})"), 400,
                   "ArgumentInvalid");
}

TEST_F(RoutesDevicesTest, CloudToDeviceTakesPropertiesFromHeaders) {
  create("d1");
  auto r = call("POST", "/devices/d1/messages/deviceBound?api-version=2021-04-12", "payload bytes",
                {{"iothub-app-color", "blue"},
                 {"iothub-messageid", "m1"},
                 {"iothub-correlationid", "c1"},
                 {"iothub-contenttype", "text/plain"},
                 {"iothub-expiry", "60"},
                 {"request-id", "ignored"}});
  ASSERT_EQ(r.status, 204u) << r.body;
  ASSERT_EQ(hub.c2d.size(), 1u);
  const auto& m = hub.c2d[0].second;
  EXPECT_EQ(m.payload, "payload bytes");
  EXPECT_EQ(m.properties, (std::vector<std::pair<std::string, std::string>>{{"color", "blue"}}));
  EXPECT_EQ(m.message_id, "m1");
  EXPECT_EQ(m.correlation_id, "c1");
  EXPECT_EQ(m.content_type, "text/plain");
  EXPECT_EQ(m.expiry, std::chrono::seconds(60));
  expect_hub_error(call("POST", "/devices/nosuch/messages/deviceBound", "x"), 404, "DeviceNotFound");
  expect_hub_error(call("POST", "/devices/d1/messages/deviceBound", "x", {{"iothub-expiry", "soon"}}), 400,
                   "ArgumentInvalid");
}

TEST_F(RoutesDevicesTest, QueryReturnsEveryTwin) {
  create("d1");
  create("d2");
  auto r = call("POST", "/devices/query?api-version=2021-04-12", R"({"query":"SELECT  *  FROM devices"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_EQ(body(r).size(), 2u);
  EXPECT_EQ(body(r)[0].at("deviceId"), "d1");
  EXPECT_EQ(body(r)[0].at("status"), "enabled");
  expect_hub_error(call("POST", "/devices/query", R"({"query":"SELECT * FROM devices WHERE x = 1"})"), 400,
                   "ArgumentInvalid");
}

// The SDK's other service APIs get IoT Hub's error body saying what is missing, not the
// operator API's 401.
TEST_F(RoutesDevicesTest, UnimplementedIotHubApisSaySo) {
  create("d1");
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/statistics/devices?api-version=2021-04-12"},
                                                        {"POST", "/jobs/create?api-version=2021-04-12"},
                                                        {"GET", "/jobs/v2/query"},
                                                        {"GET", "/configurations"},
                                                        {"POST", "/devices?api-version=2021-04-12"},
                                                        {"GET", "/devices/d1/modules"},
                                                        {"GET", "/twins/d1/modules/m1"},
                                                        {"POST", "/twins/d1/modules/m1/methods"}})
    expect_hub_error(call(method, target, "{}"), 501, "NotImplemented");
  expect_hub_error(call("GET", "/jobs", "", {}, "Bearer nope"), 401, "IotHubUnauthorizedAccess");
  // Paths that merely start like them are the operator API's.
  EXPECT_EQ(call("GET", "/jobsx", "", {}, "Bearer operator-token").status, 404u);
  EXPECT_EQ(body(call("GET", "/jobsx", "", {}, "Bearer operator-token")).at("code"), "not_found");
}

TEST_F(RoutesDevicesTest, OffWithoutAHub) {
  ctx.devices = nullptr;
  EXPECT_EQ(call("GET", "/devices", "", {}, "Bearer operator-token").status, 404u);
}

}  // namespace
}  // namespace edgemq::admin
