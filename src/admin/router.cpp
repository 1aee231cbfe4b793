#include "admin/router.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "admin/dashboard.hpp"
#include "admin/prometheus.hpp"
#include "broker/broker.hpp"

namespace edgemq::admin {
namespace {

using json = nlohmann::json;

constexpr std::size_t max_target = 2048;
constexpr std::size_t default_page = 100;
constexpr std::size_t max_page = 1000;

http_response json_response(unsigned status, const json& body) {
  http_response r;
  r.status = status;
  // Client ids are client-supplied: never let invalid UTF-8 make dump() throw.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

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
  std::map<std::string, std::string> query;
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

http_response method_not_allowed(std::string allow) {
  auto r = error_response(405, "method_not_allowed", "this path allows " + allow);
  r.allow = std::move(allow);
  return r;
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
  const bool ok = r.started && r.persistence && r.statestore;
  return json_response(
      ok ? 200 : 503,
      {{"ready", ok},
       {"checks", {{"started", r.started}, {"persistence", r.persistence}, {"statestore", r.statestore}}}});
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

json client_json(const std::vector<std::string>& listeners, const broker::session_registry::client_summary& c) {
  const auto& k = c.connection;
  return {{"client_id", c.client_id},
          {"username", k.username ? json(*k.username) : json(nullptr)},
          {"listener", k.listener < listeners.size() ? listeners[k.listener] : std::to_string(k.listener)},
          {"protocol_version", k.version == mqtt::protocol_version::v5 ? "5" : "3.1.1"},
          {"connected_at_ms", k.connected_at_ms},
          {"subscriptions", c.subscriptions},
          {"queued", c.queued},
          {"inflight", c.inflight}};
}

http_response list_clients(const admin_context& ctx, const std::map<std::string, std::string>& query) {
  std::size_t limit = default_page;
  for (const auto& [k, v] : query) {
    if (k != "prefix" && k != "after" && k != "limit")
      return error_response(400, "bad_query", "unknown query parameter '" + k + "' (prefix, after, limit)");
  }
  if (auto it = query.find("limit"); it != query.end()) {
    const auto& s = it->second;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), limit);
    if (ec != std::errc{} || p != s.data() + s.size() || limit < 1 || limit > max_page)
      return error_response(400, "bad_query", "limit must be a whole number from 1 to " + std::to_string(max_page));
  }
  const auto get = [&](const char* k) {
    auto it = query.find(k);
    return it == query.end() ? std::string() : it->second;
  };
  bool more = false;
  const auto page = ctx.core.sessions().connected_clients(get("prefix"), get("after"), limit, more);
  const auto listeners = ctx.listeners ? ctx.listeners() : std::vector<std::string>{};
  json clients = json::array();
  for (const auto& c : page) clients.push_back(client_json(listeners, c));
  return json_response(200, {{"clients", clients}, {"next", more ? json(page.back().client_id) : json(nullptr)}});
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

  if (!authorized(ctx, req)) {
    auto r = error_response(401, "unauthorized", "a valid 'Authorization: Bearer TOKEN' header is required");
    r.authenticate = true;
    return r;
  }
  if (path == "/metrics") return get ? metrics(ctx) : method_not_allowed("GET");
  if (path == "/api/v1/broker") return get ? broker_info(ctx) : method_not_allowed("GET");
  if (path == "/api/v1/clients") return get ? list_clients(ctx, t->query) : method_not_allowed("GET");
  constexpr std::string_view clients = "/api/v1/clients/";
  if (path.starts_with(clients) && path.size() > clients.size()) {
    // The id is everything after the prefix (percent-decoded): MQTT client ids may contain '/'.
    const std::string id = path.substr(clients.size());
    if (req.method != "DELETE") return method_not_allowed("DELETE");
    if (!ctx.core.sessions().disconnect(id, mqtt::reason_code::administrative_action))
      return error_response(404, "client_not_found", "no connected client with that id");
    http_response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  return error_response(404, "not_found", "no such path: " + path);
}

}  // namespace edgemq::admin
