#include "admin/router.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "admin/dashboard.hpp"
#include "admin/prometheus.hpp"
#include "admin/routes.hpp"
#include "broker/broker.hpp"
#include "dataflow/definition_store.hpp"

namespace edgemq::admin {
namespace {

constexpr std::size_t max_target = 2048;

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      unsigned v = 0;
      const auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec != std::errc{} || p != s.data() + i + 3) return std::nullopt;
      out += static_cast<char>(v);
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

struct parsed_target {
  std::string path;
  query_map query;
};

std::optional<parsed_target> parse_target(std::string_view target) {
  parsed_target t;
  const auto q = target.find('?');
  auto path = percent_decode(target.substr(0, q), false);
  if (!path) return std::nullopt;
  t.path = std::move(*path);
  if (q == std::string_view::npos) return t;
  auto rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto k = percent_decode(pair.substr(0, eq), true);
    auto v = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!k || !v) return std::nullopt;
    t.query[*k] = *v;
  }
  return t;
}

// The rest of `path` after `prefix` when it starts with it and something follows.
std::optional<std::string> tail(const std::string& path, std::string_view prefix) {
  if (!path.starts_with(prefix) || path.size() == prefix.size()) return std::nullopt;
  return path.substr(prefix.size());
}

bool authorized(const admin_context& ctx, const http_request& req) {
  if (ctx.token.empty()) return true;
  constexpr std::string_view scheme = "Bearer ";
  std::string_view a = req.authorization;
  if (a.size() < scheme.size()) return false;
  // The scheme is case-insensitive (RFC 7235); the token is not.
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(scheme[i])))
      return false;
  return constant_time_equal(std::string(a.substr(scheme.size())), ctx.token);
}

http_response healthz() {
  return json_response(200, {{"status", "ok"}});
}

http_response readyz(const admin_context& ctx) {
  const auto r = ctx.ready ? ctx.ready() : readiness{true};
  const bool ok = r.started && r.persistence && r.statestore && r.cluster;
  json checks{{"started", r.started}, {"persistence", r.persistence}, {"statestore", r.statestore}};
  if (ctx.cluster) checks["cluster"] = r.cluster;  // only in cluster mode
  return json_response(ok ? 200 : 503, {{"ready", ok}, {"checks", std::move(checks)}});
}

http_response metrics(const admin_context& ctx) {
  http_response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = broker_metrics(ctx.core, ctx.listeners ? ctx.listeners() : std::vector<std::string>{}, ctx.version);
  return r;
}

http_response broker_info(const admin_context& ctx) {
  json counters = json::object();
  ctx.core.collect_sys([&](const std::string& topic, std::uint64_t v) {
    constexpr std::string_view root = "$SYS/broker/";
    counters[topic.starts_with(root) ? topic.substr(root.size()) : topic] = v;
  });
  return json_response(200, {{"version", ctx.version},
                             {"uptime_seconds", ctx.core.uptime().count()},
                             {"listeners", ctx.listeners ? ctx.listeners() : std::vector<std::string>{}},
                             {"counters", counters}});
}

// The reload SIGHUP does; 200 whatever failed (the body says what, and what failed keeps its
// previous version, as with SIGHUP).
http_response reload(const admin_context& ctx) {
  if (!ctx.reload) return error_response(404, "not_found", "reloading is not available");
  const auto r = ctx.reload();
  json failed = json::array();
  for (const auto& [what, why] : r.failed) failed.push_back({{"what", what}, {"reason", why}});
  return json_response(200, {{"reloaded", r.reloaded}, {"failed", failed}});
}

}  // namespace

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Compare over the longer length so an early mismatch or a short guess costs the same time.
  const std::size_t n = std::max(a.size(), b.size());
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

http_response error_response(unsigned status, std::string code, std::string message) {
  return json_response(status, {{"code", std::move(code)}, {"message", std::move(message)}});
}

http_response handle(const admin_context& ctx, const http_request& req) {
  if (req.target.size() > max_target) return error_response(414, "uri_too_long", "the request target is too long");
  const auto t = parse_target(req.target);
  if (!t || t->path.empty() || t->path.front() != '/')
    return error_response(400, "bad_target", "the request target is not a valid path");
  const auto& path = t->path;
  const bool get = req.method == "GET" || req.method == "HEAD";

  // Probes carry no secret and reveal only up or down: they answer without the token, so that
  // liveness and readiness checks need no credentials.
  if (path == "/healthz") return get ? healthz() : method_not_allowed("GET");
  if (path == "/readyz") return get ? readyz(ctx) : method_not_allowed("GET");
  // The dashboard's files hold no data (the page asks for the token and sends it with its API
  // calls); config.json tells the page whether to ask.
  if (path == "/dashboard/config.json")
    return get ? json_response(200, {{"token_required", !ctx.token.empty()}}) : method_not_allowed("GET");
  if (path == "/" || path.starts_with("/dashboard/"))
    return get ? dashboard_file(path, req.if_none_match) : method_not_allowed("GET");

  // IoT Hub's service API authorizes its own way (a service policy's SAS, or the bearer token).
  if (ctx.devices && is_iothub_path(path)) return iothub_route(ctx, req, path, t->query, authorized(ctx, req));
  if (!authorized(ctx, req)) {
    auto r = error_response(401, "unauthorized", "a valid 'Authorization: Bearer TOKEN' header is required");
    r.authenticate = true;
    return r;
  }
  if (path == "/metrics") return get ? metrics(ctx) : method_not_allowed("GET");
  if (path == "/api/v1/broker") return get ? broker_info(ctx) : method_not_allowed("GET");
  if (path == "/api/v1/cluster") {
    if (!ctx.cluster) return error_response(404, "not_found", "cluster mode is off (no --cluster-node)");
    if (!get) return method_not_allowed("GET");
    http_response r;
    r.body = ctx.cluster();
    return r;
  }
  if (path == "/api/v1/reload") return req.method == "POST" ? reload(ctx) : method_not_allowed("POST");
  if (path == "/api/v1/clients") return get ? list_clients(ctx, req, t->query) : method_not_allowed("GET");
  // Ids, keys and topics are everything after their prefix (percent-decoded): they may contain '/'.
  if (auto id = tail(path, "/api/v1/clients/")) {
    // A client id may contain '/' and even "/commands/": POST names a command after the last one.
    constexpr std::string_view commands = "/commands/";
    if (const auto at = id->rfind(commands); req.method == "POST" && at != std::string::npos && at > 0)
      return command_route(ctx, req, id->substr(0, at), id->substr(at + commands.size()));
    return client_route(ctx, req, *id);
  }
  if (auto id = tail(path, "/api/v1/sessions/")) return session_route(ctx, req, *id);
  if (path == "/api/v1/retained") return get ? list_retained(ctx, req, t->query) : method_not_allowed("GET");
  if (auto topic = tail(path, "/api/v1/retained/")) return retained_route(ctx, req, *topic);
  if (path == "/api/v1/statestore/keys") return get ? list_keys(ctx, req, t->query) : method_not_allowed("GET");
  if (auto key = tail(path, "/api/v1/statestore/keys/")) return key_route(ctx, req, *key);
  using dataflow::resource_kind;
  if (path == "/api/v1/dataflows") return list_definitions(ctx, req, t->query, resource_kind::dataflow);
  if (auto name = tail(path, "/api/v1/dataflows/")) return definition_route(ctx, req, *name, resource_kind::dataflow);
  if (path == "/api/v1/dataflow-endpoints") return list_definitions(ctx, req, t->query, resource_kind::endpoint);
  if (auto name = tail(path, "/api/v1/dataflow-endpoints/"))
    return definition_route(ctx, req, *name, resource_kind::endpoint);
  return error_response(404, "not_found", "no such path: " + path);
}

}  // namespace edgemq::admin
