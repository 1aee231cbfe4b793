// device_hub without sockets: the registry and twins written through to a fake state store
// (a map behind the engine's operator-request shape), twin versions and $metadata, merge patch,
// limits, refused writes, loading, and the CONNECT decisions of the IoT Hub dialect.
#include <atomic>
#include <future>
#include <map>

#include <gtest/gtest.h>

#include "devices/device_hub.hpp"
#include "devices/device_permissions.hpp"
#include "devices/dialect.hpp"
#include "devices/twin_doc.hpp"
#include "sas_cli.hpp"

namespace edgemq::devices {
namespace {

using json = nlohmann::json;
using engine = statestore::store;

// The engine's operator requests over a map; answers synchronously (the hub must not care).
struct fake_store {
  std::map<std::string, std::string> kv;
  std::atomic<bool> refuse{false};
  device_hub::submit_fn fn() {
    return [this](engine::operator_request r, std::function<void(engine::operator_reply)> done) {
      engine::operator_reply rep;
      using verb = engine::operator_request::verb;
      if (r.op == verb::list) {
        for (auto it = kv.upper_bound(r.after); it != kv.end(); ++it)
          if (it->first.starts_with(r.prefix)) rep.items.push_back({it->first, it->second, ""});
      } else if (refuse) {
        rep.code = engine::operator_reply::status::unavailable;
      } else if (r.op == verb::put) {
        kv[r.key] = r.value;
      } else if (r.op == verb::del) {
        if (!kv.erase(r.key)) rep.code = engine::operator_reply::status::not_found;
      }
      done(std::move(rep));
    };
  }
};

class HubTest : public ::testing::Test {
 protected:
  HubTest() : core_(broker::limits{}) {}
  void SetUp() override { start(); }
  void start() {
    hub_.reset();
    hub_ = std::make_unique<device_hub>(core_, hub_options{"hub.local", {{"iothubowner", "a2V5"}}}, nullptr,
                                        [this] { return now_ms_.load(); });
    hub_->start(store_.fn());
  }
  std::pair<status, device> put(device d, std::string if_match = {}) {
    std::pair<status, device> out;
    hub_->put_device(std::move(d), std::move(if_match), [&](status s, device r) { out = {s, std::move(r)}; });
    return out;
  }
  std::pair<status, twin> patch(const std::string& id, const json& p, std::string if_match = {}) {
    std::pair<status, twin> out;
    hub_->patch_twin(id, p, std::move(if_match), [&](status s, twin t) { out = {s, std::move(t)}; });
    return out;
  }
  static device named(std::string id) {
    device d;
    d.device_id = std::move(id);
    return d;
  }

  std::atomic<std::uint64_t> now_ms_{1'700'000'000'000};
  broker::broker core_;
  fake_store store_;
  std::unique_ptr<device_hub> hub_;
};

TEST_F(HubTest, CreateGeneratesKeysAndWritesThroughWithTheDocumentedLayout) {
  auto [st, d] = put(named("dev1"));
  ASSERT_EQ(st, status::created);
  EXPECT_EQ(d.primary_key.size(), 44u);
  EXPECT_EQ(d.secondary_key.size(), 44u);
  EXPECT_NE(d.primary_key, d.secondary_key);
  EXPECT_FALSE(d.etag.empty());
  ASSERT_TRUE(store_.kv.contains("$devices/registry/dev1"));
  ASSERT_TRUE(store_.kv.contains("$devices/twins/dev1"));
  const auto rec = json::parse(store_.kv["$devices/registry/dev1"]);
  EXPECT_EQ(rec["authentication"]["symmetricKey"]["primaryKey"], d.primary_key);
  EXPECT_EQ(rec["status"], "enabled");
  EXPECT_EQ(put(named("dev1")).first, status::conflict);  // create of an existing id
  EXPECT_EQ(put(named("bad/id")).first, status::bad_request);
  EXPECT_EQ(hub_->service_key("iothubowner"), "a2V5");
  EXPECT_FALSE(hub_->service_key("other"));
}

TEST_F(HubTest, UpdateChecksTheEtagAndKeepsKeys) {
  auto created = put(named("dev1")).second;
  auto upd = created;
  upd.enabled = false;
  upd.primary_key.clear();
  EXPECT_EQ(put(upd, "\"not-the-etag\"").first, status::precondition_failed);
  auto [st, d] = put(upd, "\"" + created.etag + "\"");
  ASSERT_EQ(st, status::ok);
  EXPECT_FALSE(d.enabled);
  EXPECT_EQ(d.primary_key, created.primary_key);
  EXPECT_NE(d.etag, created.etag);
  EXPECT_EQ(json::parse(store_.kv["$devices/registry/dev1"])["status"], "disabled");
}

TEST_F(HubTest, TwinVersionsAndMetadataAsIotHubKeepsThem) {
  put(named("dev1"));
  const auto t0 = *hub_->get_twin("dev1");
  EXPECT_EQ(t0.version, 1u);
  EXPECT_EQ(t0.desired["$version"], 1);
  now_ms_ = 1'700'000'001'000;
  auto [st, t1] = patch("dev1", json::parse(R"({"properties":{"desired":{"cfg":{"rate":5,"mode":"x"}}}})"));
  ASSERT_EQ(st, status::ok);
  EXPECT_EQ(t1.version, 2u);
  EXPECT_EQ(t1.desired["$version"], 2);
  EXPECT_EQ(t1.desired["cfg"]["rate"], 5);
  EXPECT_EQ(t1.desired["$metadata"]["cfg"]["rate"]["$lastUpdated"], "2023-11-14T22:13:21.0000000Z");
  EXPECT_EQ(t1.desired["$metadata"]["cfg"]["rate"]["$lastUpdatedVersion"], 2);
  EXPECT_EQ(t1.desired["$metadata"]["$lastUpdatedVersion"], 2);
  now_ms_ = 1'700'000'002'000;
  // Merge patch: null deletes, untouched members keep their stamps, the parent's moves.
  auto t2 = patch("dev1", json::parse(R"({"properties":{"desired":{"cfg":{"mode":null,"rate":6}}}})")).second;
  EXPECT_EQ(t2.desired["$version"], 3);
  EXPECT_FALSE(t2.desired["cfg"].contains("mode"));
  EXPECT_FALSE(t2.desired["$metadata"]["cfg"].contains("mode"));
  EXPECT_EQ(t2.desired["$metadata"]["cfg"]["$lastUpdatedVersion"], 3);
  EXPECT_EQ(t2.desired["$metadata"]["cfg"]["rate"]["$lastUpdated"], "2023-11-14T22:13:22.0000000Z");
  EXPECT_EQ(t2.reported["$version"], 1);
  // Tags are plain merge patch; If-Match on the twin's etag.
  EXPECT_EQ(patch("dev1", json::parse(R"({"tags":{"site":"a"}})"), "\"nope\"").first, status::precondition_failed);
  auto t3 = patch("dev1", json::parse(R"({"tags":{"site":"a"}})"), t2.etag).second;
  EXPECT_EQ(t3.tags["site"], "a");
  EXPECT_EQ(t3.version, 4u);
  EXPECT_EQ(json::parse(store_.kv["$devices/twins/dev1"])["tags"]["site"], "a");
  EXPECT_EQ(patch("dev1", json::parse(R"({"properties":{"reported":{"x":1}}})")).first, status::bad_request);
}

TEST_F(HubTest, SizeAndDepthLimitsAnswerBadRequest) {
  put(named("dev1"));
  json deep = 1;
  for (int i = 0; i < 10; ++i) deep = json{{"l", deep}};  // 10 levels: allowed
  EXPECT_EQ(patch("dev1", json{{"properties", {{"desired", deep}}}}).first, status::ok);
  deep = json{{"l", deep}};  // 11
  EXPECT_EQ(patch("dev1", json{{"properties", {{"desired", deep}}}}).first, status::bad_request);
  EXPECT_EQ(patch("dev1", json{{"properties", {{"desired", {{"big", std::string(33 * 1024, 'x')}}}}}}).first,
            status::bad_request);
  EXPECT_EQ(hub_->get_twin("dev1")->version, 2u);  // refused patches change nothing
}

TEST_F(HubTest, RefusedWritesAnswerUnavailableAndChangeNothing) {
  auto created = put(named("dev1")).second;
  store_.refuse = true;
  EXPECT_EQ(put(named("dev2")).first, status::unavailable);
  EXPECT_FALSE(hub_->get_device("dev2"));
  EXPECT_EQ(patch("dev1", json::parse(R"({"tags":{"a":1}})")).first, status::unavailable);
  EXPECT_EQ(hub_->get_twin("dev1")->version, 1u);
  status del = status::ok;
  hub_->delete_device("dev1", "*", [&](status s) { del = s; });
  EXPECT_EQ(del, status::unavailable);
  EXPECT_TRUE(hub_->get_device("dev1"));
}

TEST_F(HubTest, LoadsRegistryAndTwinsAtStart) {
  put(named("dev1"));
  patch("dev1", json::parse(R"({"properties":{"desired":{"a":1}}})"));
  const auto key = hub_->get_device("dev1")->primary_key;
  start();
  ASSERT_TRUE(hub_->get_device("dev1"));
  EXPECT_EQ(hub_->get_device("dev1")->primary_key, key);
  EXPECT_EQ(hub_->get_twin("dev1")->desired["a"], 1);
  EXPECT_EQ(hub_->get_twin("dev1")->version, 2u);
  status del = status::ok;
  hub_->delete_device("dev1", {}, [&](status s) { del = s; });
  EXPECT_EQ(del, status::ok);
  EXPECT_TRUE(store_.kv.empty());
}

TEST_F(HubTest, MethodsToAnOfflineDeviceAnswerDeviceOffline) {
  put(named("dev1"));
  std::promise<status> p;
  hub_->invoke_method({"dev1", "reboot", json::object(), std::chrono::seconds(1)},
                      [&](status s, method_response) { p.set_value(s); });
  EXPECT_EQ(p.get_future().get(), status::device_offline);
  std::promise<status> q;
  hub_->invoke_method({"nope", "reboot", {}, std::chrono::seconds(1)},
                      [&](status s, method_response) { q.set_value(s); });
  EXPECT_EQ(q.get_future().get(), status::not_found);
  std::promise<status> bad;
  hub_->invoke_method({"dev1", "a/b", {}, std::chrono::seconds(1)},
                      [&](status s, method_response) { bad.set_value(s); });
  EXPECT_EQ(bad.get_future().get(), status::bad_request);
  EXPECT_EQ(hub_->send_c2d("nope", {}), status::not_found);
  EXPECT_EQ(hub_->send_c2d("dev1", {}), status::ok);
}

// A SAS token as the device SDK makes it (sr URL-encoded), signed with `key`.
std::string device_token(const std::string& resource, const std::string& key, std::uint64_t se) {
  const auto sr = url_encode(resource);
  return "SharedAccessSignature sr=" + sr + "&sig=" + url_encode(openssl_sig(key, sr + "\n" + std::to_string(se))) +
         "&se=" + std::to_string(se);
}

class ConnectTest : public HubTest {
 protected:
  std::optional<broker::connect_decision> connect(std::string client_id, std::optional<std::string> user,
                                                  std::optional<std::string> password,
                                                  const broker::peer_certificate* cert = nullptr) {
    mqtt::connect c;
    c.version = mqtt::protocol_version::v311;
    c.client_id = std::move(client_id);
    c.username = std::move(user);
    c.password = std::move(password);
    return hub_->on_connect(c, cert, ++conn_);
  }
  std::uint64_t conn_ = 0;
  const std::string user_ = "hub.local/dev1/?api-version=2021-04-12&DeviceClientType=test";
  const std::uint64_t se_ = 1'700'003'600;
};

TEST_F(ConnectTest, SasTokenWithThePrimaryOrSecondaryKeyLetsTheDeviceIn) {
  const auto d = put(named("dev1")).second;
  for (const auto& key : {d.primary_key, d.secondary_key}) {
    auto r = connect("dev1", user_, device_token("hub.local/devices/dev1", key, se_));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, mqtt::reason_code::success) << r->why;
    EXPECT_EQ(r->username, "dev1");
    ASSERT_TRUE(r->permissions);
    EXPECT_TRUE(r->permissions->may_publish("devices/dev1/messages/events/a=b"));
    EXPECT_FALSE(r->permissions->may_publish("devices/dev2/messages/events/"));
  }
  // The host name is compared without case, as DNS names are.
  auto r = connect("dev1", "HUB.local/dev1/?api-version=x", device_token("hub.local/devices/dev1", d.primary_key, se_));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, mqtt::reason_code::success);
}

TEST_F(ConnectTest, AModuleConnectsWithItsDevicesKeyAndGetsOnlyItsTopics) {
  const auto d = put(named("dev1")).second;
  const std::string user = "hub.local/dev1/edge-mod/?api-version=2021-04-12";
  auto r = connect("dev1/edge-mod", user, device_token("hub.local/devices/dev1/modules/edge-mod", d.primary_key, se_));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->code, mqtt::reason_code::success) << r->why;
  EXPECT_EQ(r->username, "dev1/edge-mod");
  EXPECT_TRUE(r->permissions->may_publish("devices/dev1/modules/edge-mod/messages/events/"));
  EXPECT_FALSE(r->permissions->may_publish("devices/dev1/messages/events/"));
  EXPECT_TRUE(r->permissions->may_subscribe("devices/dev1/modules/edge-mod/inputs/#"));
  EXPECT_FALSE(r->permissions->may_subscribe("devices/dev1/messages/devicebound/#"));
  // Another module's token, or the client id of the device itself, is refused.
  EXPECT_EQ(
      connect("dev1/edge-mod", user, device_token("hub.local/devices/dev1/modules/other", d.primary_key, se_))->code,
      mqtt::reason_code::bad_user_name_or_password);
  EXPECT_EQ(connect("dev1", user, device_token("hub.local/devices/dev1", d.primary_key, se_))->code,
            mqtt::reason_code::client_identifier_not_valid);
}

TEST_F(ConnectTest, OtherUsernamesGoToTheListenersChain) {
  put(named("dev1"));
  EXPECT_FALSE(connect("dev1", std::nullopt, "x"));
  EXPECT_FALSE(connect("dev1", "alice", "x"));
  EXPECT_FALSE(connect("dev1", "other.host/dev1/?api-version=x", "x"));
}

TEST_F(ConnectTest, WrongExpiredForeignOrMisshapenCredentialsAreRefused) {
  const auto d = put(named("dev1")).second;
  put(named("dev2"));
  const auto bad = mqtt::reason_code::bad_user_name_or_password;
  EXPECT_EQ(connect("dev1", user_, device_token("hub.local/devices/dev1", "d3Jvbmcga2V5", se_))->code, bad);
  now_ms_ = (se_ + 1) * 1000;
  EXPECT_EQ(connect("dev1", user_, device_token("hub.local/devices/dev1", d.primary_key, se_))->code, bad);
  now_ms_ = 1'700'000'000'000;
  // A token for another device, even validly signed with this device's key.
  EXPECT_EQ(connect("dev1", user_, device_token("hub.local/devices/dev2", d.primary_key, se_))->code, bad);
  EXPECT_EQ(connect("dev1", user_, "not a token")->code, bad);
  EXPECT_EQ(connect("dev1", user_, std::nullopt)->code, bad);
  EXPECT_EQ(connect("nobody", "hub.local/nobody/?api-version=x", "x")->code, bad);
  EXPECT_EQ(connect("dev2", user_, device_token("hub.local/devices/dev1", d.primary_key, se_))->code,
            mqtt::reason_code::client_identifier_not_valid);
}

TEST_F(ConnectTest, DisabledDeviceIsNotAuthorized) {
  auto d = put(named("dev1")).second;
  d.enabled = false;
  put(d, "*");
  EXPECT_EQ(connect("dev1", user_, device_token("hub.local/devices/dev1", d.primary_key, se_))->code,
            mqtt::reason_code::not_authorized);
}

TEST_F(ConnectTest, X509ThumbprintMustMatchTheRegistry) {
  device d = named("cam");
  d.auth_type = "selfSigned";
  d.primary_thumbprint = "ab:cd:ef";
  ASSERT_EQ(put(d).first, status::created);
  broker::peer_certificate cert;
  cert.subject_cn = "cam";
  cert.sha1_thumbprint = "ABCDEF";
  cert.sha256_thumbprint = "0011";
  const std::string user = "hub.local/cam/?api-version=x";
  EXPECT_EQ(connect("cam", user, std::nullopt, &cert)->code, mqtt::reason_code::success);
  cert.sha1_thumbprint = "ABCDEE";
  EXPECT_EQ(connect("cam", user, std::nullopt, &cert)->code, mqtt::reason_code::bad_user_name_or_password);
  EXPECT_EQ(connect("cam", user, std::nullopt, nullptr)->code, mqtt::reason_code::bad_user_name_or_password);
}

TEST(DevicePermissions, OnlyItsOwnTopics) {
  const device_permissions p("dev1", "");
  EXPECT_TRUE(p.may_publish("devices/dev1/messages/events/"));
  EXPECT_TRUE(p.may_publish("devices/dev1/messages/events/%24.mid=1"));
  EXPECT_TRUE(p.may_publish("$iothub/twin/GET/?$rid=1"));
  EXPECT_TRUE(p.may_publish("$iothub/twin/PATCH/properties/reported/?$rid=2"));
  EXPECT_TRUE(p.may_publish("$iothub/methods/res/200/?$rid=3"));
  EXPECT_FALSE(p.may_publish("devices/dev10/messages/events/"));
  EXPECT_FALSE(p.may_publish("devices/dev1/messages/devicebound/"));
  EXPECT_FALSE(p.may_publish("$iothub/twin/PATCH/properties/desired/?$version=1"));
  EXPECT_FALSE(p.may_publish("other"));
  EXPECT_TRUE(p.may_subscribe("devices/dev1/messages/devicebound/#"));
  EXPECT_TRUE(p.may_subscribe("devices/dev1/messages/devicebound/+"));
  EXPECT_TRUE(p.may_subscribe("$iothub/methods/POST/#"));
  EXPECT_TRUE(p.may_subscribe("$iothub/twin/res/#"));
  EXPECT_TRUE(p.may_subscribe("$iothub/twin/PATCH/properties/desired/#"));
  EXPECT_FALSE(p.may_subscribe("devices/dev2/messages/devicebound/#"));
  EXPECT_FALSE(p.may_subscribe("devices/+/messages/devicebound/#"));
  EXPECT_FALSE(p.may_subscribe("devices/#"));
  EXPECT_FALSE(p.may_subscribe("#"));
  EXPECT_FALSE(p.may_subscribe("$iothub/#"));
  EXPECT_FALSE(p.may_read_key("k"));
}

TEST(TwinDoc, MergePatchRules) {
  json s = new_section("t0", false);
  std::string why;
  ASSERT_TRUE(patch_section(s, json::parse(R"({"a":{"b":1,"c":null},"$version":99})"), "t1", false, why));
  EXPECT_EQ(s["a"], json::parse(R"({"b":1})"));                            // a null inside a new object is no value
  EXPECT_EQ(s["$version"], 2);                                             // "$"-keys of the patch are not properties
  EXPECT_FALSE(s["$metadata"]["a"]["b"].contains("$lastUpdatedVersion"));  // reported: only $lastUpdated
  ASSERT_TRUE(patch_section(s, json::parse(R"({"a":5})"), "t2", false, why));
  EXPECT_EQ(s["a"], 5);
  EXPECT_FALSE(patch_section(s, json::array(), "t3", false, why));
  EXPECT_EQ(without_metadata(s), json::parse(R"({"a":5,"$version":3})"));
  EXPECT_EQ(json_depth(json::parse(R"({"a":{"b":[{"c":1}]}})")), 4);
}

}  // namespace
}  // namespace edgemq::devices
