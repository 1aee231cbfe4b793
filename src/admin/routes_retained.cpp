// Retained messages: list by filter (paged by topic), delete one topic's.
#include "admin/routes.hpp"
#include "broker/broker.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::admin {
namespace {

json user_properties_json(const std::vector<mqtt::user_property>& props) {
  json out = json::array();
  for (const auto& [k, v] : props) out.push_back({{"key", k}, {"value", v}});
  return out;
}

json retained_json(const broker::message& m, broker::clock::time_point now) {
  const auto payload = encode_bytes(m.payload);
  const auto& p = m.props.get();
  const auto left = m.remaining_expiry(now);
  return {
      {"topic", m.topic},
      {"payload", payload.text},
      {"encoding", payload.encoding},
      {"payload_bytes", m.payload.size()},
      {"qos", static_cast<int>(m.qos)},
      {"properties",
       {{"content_type", p.content_type ? json(*p.content_type) : json(nullptr)},
        {"payload_format_indicator", p.payload_format_indicator ? json(*p.payload_format_indicator) : json(nullptr)},
        {"expires_in_s", left ? json(*left) : json(nullptr)},
        {"response_topic", p.response_topic ? json(*p.response_topic) : json(nullptr)},
        {"has_correlation_data", p.correlation_data.has_value()},
        {"user_properties", user_properties_json(p.user_properties)}}}};
}

}  // namespace

http_response list_retained(const admin_context& ctx, const http_request&, const query_map& q) {
  if (auto bad = check_query(q, {"filter", "after", "limit"})) return *bad;
  std::size_t limit = 0;
  if (auto bad = parse_limit(q, limit)) return *bad;
  const auto filter = q.contains("filter") ? q.at("filter") : std::string("#");
  if (mqtt::is_error(mqtt::validate_topic_filter(filter)) || mqtt::is_shared_filter(filter))
    return error_response(400, "bad_query", "filter is not a valid MQTT topic filter");
  bool more = false;
  const auto now = ctx.core.now();
  const auto page = ctx.core.retained().list(filter, query_value(q, "after"), limit, now, more);
  json items = json::array();
  for (const auto& m : page) items.push_back(retained_json(*m, now));
  return json_response(200, {{"items", items}, {"next", more ? json(page.back()->topic) : json(nullptr)}});
}

http_response retained_route(const admin_context& ctx, const http_request& req, const std::string& topic) {
  if (req.method != "DELETE") return method_not_allowed("DELETE");
  if (!ctx.core.retained().erase(topic))
    return error_response(404, "retained_not_found", "no retained message on that topic");
  return no_content();
}

}  // namespace edgemq::admin
