#include "statestore/wire.hpp"

#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"
#include "edgemq/statestore/resp3.hpp"

namespace edgemq::statestore {

std::optional<incoming> read_request(const broker::publish_context& ctx, mqtt::publish& p, mqtt::reason_code& refusal,
                                     spdlog::logger* log) {
  refusal = mqtt::reason_code::success;
  const auto& rt = p.props.response_topic;
  if (rt && (*rt == request_topic || rt->starts_with(reserved_response_prefix))) {
    refusal = mqtt::reason_code::topic_name_invalid;
    return std::nullopt;
  }
  // Only MQTT 5 QoS 1 requests with both response properties are executed (1.1).
  if (ctx.version != mqtt::protocol_version::v5 || p.qos != mqtt::qos::at_least_once || !rt ||
      !p.props.correlation_data) {
    if (log)
      log->debug("state store: request from '{}' ignored (needs MQTT 5, QoS 1, response topic and correlation data)",
                 log_safe(ctx.client_id));
    return std::nullopt;
  }
  incoming in;
  in.req.client_id = std::string(ctx.client_id);
  in.req.connection_id = ctx.connection_id;
  in.req.permissions = ctx.permissions;
  in.req.payload = std::move(p.payload);
  for (auto& [k, v] : p.props.user_properties) {
    if (k == prop::timestamp)
      in.req.timestamp = v;
    else if (k == prop::fencing_token)
      in.req.fencing_token = v;
  }
  in.response_topic = *rt;
  in.correlation_data = *p.props.correlation_data;
  return in;
}

void publish_reply(broker::broker& br, const std::string& response_topic, const std::string& correlation_data,
                   response resp) {
  auto m = std::make_shared<broker::message>();
  m->topic = response_topic;
  m->payload = std::move(resp.payload);
  m->qos = mqtt::qos::at_least_once;
  auto& props = m->props.mut();
  props.correlation_data = correlation_data;
  props.content_type = "application/octet-stream";
  props.user_properties.emplace_back(prop::status, status_ok);
  props.user_properties.emplace_back(prop::protocol_version, "1.0");
  if (resp.version) props.user_properties.emplace_back(prop::timestamp, *resp.version);
  br.publish(m);
}

void deliver_notification(broker::broker& br, notification n) {
  auto m = std::make_shared<broker::message>();
  m->topic = notification_topic(n.client_id, n.key);
  m->payload = std::move(n.payload);
  m->qos = mqtt::qos::at_least_once;
  auto& props = m->props.mut();
  props.content_type = "application/octet-stream";
  props.user_properties.emplace_back(prop::timestamp, n.version);
  broker::delivery d;
  d.msg = m;
  d.qos = mqtt::qos::at_least_once;
  br.deliver_to(n.client_id, std::move(d));
}

request operator_request_as(const store::operator_request& r, std::uint64_t now_ms) {
  request req;
  req.client_id = "$admin";  // no watches are registered under it; keys are not checked (operators)
  // Changes carry a timestamp as an SDK client's do: the operator's clock is the broker's.
  req.timestamp = hlc{now_ms, 0, "$admin"}.to_string();
  switch (r.op) {
    case store::operator_request::verb::get:
      req.payload = resp3::request({"GET", r.key});
      break;
    case store::operator_request::verb::put:
      req.payload = resp3::request({"SET", r.key, r.value});
      break;
    case store::operator_request::verb::del:
      req.payload = resp3::request({"DEL", r.key});
      break;
    case store::operator_request::verb::list:
      break;
  }
  return req;
}

store::operator_reply operator_reply_from(const store::operator_request& r, const response& resp, bool failed) {
  using status = store::operator_reply::status;
  using verb = store::operator_request::verb;
  store::operator_reply out;
  if (failed) {
    out.code = status::unavailable;
    out.message = std::string(store::storage_error);
    return out;
  }
  const auto reply = resp3::parse_reply(resp.payload);
  if (!reply || reply->type == resp3::reply::kind::error) {
    out.code = status::refused;
    out.message = reply ? reply->text : "malformed reply";
  } else if (reply->type == resp3::reply::kind::null || (r.op == verb::del && reply->number == 0)) {
    out.code = status::not_found;
  } else if (r.op == verb::get) {
    out.items.push_back({r.key, reply->text, resp.version.value_or("")});
  } else if (r.op == verb::put) {
    out.items.push_back({r.key, r.value, resp.version.value_or("")});
  }
  return out;
}

}  // namespace edgemq::statestore
