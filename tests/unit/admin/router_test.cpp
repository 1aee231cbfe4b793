// The admin routes without sockets: status codes, JSON error bodies, the token, query checks,
// the client list and disconnect against a real broker core.
#include "admin/router.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "broker/broker.hpp"

namespace edgemq::admin {
namespace {

using json = nlohmann::json;

struct fake_link : broker::link {
  void notify() override {}
  void kick(mqtt::reason_code why) override { kicked.push_back(why); }
  std::vector<mqtt::reason_code> kicked;
};

class RouterTest : public ::testing::Test {
 protected:
  broker::broker core{broker::limits{}};
  readiness ready{true, true, true};
  admin_context ctx{core,
                    [] { return std::vector<std::string>{"127.0.0.1:1883"}; },
                    "1.2.3",
                    "",
                    [this] { return ready; },
                    {},
                    {},
                    "commands/{clientId}/{name}",
                    {}};

  // Runs a deferred response to its end with the completion called synchronously by the fakes.
  static http_response settle(http_response r) {
    if (!r.deferred) return r;
    http_response out = r;  // the timeout answer unless the operation completes
    out.deferred.reset();
    r.deferred->start([&out](http_response done) { out = std::move(done); });
    return out;
  }

  http_response get(const std::string& target, const std::string& auth = "") {
    return handle(ctx, {"GET", target, auth, "", ""});
  }
  static json body(const http_response& r) { return json::parse(r.body); }
  static void expect_error(const http_response& r, unsigned status, const std::string& code) {
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.content_type, "application/json");
    const auto j = body(r);
    EXPECT_EQ(j.at("code"), code);
    EXPECT_TRUE(j.at("message").is_string());
  }
  std::shared_ptr<fake_link> connect(const std::string& id, std::optional<std::string> user = std::nullopt) {
    auto l = std::make_shared<fake_link>();
    core.sessions().attach(id, true, 0, l,
                           {.username = user ? std::make_shared<const std::string>(*user) : nullptr,
                            .connected_at_ms = 1,
                            .version = mqtt::protocol_version::v311,
                            .clean_start = true});
    return l;
  }
};

TEST_F(RouterTest, Healthz) {
  const auto r = get("/healthz");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(body(r), json({{"status", "ok"}}));
}

TEST_F(RouterTest, ReadyzFollowsReadiness) {
  EXPECT_EQ(get("/readyz").status, 200u);
  EXPECT_EQ(body(get("/readyz")).at("ready"), true);
  ready.started = false;
  EXPECT_EQ(get("/readyz").status, 503u);
  ready = {true, false, true};
  const auto r = get("/readyz");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(body(r).at("checks").at("persistence"), false);
}

TEST_F(RouterTest, UnknownPathsMethodsAndTargets) {
  expect_error(get("/nope"), 404, "not_found");
  expect_error(get("/api/v1"), 404, "not_found");
  const auto r = handle(ctx, {"POST", "/metrics", "", "", ""});
  expect_error(r, 405, "method_not_allowed");
  EXPECT_EQ(r.allow, "GET");
  EXPECT_EQ(handle(ctx, {"PUT", "/api/v1/clients/x", "", "", ""}).allow, "GET, DELETE");
  expect_error(get("/api/v1/clients?limit=%zz"), 400, "bad_target");
  expect_error(get("nopath"), 400, "bad_target");
  expect_error(get("/" + std::string(5000, 'a')), 414, "uri_too_long");
}

TEST_F(RouterTest, TokenRequiredExceptForProbes) {
  ctx.token = "s3cret";
  auto r = get("/metrics");
  expect_error(r, 401, "unauthorized");
  EXPECT_TRUE(r.authenticate);
  expect_error(get("/api/v1/broker", "Bearer wrong"), 401, "unauthorized");
  expect_error(get("/api/v1/broker", "Bearer s3cret2"), 401, "unauthorized");
  expect_error(get("/api/v1/broker", "Basic s3cret"), 401, "unauthorized");
  EXPECT_EQ(get("/api/v1/broker", "Bearer s3cret").status, 200u);
  EXPECT_EQ(get("/api/v1/broker", "bearer s3cret").status, 200u);
  EXPECT_EQ(get("/healthz").status, 200u);
  EXPECT_EQ(get("/readyz").status, 200u);
}

TEST_F(RouterTest, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST_F(RouterTest, MetricsIsPrometheusText) {
  const auto r = get("/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("# TYPE edgemq_messages_received_total counter"), std::string::npos);
}

TEST_F(RouterTest, BrokerInfo) {
  const auto j = body(get("/api/v1/broker"));
  EXPECT_EQ(j.at("version"), "1.2.3");
  EXPECT_EQ(j.at("listeners"), json::array({"127.0.0.1:1883"}));
  EXPECT_EQ(j.at("counters").at("messages/received"), 0);
  EXPECT_TRUE(j.at("uptime_seconds").is_number_integer());
}

TEST_F(RouterTest, ClientsListFilterAndPages) {
  auto a = connect("dev-1", "alice");
  auto b = connect("dev-2");
  auto c = connect("other");
  auto j = body(get("/api/v1/clients"));
  ASSERT_EQ(j.at("clients").size(), 3u);
  EXPECT_EQ(j.at("clients")[0].at("client_id"), "dev-1");
  EXPECT_EQ(j.at("clients")[0].at("username"), "alice");
  EXPECT_EQ(j.at("clients")[0].at("protocol_version"), "3.1.1");
  EXPECT_EQ(j.at("clients")[0].at("listener"), "127.0.0.1:1883");
  EXPECT_TRUE(j.at("clients")[1].at("username").is_null());
  EXPECT_TRUE(j.at("next").is_null());

  j = body(get("/api/v1/clients?prefix=dev-&limit=1"));
  ASSERT_EQ(j.at("clients").size(), 1u);
  EXPECT_EQ(j.at("clients")[0].at("client_id"), "dev-1");
  EXPECT_EQ(j.at("next"), "dev-1");
  j = body(get("/api/v1/clients?prefix=dev-&limit=1&after=dev-1"));
  ASSERT_EQ(j.at("clients").size(), 1u);
  EXPECT_EQ(j.at("clients")[0].at("client_id"), "dev-2");
  EXPECT_TRUE(j.at("next").is_null());

  expect_error(get("/api/v1/clients?limit=0"), 400, "bad_query");
  expect_error(get("/api/v1/clients?limit=1001"), 400, "bad_query");
  expect_error(get("/api/v1/clients?limit=abc"), 400, "bad_query");
  expect_error(get("/api/v1/clients?colour=red"), 400, "bad_query");
}

TEST_F(RouterTest, DeleteClientDisconnects) {
  auto l = connect("a/b c");
  const auto r = handle(ctx, {"DELETE", "/api/v1/clients/a%2Fb%20c", "", "", ""});
  EXPECT_EQ(r.status, 204u);
  EXPECT_TRUE(r.body.empty());
  ASSERT_EQ(l->kicked.size(), 1u);
  EXPECT_EQ(l->kicked[0], mqtt::reason_code::administrative_action);
  expect_error(handle(ctx, {"DELETE", "/api/v1/clients/nobody", "", "", ""}), 404, "client_not_found");
}

TEST_F(RouterTest, ClientDetailShowsSessionAndSubscriptions) {
  auto l = std::make_shared<fake_link>();
  auto a = core.sessions().attach("dev/1", false, 300, l,
                                  {.username = std::make_shared<const std::string>("alice"), .connected_at_ms = 7});
  {
    auto sl = a.s->lock();
    mqtt::subscribe_options o;
    o.qos = mqtt::qos::at_least_once;
    o.no_local = true;
    a.s->subscriptions_.insert_or_assign("cmd/#", broker::subscription_record{o, 9});
  }
  auto j = body(get("/api/v1/clients/dev%2F1"));
  EXPECT_EQ(j.at("connected"), true);
  EXPECT_EQ(j.at("username"), "alice");
  EXPECT_EQ(j.at("session").at("clean_start"), false);
  EXPECT_EQ(j.at("session").at("expiry_interval"), 300);
  ASSERT_EQ(j.at("subscriptions").size(), 1u);
  EXPECT_EQ(j.at("subscriptions")[0].at("filter"), "cmd/#");
  EXPECT_EQ(j.at("subscriptions")[0].at("qos"), 1);
  EXPECT_EQ(j.at("subscriptions")[0].at("no_local"), true);
  EXPECT_EQ(j.at("subscriptions")[0].at("subscription_id"), 9);
  // Offline, the session (with its expiry) is still described.
  core.sessions().detach(a.s, l.get(), core.now());
  j = body(get("/api/v1/clients/dev%2F1"));
  EXPECT_EQ(j.at("connected"), false);
  EXPECT_EQ(j.at("subscriptions").size(), 1u);
  expect_error(get("/api/v1/clients/nobody"), 404, "client_not_found");
}

TEST_F(RouterTest, RetainedListPagesAndDeletes) {
  for (const auto* t : {"r/a", "r/b", "r/c", "other"}) {
    auto m = std::make_shared<broker::message>();
    m->topic = t;
    m->payload = std::string(t) == "r/b" ? std::string("\xFF\x01", 2) : "on";
    m->retain = true;
    m->qos = mqtt::qos::at_least_once;
    core.retained().put(m);
  }
  auto j = body(get("/api/v1/retained?filter=r/%2B&limit=2"));
  ASSERT_EQ(j.at("items").size(), 2u);
  EXPECT_EQ(j.at("items")[0].at("topic"), "r/a");
  EXPECT_EQ(j.at("items")[0].at("payload"), "on");
  EXPECT_EQ(j.at("items")[0].at("encoding"), "utf-8");
  EXPECT_EQ(j.at("items")[0].at("qos"), 1);
  EXPECT_EQ(j.at("items")[1].at("encoding"), "base64");
  EXPECT_EQ(j.at("items")[1].at("payload"), "/wE=");
  EXPECT_EQ(j.at("next"), "r/b");
  j = body(get("/api/v1/retained?filter=r/%2B&after=r/b"));
  ASSERT_EQ(j.at("items").size(), 1u);
  EXPECT_EQ(j.at("items")[0].at("topic"), "r/c");
  EXPECT_TRUE(j.at("next").is_null());
  EXPECT_EQ(body(get("/api/v1/retained")).at("items").size(), 4u);  // filter defaults to '#'
  expect_error(get("/api/v1/retained?filter=a/%23/b"), 400, "bad_query");
  EXPECT_EQ(handle(ctx, {"DELETE", "/api/v1/retained/r%2Fa", "", "", ""}).status, 204u);
  expect_error(handle(ctx, {"DELETE", "/api/v1/retained/r/a", "", "", ""}), 404, "retained_not_found");
  EXPECT_EQ(core.retained().size(), 3u);
}

TEST_F(RouterTest, StatestoreRoutesReachTheHook) {
  expect_error(get("/api/v1/statestore/keys"), 404, "statestore_disabled");
  std::vector<kv_request> seen;
  kv_reply next;
  ctx.statestore = [&](kv_request r, std::function<void(kv_reply)> done) {
    seen.push_back(r);
    done(next);
  };
  next.items = {{"k/1", "v", "1:0:n"}};
  auto r = settle(handle(ctx, {"PUT", "/api/v1/statestore/keys/k%2F1", "", "application/json",
                               R"({"value":"/w==","encoding":"base64"})"}));
  EXPECT_EQ(r.status, 200u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].op, kv_request::verb::put);
  EXPECT_EQ(seen[0].key, "k/1");
  EXPECT_EQ(seen[0].value, "\xFF");
  EXPECT_EQ(body(r), json({{"key", "k/1"}, {"value", "v"}, {"encoding", "utf-8"}, {"version", "1:0:n"}}));
  next = {kv_reply::status::unavailable, {}, false, "disk full"};
  expect_error(settle(handle(ctx, {"DELETE", "/api/v1/statestore/keys/k", "", "", ""})), 503, "storage_unavailable");
  next = {kv_reply::status::not_found, {}, false, ""};
  expect_error(settle(get("/api/v1/statestore/keys/k")), 404, "key_not_found");
  next = {kv_reply::status::ok, {{"a", "1", "v"}, {"b", std::string("\xFF"), "v"}}, true, ""};
  auto page = body(settle(get("/api/v1/statestore/keys?prefix=a&limit=2")));
  EXPECT_EQ(seen.back().op, kv_request::verb::list);
  EXPECT_EQ(seen.back().prefix, "a");
  EXPECT_EQ(seen.back().limit, 2u);
  EXPECT_EQ(page.at("items")[1].at("encoding"), "base64");
  EXPECT_EQ(page.at("next"), "Yg==");
  expect_error(handle(ctx, {"PUT", "/api/v1/statestore/keys/k", "", "application/json", R"({"value":1})"}), 400,
               "bad_body");
  expect_error(handle(ctx, {"PUT", "/api/v1/statestore/keys/k", "", "text/plain", "x"}), 415, "unsupported_media_type");
}

TEST_F(RouterTest, CommandsPublishToTheTemplateAndAnswerWhatTheDeviceSaid) {
  std::vector<command_request> seen;
  bool answer = true;
  ctx.command = [&](command_request r, std::function<void(command_reply)> done) -> std::function<void()> {
    seen.push_back(r);
    if (answer) done({"ok", "text/plain", {{"a", "1"}}});
    return {};
  };
  auto l = connect("dev/7");
  auto r = settle(handle(ctx, {"POST", "/api/v1/clients/dev%2F7/commands/reboot", "", "application/json",
                               R"({"payload":{"n":1},"timeout_ms":500,"user_properties":{"k":"v"}})"}));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(body(r), json({{"payload", "ok"},
                           {"encoding", "utf-8"},
                           {"user_properties", {{"a", "1"}}},
                           {"content_type", "text/plain"}}));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].topic, "commands/dev/7/reboot");
  EXPECT_EQ(seen[0].payload, R"({"n":1})");
  EXPECT_EQ(seen[0].content_type, "application/json");
  EXPECT_EQ(seen[0].timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(seen[0].properties, (user_properties{{"k", "v"}}));
  answer = false;
  expect_error(settle(handle(ctx, {"POST", "/api/v1/clients/dev%2F7/commands/x", "", "", ""})), 504, "timeout");
  EXPECT_EQ(seen.back().timeout, std::chrono::milliseconds(10000));  // the default
  expect_error(handle(ctx, {"POST", "/api/v1/clients/nobody/commands/x", "", "", ""}), 404, "not_connected");
  expect_error(handle(ctx, {"POST", "/api/v1/clients/dev%2F7/commands/a%2Fb", "", "", ""}), 400, "bad_target");
  expect_error(
      handle(ctx, {"POST", "/api/v1/clients/dev%2F7/commands/x", "", "application/json", R"({"timeout_ms":300001})"}),
      400, "bad_body");
  expect_error(handle(ctx, {"POST", "/api/v1/clients/dev%2F7/commands/x", "", "application/json", R"({"bogus":1})"}),
               400, "bad_body");
}

TEST_F(RouterTest, DeleteSessionKicksAndEnds) {
  auto l = std::make_shared<fake_link>();
  core.sessions().attach("s1", false, 300, l, {});
  EXPECT_EQ(handle(ctx, {"DELETE", "/api/v1/sessions/s1", "", "", ""}).status, 204u);
  ASSERT_EQ(l->kicked.size(), 1u);
  EXPECT_EQ(l->kicked[0], mqtt::reason_code::administrative_action);
  EXPECT_EQ(core.sessions().find("s1"), nullptr);
  expect_error(handle(ctx, {"DELETE", "/api/v1/sessions/s1", "", "", ""}), 404, "session_not_found");
  expect_error(handle(ctx, {"GET", "/api/v1/sessions/s1", "", "", ""}), 405, "method_not_allowed");
}

}  // namespace
}  // namespace edgemq::admin

namespace edgemq::admin {
namespace {

// Outside input never crashes the router and always gets a status it documents, with a JSON
// body for every error: targets built from the characters that matter to its parsers.
TEST(RouterNoise, ArbitraryTargetsGetDocumentedAnswers) {
  broker::broker core{broker::limits{}};
  admin_context ctx{core, {}, "1", "tok", {}, {}, {}, "c/{clientId}/{name}", {}};
  const std::string alphabet = "/%?&=+aZ09-._~\x01\xff\xc3 ";
  const std::string pieces[] = {
      "/api/v1/clients", "/api/v1/clients/", "/metrics", "/healthz", "?limit=", "&after=", "%2F", "%zz", "%",
      "prefix="};
  std::uint32_t seed = 12345;
  const auto next = [&] { return seed = seed * 1103515245u + 12345u; };
  for (int i = 0; i < 20000; ++i) {
    std::string target;
    const auto n = next() % 12;
    for (std::uint32_t k = 0; k < n; ++k)
      target +=
          (next() % 3 == 0) ? pieces[next() % std::size(pieces)] : std::string(1, alphabet[next() % alphabet.size()]);
    const char* methods[] = {"GET", "DELETE", "POST", "HEAD"};
    const auto auth = (next() % 2) ? "Bearer tok" : "";
    const auto r = handle(ctx, {methods[next() % 4], target, auth, "", ""});
    ASSERT_TRUE(r.status == 200 || r.status == 204 || r.status == 400 || r.status == 401 || r.status == 404 ||
                r.status == 405 || r.status == 414)
        << r.status << " for '" << target << "'";
    if (r.status >= 400) {
      const auto j = nlohmann::json::parse(r.body);
      ASSERT_TRUE(j.at("code").is_string());
      ASSERT_TRUE(j.at("message").is_string());
    }
  }
}

}  // namespace
}  // namespace edgemq::admin

namespace edgemq::admin {
namespace {

std::string header(const http_response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

// The dashboard's files: served without the token, with their types, revalidated by ETag.
TEST(DashboardRoutes, FilesWithoutTokenAndWithTypes) {
  broker::broker core{broker::limits{}};
  admin_context ctx{core, {}, "1", "secret", {}};
  const auto page = handle(ctx, {"GET", "/", ""});
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<canvas id=\"rate-chart\""), std::string::npos);
  EXPECT_EQ(header(page, "Cache-Control"), "no-cache");
  EXPECT_EQ(handle(ctx, {"GET", "/dashboard/index.html", ""}).body, page.body);
  EXPECT_EQ(handle(ctx, {"GET", "/dashboard/app.js", ""}).content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(handle(ctx, {"GET", "/dashboard/style.css", ""}).content_type, "text/css; charset=utf-8");
  EXPECT_EQ(handle(ctx, {"GET", "/dashboard/missing.js", ""}).status, 404u);
  EXPECT_EQ(handle(ctx, {"GET", "/dashboard/../router.cpp", ""}).status, 404u);
  EXPECT_EQ(handle(ctx, {"POST", "/", ""}).status, 405u);
  const auto cfg = handle(ctx, {"GET", "/dashboard/config.json", ""});
  EXPECT_EQ(json::parse(cfg.body), json({{"token_required", true}}));
  // The data still needs the token.
  EXPECT_EQ(handle(ctx, {"GET", "/api/v1/clients", ""}).status, 401u);

  const auto etag = header(page, "ETag");
  ASSERT_FALSE(etag.empty());
  http_request revalidate{"GET", "/", ""};
  revalidate.if_none_match = etag;
  const auto again = handle(ctx, revalidate);
  EXPECT_EQ(again.status, 304u);
  EXPECT_TRUE(again.body.empty());
  revalidate.if_none_match = "\"other\"";
  EXPECT_EQ(handle(ctx, revalidate).status, 200u);

  admin_context open{core, {}, "1", "", {}};  // no token: the page goes straight to the data
  EXPECT_EQ(json::parse(handle(open, {"GET", "/dashboard/config.json", ""}).body), json({{"token_required", false}}));
}

}  // namespace
}  // namespace edgemq::admin
