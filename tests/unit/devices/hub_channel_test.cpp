// The hub behind real client_channels (no sockets): device CONNECTs decided by the hub, the
// `$iothub/...` requests answered to the requesting client only, desired changes pushed at once,
// direct methods round trip / timeout / only from the device asked, cloud-to-device with its
// property bag, connection state, and disabling or deleting a device closing its connection.
#include <future>
#include <map>

#include <gtest/gtest.h>

#include "../broker/channel_output.hpp"
#include "devices/device_hub.hpp"
#include "devices/dialect.hpp"
#include "sas_cli.hpp"

namespace edgemq::devices {
namespace {

using json = nlohmann::json;
using broker::testing::take_packets;

// Records kicks (the broker closing the connection) besides notifications.
struct recording_link : broker::link {
  int notified = 0;
  std::vector<mqtt::reason_code> kicks;
  void notify() override { ++notified; }
  void kick(mqtt::reason_code why) override { kicks.push_back(why); }
};

struct device_client {
  std::shared_ptr<recording_link> l = std::make_shared<recording_link>();
  broker::client_channel ch;
  mqtt::protocol_version v;
  device_client(broker::broker& b, mqtt::protocol_version ver) : ch(b, l, nullptr), v(ver) {}
  void send(const mqtt::packet& p) {
    std::string bytes;
    mqtt::encode(p, v, bytes);
    ch.on_data({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, broker::clock::now());
  }
  std::vector<mqtt::packet> received() { return take_packets(ch, l->notified, v); }
  std::vector<mqtt::publish> publishes() {
    std::vector<mqtt::publish> out;
    for (auto& p : received())
      if (auto* pub = std::get_if<mqtt::publish>(&p)) out.push_back(*pub);
    return out;
  }
  void publish(std::string topic, std::string payload) {
    mqtt::publish p;
    p.topic = std::move(topic);
    p.payload = std::move(payload);
    send(p);
  }
};

class HubChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_.start({});  // in memory
    key1_ = create("dev1");
    key2_ = create("dev2");
  }
  void TearDown() override {
    for (auto& c : clients_) c->ch.on_close(broker::clock::now());
  }
  std::string create(const std::string& id) {
    device d;
    d.device_id = id;
    std::string key;
    hub_.put_device(d, {}, [&](status, device r) { key = r.primary_key; });
    return key;
  }
  device_client& connect(const std::string& id, const std::string& key,
                         mqtt::protocol_version v = mqtt::protocol_version::v311,
                         mqtt::reason_code expect = mqtt::reason_code::success) {
    clients_.push_back(std::make_unique<device_client>(core_, v));
    auto& c = *clients_.back();
    mqtt::connect con;
    con.version = v;
    con.client_id = id;
    con.clean_start = true;
    con.username = "hub.local/" + id + "/?api-version=2021-04-12";
    const auto sr = url_encode("hub.local/devices/" + id);
    const auto se = std::to_string(statestore::system_wall_ms() / 1000 + 3600);
    con.password =
        "SharedAccessSignature sr=" + sr + "&sig=" + url_encode(openssl_sig(key, sr + "\n" + se)) + "&se=" + se;
    c.send(con);
    auto ps = c.received();
    EXPECT_FALSE(ps.empty());
    if (!ps.empty()) EXPECT_EQ(std::get<mqtt::connack>(ps[0]).code, expect);
    return c;
  }
  void subscribe(device_client& c, std::string filter, mqtt::qos q = mqtt::qos::at_most_once) {
    mqtt::subscribe s;
    s.packet_id = 1;
    s.entries.push_back({std::move(filter), {q}});
    c.send(s);
    c.received();
  }

  broker::broker core_{broker::limits{}};
  device_hub hub_{core_, hub_options{"hub.local", {}}, nullptr};
  std::string key1_, key2_;
  std::vector<std::unique_ptr<device_client>> clients_;
};

TEST_F(HubChannelTest, TwinRequestsAreAnsweredToTheRequestingClientOnly) {
  auto& d1 = connect("dev1", key1_);
  auto& d2 = connect("dev2", key2_);
  subscribe(d2, "$iothub/twin/res/#");
  EXPECT_TRUE(hub_.get_device("dev1")->connected);
  d1.publish("$iothub/twin/GET/?$rid=7", " ");
  auto got = d1.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "$iothub/twin/res/200/?$rid=7");
  EXPECT_EQ(json::parse(got[0].payload), json::parse(R"({"desired":{"$version":1},"reported":{"$version":1}})"));
  d1.publish("$iothub/twin/PATCH/properties/reported/?$rid=8", R"({"fw":"2.0"})");
  got = d1.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "$iothub/twin/res/204/?$rid=8&$version=2");
  EXPECT_EQ(hub_.get_twin("dev1")->reported["fw"], "2.0");
  EXPECT_TRUE(d2.publishes().empty());  // subscribed to $iothub/twin/res/#, yet sees nothing of dev1's
}

TEST_F(HubChannelTest, DesiredChangesArePushedAtOnceToAConnectedDevice) {
  auto& d1 = connect("dev1", key1_);
  status st = status::unavailable;
  hub_.patch_twin("dev1", json::parse(R"({"properties":{"desired":{"rate":3}}})"), "*",
                  [&](status s, twin) { st = s; });
  ASSERT_EQ(st, status::ok);
  auto got = d1.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "$iothub/twin/PATCH/properties/desired/?$version=2");
  EXPECT_EQ(json::parse(got[0].payload), json::parse(R"({"rate":3,"$version":2})"));
}

TEST_F(HubChannelTest, DirectMethodRoundTripAnsweredOnlyByTheDeviceAsked) {
  auto& d1 = connect("dev1", key1_);
  auto& d2 = connect("dev2", key2_);
  std::promise<std::pair<status, method_response>> p;
  hub_.invoke_method({"dev1", "reboot", json{{"delay", 5}}, std::chrono::seconds(30)},
                     [&](status s, method_response r) {
                       p.set_value({s, std::move(r)});
                     });
  auto got = d1.publishes();
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].topic.starts_with("$iothub/methods/POST/reboot/?$rid="));
  EXPECT_EQ(json::parse(got[0].payload), json::parse(R"({"delay":5})"));
  const auto rid = *query_value(got[0].topic.substr(got[0].topic.find('?')), "$rid");
  d2.publish("$iothub/methods/res/500/?$rid=" + rid, R"({"forged":true})");  // not the device asked
  auto f = p.get_future();
  EXPECT_EQ(f.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  d1.publish("$iothub/methods/res/200/?$rid=" + rid, R"({"rebooting":true})");
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const auto [st, r] = f.get();
  EXPECT_EQ(st, status::ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.payload, json::parse(R"({"rebooting":true})"));
}

TEST_F(HubChannelTest, DirectMethodWithoutAnswerTimesOut) {
  connect("dev1", key1_);
  std::promise<status> p;
  const auto t0 = std::chrono::steady_clock::now();
  hub_.invoke_method({"dev1", "slow", {}, std::chrono::seconds(1)}, [&](status s, method_response) { p.set_value(s); });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get(), status::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
}

TEST_F(HubChannelTest, CloudToDeviceCarriesItsPropertyBagAndExpiry) {
  auto& d1 = connect("dev1", key1_, mqtt::protocol_version::v5);
  subscribe(d1, "devices/dev1/messages/devicebound/#", mqtt::qos::at_least_once);
  c2d_message m;
  m.payload = "hello";
  m.properties = {{"k", "v w"}};
  m.message_id = "m1";
  m.expiry = std::chrono::seconds(60);
  ASSERT_EQ(hub_.send_c2d("dev1", m), status::ok);
  auto got = d1.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic,
            "devices/dev1/messages/devicebound/k=v%20w&%24.mid=m1&%24.to=%2Fdevices%2Fdev1%2Fmessages%2Fdevicebound");
  EXPECT_EQ(got[0].qos, mqtt::qos::at_least_once);
  EXPECT_EQ(got[0].payload, "hello");
  ASSERT_TRUE(got[0].props.message_expiry_interval);
  EXPECT_LE(*got[0].props.message_expiry_interval, 60u);
  EXPECT_EQ(got[0].props.user_properties.front(), (mqtt::user_property{"k", "v w"}));
  // No properties: the '/' after devicebound is still there.
  c2d_message bare;
  bare.payload = "x";
  hub_.send_c2d("dev1", bare);
  got = d1.publishes();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].topic.starts_with("devices/dev1/messages/devicebound/"));
}

TEST_F(HubChannelTest, DisablingOrDeletingADeviceClosesItsConnection) {
  auto& d1 = connect("dev1", key1_);
  auto& d2 = connect("dev2", key2_);
  auto d = *hub_.get_device("dev1");
  d.enabled = false;
  hub_.put_device(d, "*", [](status, device) {});
  ASSERT_EQ(d1.l->kicks.size(), 1u);
  EXPECT_EQ(d1.l->kicks[0], mqtt::reason_code::not_authorized);
  connect("dev1", key1_, mqtt::protocol_version::v311, mqtt::reason_code::not_authorized);
  hub_.delete_device("dev2", {}, [](status) {});
  EXPECT_FALSE(d2.l->kicks.empty());
  EXPECT_FALSE(hub_.get_device("dev2"));
}

TEST_F(HubChannelTest, TheConnectionEndsWhenItsSasTokenExpires) {
  auto& d1 = connect("dev1", key1_);  // a token valid for 3600 s
  const auto left = d1.ch.credentials_expiry() - broker::clock::now();
  EXPECT_GT(left, std::chrono::seconds(3590));
  EXPECT_LE(left, std::chrono::seconds(3600));
  EXPECT_EQ(d1.ch.timer_expired(broker::clock::now() + std::chrono::seconds(3601)),
            mqtt::reason_code::maximum_connect_time);
}

// Events are routed like any message; clients cannot subscribe to $edgemq/... yet (the lifecycle
// events work opens it), so the watcher's subscription is put into the index directly.
TEST_F(HubChannelTest, LifecycleEventsArePublished) {
  clients_.push_back(std::make_unique<device_client>(core_, mqtt::protocol_version::v5));
  auto& watcher = *clients_.back();
  mqtt::connect con;
  con.client_id = "watcher";
  watcher.send(con);
  watcher.received();
  core_.subscriptions().subscribe("$edgemq/events/devices/#",
                                  {core_.sessions().find("watcher").get(), {mqtt::qos::at_least_once}, 0});
  const auto events = [&] {
    std::vector<std::pair<std::string, json>> out;
    for (auto& p : watcher.publishes()) out.emplace_back(p.topic, json::parse(p.payload));
    return out;
  };
  create("dev3");
  auto& d3 = connect("dev3", hub_.get_device("dev3")->primary_key);
  d3.publish("$iothub/twin/PATCH/properties/reported/?$rid=1", R"({"a":1})");
  d3.ch.on_close(broker::clock::now());
  hub_.delete_device("dev3", {}, [](status) {});
  auto got = events();
  std::vector<std::string> topics;
  for (auto& [t, body] : got) {
    topics.push_back(t);
    EXPECT_EQ(body["deviceId"], "dev3");
    EXPECT_TRUE(body.contains("time"));
  }
  EXPECT_EQ(topics, (std::vector<std::string>{
                        "$edgemq/events/devices/dev3/created", "$edgemq/events/devices/dev3/connected",
                        "$edgemq/events/devices/dev3/twinChanged", "$edgemq/events/devices/dev3/disconnected",
                        "$edgemq/events/devices/dev3/deleted"}));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[2].second["properties"]["reported"], json::parse(R"({"a":1})"));
  EXPECT_EQ(got[1].second["event"], "connected");
}

TEST_F(HubChannelTest, ConnectionStateFollowsTheConnection) {
  auto& d1 = connect("dev1", key1_);
  EXPECT_TRUE(hub_.get_device("dev1")->connected);
  EXPECT_GT(hub_.get_device("dev1")->last_activity_ms, 0u);
  d1.ch.on_close(broker::clock::now());
  EXPECT_FALSE(hub_.get_device("dev1")->connected);
  std::promise<status> p;
  hub_.invoke_method({"dev1", "m", {}, std::chrono::seconds(5)}, [&](status s, method_response) { p.set_value(s); });
  EXPECT_EQ(p.get_future().get(), status::device_offline);
}

}  // namespace
}  // namespace edgemq::devices
