// Clients and their sessions: the list, one client in detail, disconnect, delete a session.
#include "admin/routes.hpp"
#include "broker/broker.hpp"

namespace edgemq::admin {
namespace {

std::string listener_name(const std::vector<std::string>& listeners, std::uint32_t i) {
  return i < listeners.size() ? listeners[i] : std::to_string(i);
}

json client_json(const std::vector<std::string>& listeners, const broker::session_registry::client_summary& c) {
  const auto& k = c.connection;
  return {{"client_id", c.client_id},
          {"username", k.username ? json(*k.username) : json(nullptr)},
          {"listener", listener_name(listeners, k.listener)},
          {"protocol_version", k.version == mqtt::protocol_version::v5 ? "5" : "3.1.1"},
          {"connected_at_ms", k.connected_at_ms},
          {"subscriptions", c.subscriptions},
          {"queued", c.queued},
          {"inflight", c.inflight}};
}

}  // namespace

http_response list_clients(const admin_context& ctx, const http_request&, const query_map& q) {
  if (auto bad = check_query(q, {"prefix", "after", "limit"})) return *bad;
  std::size_t limit = 0;
  if (auto bad = parse_limit(q, limit)) return *bad;
  bool more = false;
  const auto page =
      ctx.core.sessions().connected_clients(query_value(q, "prefix"), query_value(q, "after"), limit, more);
  const auto listeners = ctx.listeners ? ctx.listeners() : std::vector<std::string>{};
  json clients = json::array();
  for (const auto& c : page) clients.push_back(client_json(listeners, c));
  return json_response(200, {{"clients", clients}, {"next", more ? json(page.back().client_id) : json(nullptr)}});
}

http_response client_detail(const admin_context& ctx, const std::string& id) {
  const auto d = ctx.core.sessions().describe(id);
  if (!d) return error_response(404, "client_not_found", "no session with that client id");
  const auto& k = d->connection;
  const auto listeners = ctx.listeners ? ctx.listeners() : std::vector<std::string>{};
  json subs = json::array();
  for (const auto& s : d->subscriptions)
    subs.push_back({{"filter", s.filter},
                    {"qos", static_cast<int>(s.options.qos)},
                    {"no_local", s.options.no_local},
                    {"retain_as_published", s.options.retain_as_published},
                    {"retain_handling", static_cast<int>(s.options.retain_handling)},
                    {"subscription_id", s.subscription_id ? json(s.subscription_id) : json(nullptr)}});
  return json_response(200, {{"client_id", d->client_id},
                             {"connected", d->connected},
                             {"username", k.username ? json(*k.username) : json(nullptr)},
                             {"listener", listener_name(listeners, k.listener)},
                             {"protocol_version", k.version == mqtt::protocol_version::v5 ? "5" : "3.1.1"},
                             {"connected_at_ms", k.connected_at_ms},
                             {"session",
                              {{"clean_start", k.clean_start},
                               {"expiry_interval", d->expiry_interval},
                               {"never_expires", d->expiry_interval == 0xFFFFFFFFu},
                               {"will_pending", d->will_pending}}},
                             {"subscriptions", subs},
                             {"queued", d->queued},
                             {"queued_bytes", d->queued_bytes},
                             {"inflight", d->inflight}});
}

http_response client_route(const admin_context& ctx, const http_request& req, const std::string& id) {
  if (req.method == "GET" || req.method == "HEAD") return client_detail(ctx, id);
  if (req.method != "DELETE") return method_not_allowed("GET, DELETE");
  if (!ctx.core.sessions().disconnect(id, mqtt::reason_code::administrative_action))
    return error_response(404, "client_not_found", "no connected client with that id");
  return no_content();
}

http_response session_route(const admin_context& ctx, const http_request& req, const std::string& id) {
  if (req.method != "DELETE") return method_not_allowed("DELETE");
  if (!ctx.core.sessions().end_session(id, mqtt::reason_code::administrative_action))
    return error_response(404, "session_not_found", "no session with that client id");
  return no_content();
}

}  // namespace edgemq::admin
