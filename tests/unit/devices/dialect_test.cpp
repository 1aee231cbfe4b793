// The IoT Hub dialect's text formats: SAS tokens (signatures computed with the openssl CLI),
// property bags, query strings, usernames, device ids.
#include "devices/dialect.hpp"

#include <gtest/gtest.h>

#include "devices/hub.hpp"
#include "sas_cli.hpp"

namespace edgemq::devices {
namespace {

const std::string key = "dGhpcyBpcyBhIHRlc3Qga2V5IG9mIDMyIGJ5dGVzISE=";

TEST(Sas, VerifiesTheDeviceSdkShapeSignedOverTheEncodedResource) {
  const std::string sr = "myhub.local%2Fdevices%2Fdev1";  // URL-encoded, as the device SDK sends it
  const std::string se = "4102444800";                    // 2100-01-01
  const auto sig = openssl_sig(key, sr + "\n" + se);
  ASSERT_FALSE(sig.empty());
  const auto t = parse_sas_token("SharedAccessSignature sr=" + sr + "&sig=" + url_encode(sig) + "&se=" + se);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->sr, sr);
  EXPECT_EQ(t->sig, sig);
  EXPECT_TRUE(verify_sas(*t, key, 1'700'000'000));
  EXPECT_FALSE(verify_sas(*t, key, 4102444800));  // expired at se
  EXPECT_FALSE(verify_sas(*t, "b3RoZXIga2V5IG9mIDMyIGJ5dGVzIGZvciB0ZXN0aW5nIQ==", 1'700'000'000));
  auto tampered = *t;
  tampered.sr = "myhub.local/devices/dev1";  // decoded: not what was signed
  EXPECT_FALSE(verify_sas(tampered, key, 1'700'000'000));
}

TEST(Sas, RejectsMalformedTokens) {
  EXPECT_FALSE(parse_sas_token("sr=a&sig=b&se=1"));
  EXPECT_FALSE(parse_sas_token("SharedAccessSignature sr=a&se=1"));
  EXPECT_FALSE(parse_sas_token("SharedAccessSignature sr=a&sig=%zz&se=1"));
}

TEST(PropertyBag, ParsesTheSdkEncoding) {
  const auto bag = parse_property_bag("%24.mid=m1&%24.ct=application%2Fjson&temp%20alert=a%26b&flag");
  ASSERT_TRUE(bag);
  ASSERT_EQ(bag->size(), 4u);
  EXPECT_EQ((*bag)[0], (std::pair<std::string, std::string>{"$.mid", "m1"}));
  EXPECT_EQ((*bag)[1], (std::pair<std::string, std::string>{"$.ct", "application/json"}));
  EXPECT_EQ((*bag)[2], (std::pair<std::string, std::string>{"temp alert", "a&b"}));
  EXPECT_EQ((*bag)[3], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_TRUE(parse_property_bag("")->empty());
  EXPECT_FALSE(parse_property_bag("a=%2"));
}

TEST(PropertyBag, RoundTripsThroughMake) {
  const property_list props{{"$.mid", "x/y"}, {"k", "v w&z=1"}};
  EXPECT_EQ(make_property_bag(props), "%24.mid=x%2Fy&k=v%20w%26z%3D1");
  EXPECT_EQ(*parse_property_bag(make_property_bag(props)), props);
}

TEST(Query, FindsRidAndVersion) {
  EXPECT_EQ(query_value("?$rid=5", "$rid"), "5");
  EXPECT_EQ(query_value("$rid=7&$version=3", "$version"), "3");
  EXPECT_FALSE(query_value("$rid=7", "$version"));
}

TEST(Username, DeviceAndModuleShapes) {
  auto u = parse_device_username("hub.local/dev-1/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->hostname, "hub.local");
  EXPECT_EQ(u->device_id, "dev-1");
  EXPECT_EQ(u->module_id, "");
  u = parse_device_username("hub.local/dev-1/mod/?api-version=x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->module_id, "mod");
  EXPECT_FALSE(parse_device_username("alice"));
  EXPECT_FALSE(parse_device_username("hub.local/?api-version=x"));
  EXPECT_FALSE(parse_device_username("hub.local/dev+1/?api-version=x"));
  EXPECT_FALSE(parse_device_username("hub.local/a/b/c/?api-version=x"));
}

TEST(DeviceId, Rules) {
  EXPECT_TRUE(valid_device_id("abc-DEF_1.2:3@x$'"));
  EXPECT_FALSE(valid_device_id(""));
  EXPECT_FALSE(valid_device_id("a/b"));
  EXPECT_FALSE(valid_device_id("a#"));
  EXPECT_FALSE(valid_device_id(std::string(129, 'a')));
}

TEST(Formats, KeysEtagsTimes) {
  EXPECT_EQ(random_key().size(), 44u);  // 32 bytes
  EXPECT_NE(random_key(), random_key());
  EXPECT_EQ(etag_of(1), "AAAAAAAAAAE=");
  EXPECT_EQ(iso8601(1'700'000'000'123), "2023-11-14T22:13:20.1230000Z");
}

}  // namespace
}  // namespace edgemq::devices
