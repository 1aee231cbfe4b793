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

http_response client_route(const admin_context& ctx, const http_request& req, const std::string& id) {
  if (req.method != "DELETE") return method_not_allowed("DELETE");
  if (!ctx.core.sessions().disconnect(id, mqtt::reason_code::administrative_action))
    return error_response(404, "client_not_found", "no connected client with that id");
  return no_content();
}

}  // namespace edgemq::admin
