#include "auth/aio_policy.hpp"

#include <gtest/gtest.h>

#include "auth/key_glob.hpp"
#include "auth/topic_cover.hpp"

namespace edgemq::auth {
namespace {

std::shared_ptr<const aio_policy> parse_ok(const std::string& text) {
  std::string why;
  auto p = aio_policy::parse(text, why);
  EXPECT_TRUE(p) << why;
  return p;
}

std::string parse_error(const std::string& text) {
  std::string why;
  EXPECT_FALSE(aio_policy::parse(text, why)) << text;
  return why;
}

broker::principal who(std::string id, std::optional<std::string> user = std::nullopt,
                      broker::attribute_map attrs = {}) {
  return broker::principal{std::move(id), std::move(user), std::move(attrs)};
}

// One rule for `principals`, granting Connect plus `extra` resources.
std::string rule(const std::string& principals, const std::string& broker_extra, const std::string& keys = "") {
  std::string r = R"({"rules":[{"principals":)" + principals + R"(,"brokerResources":[{"method":"Connect"})";
  if (!broker_extra.empty()) r += "," + broker_extra;
  r += "]";
  if (!keys.empty()) r += R"(,"stateStoreResources":[)" + keys + "]";
  return r + "}]}";
}

TEST(AioPolicy, DefaultDenyWithoutAMatchingRule) {
  auto p = parse_ok(rule(R"({"usernames":["alice"]})", R"({"method":"Publish","topics":["a"]})"));
  EXPECT_EQ(p->on_connect(who("c1", "bob")), nullptr);
  EXPECT_EQ(p->on_connect(who("c1")), nullptr);  // anonymous: no username to match
  auto perms = p->on_connect(who("c1", "alice"));
  ASSERT_TRUE(perms);
  EXPECT_TRUE(perms->may_publish("a"));
  EXPECT_FALSE(perms->may_publish("b"));
  EXPECT_FALSE(perms->may_subscribe("a"));  // Publish does not grant Subscribe
  EXPECT_FALSE(perms->may_read_key("k"));
  EXPECT_FALSE(perms->may_write_key("k"));
}

TEST(AioPolicy, ConnectMustBeGranted) {
  auto p = parse_ok(R"({"rules":[{"principals":{"usernames":["alice"]},
                        "brokerResources":[{"method":"Publish","topics":["#"]}]}]})");
  EXPECT_EQ(p->on_connect(who("c1", "alice")), nullptr);
  auto empty = parse_ok(R"({"rules":[]})");
  EXPECT_EQ(empty->on_connect(who("c1", "alice")), nullptr);
}

TEST(AioPolicy, PrincipalsAreAnOrAndAttributesAnAndWithinOneMap) {
  auto p = parse_ok(rule(R"({"clientIds":["sensor-1"],"usernames":["bob"],
                             "attributes":[{"building":"17","organization":"contoso"}]})",
                         ""));
  EXPECT_TRUE(p->on_connect(who("sensor-1")));
  EXPECT_TRUE(p->on_connect(who("x", "bob")));
  EXPECT_TRUE(p->on_connect(who("x", std::nullopt, {{"building", "17"}, {"organization", "contoso"}, {"C", "DE"}})));
  EXPECT_FALSE(p->on_connect(who("x", std::nullopt, {{"building", "17"}})));
  EXPECT_FALSE(p->on_connect(who("sensor-10", "alice")));  // principals match exactly
}

TEST(AioPolicy, ClientIdToken) {
  auto p = parse_ok(rule(R"({"usernames":["u"]})", R"({"method":"Publish","topics":["clients/{principal.clientId}/#"]},
                                                     {"method":"Subscribe","topics":["cmd/{principal.clientId}"]})"));
  auto perms = p->on_connect(who("dev7", "u"));
  ASSERT_TRUE(perms);
  EXPECT_TRUE(perms->may_publish("clients/dev7/telemetry"));
  EXPECT_TRUE(perms->may_publish("clients/dev7"));
  EXPECT_FALSE(perms->may_publish("clients/dev8/telemetry"));
  EXPECT_TRUE(perms->may_subscribe("cmd/dev7"));
  EXPECT_FALSE(perms->may_subscribe("cmd/+"));
  // A client id that would widen the grant ('+', '#', '/') leaves the entry out for that client.
  auto wild = p->on_connect(who("#", "u"));
  ASSERT_TRUE(wild);
  EXPECT_FALSE(wild->may_publish("clients/x/y"));
  EXPECT_FALSE(wild->may_subscribe("cmd/#"));
  auto slash = p->on_connect(who("a/b", "u"));
  EXPECT_FALSE(slash->may_publish("clients/a/b/c"));
}

TEST(AioPolicy, UsernameToken) {
  auto p = parse_ok(
      rule(R"({"clientIds":["c1","c2"]})", R"({"method":"Publish","topics":["users/{principal.username}/+"]})"));
  auto perms = p->on_connect(who("c1", "alice"));
  EXPECT_TRUE(perms->may_publish("users/alice/x"));
  EXPECT_FALSE(perms->may_publish("users/bob/x"));
  auto anon = p->on_connect(who("c2"));  // no username: the entry is left out
  ASSERT_TRUE(anon);
  EXPECT_FALSE(anon->may_publish("users//x"));
}

TEST(AioPolicy, AttributeToken) {
  auto p = parse_ok(
      rule(R"({"attributes":[{"O":"contoso"}]})",
           R"({"method":"Publish","topics":["sensors/{principal.attributes.building}/{principal.clientId}/#"]})"));
  auto perms = p->on_connect(who("s1", "CN-x", {{"O", "contoso"}, {"building", "17"}}));
  ASSERT_TRUE(perms);
  EXPECT_TRUE(perms->may_publish("sensors/17/s1/temp"));
  EXPECT_FALSE(perms->may_publish("sensors/18/s1/temp"));
  auto no_building = p->on_connect(who("s1", std::nullopt, {{"O", "contoso"}}));
  ASSERT_TRUE(no_building);
  EXPECT_FALSE(no_building->may_publish("sensors/17/s1/temp"));
}

TEST(AioPolicy, SubscribeFilterMustBeCovered) {
  auto p =
      parse_ok(rule(R"({"usernames":["u"]})", R"({"method":"Subscribe","topics":["sensors/#","cmd/+/in","lit/a"]})"));
  auto perms = p->on_connect(who("c", "u"));
  EXPECT_TRUE(perms->may_subscribe("sensors/#"));
  EXPECT_TRUE(perms->may_subscribe("sensors"));
  EXPECT_TRUE(perms->may_subscribe("sensors/+/temp"));
  EXPECT_TRUE(perms->may_subscribe("cmd/x/in"));
  EXPECT_TRUE(perms->may_subscribe("cmd/+/in"));
  EXPECT_FALSE(perms->may_subscribe("cmd/#"));
  EXPECT_FALSE(perms->may_subscribe("cmd/+/+"));
  EXPECT_FALSE(perms->may_subscribe("#"));
  EXPECT_FALSE(perms->may_subscribe("+/a"));
  EXPECT_TRUE(perms->may_subscribe("lit/a"));
  EXPECT_FALSE(perms->may_subscribe("lit/+"));
}

TEST(AioPolicy, PublishWildcards) {
  auto p = parse_ok(rule(R"({"usernames":["u"]})", R"({"method":"Publish","topics":["a/#","+/x","b/+/c"]})"));
  auto perms = p->on_connect(who("c", "u"));
  for (const char* yes : {"a", "a/", "a/b/c", "z/x", "/x", "b/1/c", "b//c"})
    EXPECT_TRUE(perms->may_publish(yes)) << yes;
  for (const char* no : {"ab", "ab/c", "b/1/cd", "b/c", "z/y", "$SYS/x", "x"})
    EXPECT_FALSE(perms->may_publish(no)) << no;
}

TEST(TopicCover, Rules) {
  EXPECT_TRUE(filter_covers("#", "a/b/#"));
  EXPECT_TRUE(filter_covers("#", "+/x"));
  EXPECT_FALSE(filter_covers("#", "$SYS/#"));  // MQTT-4.7.2-1
  EXPECT_FALSE(filter_covers("+/#", "$SYS/x"));
  EXPECT_TRUE(filter_covers("$SYS/#", "$SYS/broker/+"));
  EXPECT_TRUE(filter_covers("a/+", "a/+"));
  EXPECT_FALSE(filter_covers("a/+", "a/#"));
  EXPECT_FALSE(filter_covers("a/+", "a"));
  EXPECT_TRUE(filter_covers("a/#", "a"));
  EXPECT_FALSE(filter_covers("a/b", "a/+"));
  EXPECT_FALSE(filter_covers("a/b/c", "a/b"));
  EXPECT_FALSE(filter_covers("a/b", "a/b/c"));
  EXPECT_TRUE(filter_covers("+/+/c", "x/+/c"));
}

TEST(AioPolicy, ClientIdsRestrictAResource) {
  auto p = parse_ok(R"({"rules":[{"principals":{"attributes":[{"building":"17"}]},
      "brokerResources":[{"method":"Connect","clientIds":["{principal.attributes.building}-*"]},
                         {"method":"Publish","topics":["p/#"],"clientIds":["*-gw"]}]}]})");
  const broker::attribute_map b17{{"building", "17"}};
  EXPECT_TRUE(p->on_connect(who("17-sensor", std::nullopt, b17)));
  EXPECT_FALSE(p->on_connect(who("18-sensor", std::nullopt, b17)));
  EXPECT_FALSE(p->on_connect(who("sensor", std::nullopt, b17)));
  auto gw = p->on_connect(who("17-gw", std::nullopt, b17));
  ASSERT_TRUE(gw);
  EXPECT_TRUE(gw->may_publish("p/x"));
  auto sensor = p->on_connect(who("17-s", std::nullopt, b17));
  ASSERT_TRUE(sensor);
  EXPECT_FALSE(sensor->may_publish("p/x"));
  // A substituted value is literal inside a pattern: an attribute "*" matches only "*".
  EXPECT_FALSE(p->on_connect(who("17-x", std::nullopt, {{"building", "*"}})));
}

TEST(AioPolicy, StateStoreKeyTypesAndMethods) {
  auto p = parse_ok(
      rule(R"({"usernames":["u"]})", "",
           R"({"method":"Read","keyType":"Pattern","keys":["myreadkey","other?","clients/{principal.clientId}/*"]},
                            {"method":"Write","keyType":"String","keys":["w*","{principal.username}-exact"]},
                            {"method":"ReadWrite","keyType":"Binary","keys":["AAH/"]})"));
  auto perms = p->on_connect(who("c[1]", "u"));
  ASSERT_TRUE(perms);
  EXPECT_TRUE(perms->may_read_key("myreadkey"));
  EXPECT_FALSE(perms->may_write_key("myreadkey"));
  EXPECT_TRUE(perms->may_read_key("other1"));
  EXPECT_FALSE(perms->may_read_key("other12"));
  EXPECT_TRUE(perms->may_read_key("clients/c[1]/x/y"));  // the client id's '[' is literal
  EXPECT_FALSE(perms->may_read_key("clients/c1/x"));
  EXPECT_TRUE(perms->may_write_key("w*"));  // String: exact, '*' is not a wildcard
  EXPECT_FALSE(perms->may_write_key("wx"));
  EXPECT_FALSE(perms->may_read_key("w*"));
  EXPECT_TRUE(perms->may_write_key("u-exact"));
  const std::string bin("\x00\x01\xff", 3);
  EXPECT_TRUE(perms->may_read_key(bin));
  EXPECT_TRUE(perms->may_write_key(bin));
  EXPECT_FALSE(perms->may_read_key("AAH/"));
}

TEST(KeyGlob, Syntax) {
  EXPECT_TRUE(glob_matches("a*c", "abbbc"));
  EXPECT_TRUE(glob_matches("a*", "a"));
  EXPECT_TRUE(glob_matches("*", ""));
  EXPECT_FALSE(glob_matches("a?", "a"));
  EXPECT_TRUE(glob_matches("k[0-9]", "k5"));
  EXPECT_FALSE(glob_matches("k[0-9]", "kx"));
  EXPECT_TRUE(glob_matches("k[!0-9]", "kx"));
  EXPECT_TRUE(glob_matches("a\\*", "a*"));
  EXPECT_FALSE(glob_matches("a\\*", "ab"));
  EXPECT_TRUE(glob_matches(glob_escape("x*?[]\\"), "x*?[]\\"));
  EXPECT_FALSE(valid_glob("a[b"));
  EXPECT_FALSE(valid_glob("a\\"));
  EXPECT_TRUE(glob_matches("*a*a*a*a*a*b", std::string(2000, 'a') + "b"));
}

TEST(AioPolicy, AcceptsTheAuthorizationPoliciesWrapperAndCache) {
  parse_ok(R"({"authorizationPolicies":{"cache":"Enabled","rules":[{"principals":{"usernames":["u"]},
              "brokerResources":[{"method":"Connect"}]}]}})");
}

TEST(AioPolicy, ErrorsNameTheJsonPath) {
  EXPECT_NE(parse_error("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error(R"({"rulez":[]})").find("at /: must be an object with \"rules\""), std::string::npos);
  EXPECT_NE(parse_error(R"({"rules":[{"principals":{"usernames":["u"]},"brokerResources":[{"method":"Pub"}]}]})")
                .find("at /rules/0/brokerResources/0/method: must be \"Connect\", \"Publish\" or \"Subscribe\""),
            std::string::npos);
  EXPECT_NE(parse_error(rule(R"({"usernames":["u"]})", R"({"method":"Publish","topics":["a/#/b"]})"))
                .find("at /rules/0/brokerResources/1/topics/0: not a valid MQTT topic filter"),
            std::string::npos);
  EXPECT_NE(parse_error(rule(R"({"usernames":["u"]})", R"({"method":"Publish","topics":["c-{principal.clientId}/#"]})"))
                .find("at /rules/0/brokerResources/1/topics/0: a {principal...} token must be a whole topic level"),
            std::string::npos);
  EXPECT_NE(parse_error(rule(R"({"usernames":["u"]})", R"({"method":"Publish","topics":["{principal.name}"]})"))
                .find("unknown token '{principal.name}'"),
            std::string::npos);
  EXPECT_NE(parse_error(rule(R"({"usernames":["u"]})", "", R"({"method":"Read","keyType":"Binary","keys":["!!"]})"))
                .find("at /rules/0/stateStoreResources/0/keys/0: must be the key's bytes in standard base64"),
            std::string::npos);
  EXPECT_NE(parse_error(rule(R"({"usernames":["u"]})", "", R"({"method":"Erase","keyType":"String","keys":["k"]})"))
                .find("at /rules/0/stateStoreResources/0/method"),
            std::string::npos);
  EXPECT_NE(parse_error(rule(R"({})", "")).find("at /rules/0/principals: names nobody"), std::string::npos);
  EXPECT_NE(
      parse_error(
          R"({"rules":[{"principals":{"usernames":["u"]},"brokerResources":[{"method":"Connect","topics":["a"]}]}]})")
          .find("at /rules/0/brokerResources/0/topics: not allowed for Connect"),
      std::string::npos);
  EXPECT_NE(
      parse_error(rule(R"({"usernames":["u"],"groups":["g"]})", "")).find("at /rules/0/principals/groups: unknown key"),
      std::string::npos);
}

}  // namespace
}  // namespace edgemq::auth
