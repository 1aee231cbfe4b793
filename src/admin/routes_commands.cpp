// Device commands: POST /api/v1/clients/{id}/commands/{name} publishes an MQTT 5 request to the
// device's command topic and answers with the device's response (ctx.command, a deferred
// response: the admin thread serves other connections meanwhile), 504 after the timeout.
#include "admin/routes.hpp"
#include "broker/broker.hpp"

namespace edgemq::admin {
namespace {

constexpr std::uint64_t default_timeout_ms = 10000;
constexpr std::uint64_t max_timeout_ms = 300000;

std::string command_topic(std::string t, const std::string& client_id, const std::string& name) {
  for (const auto& [field, value] : {std::pair<std::string, const std::string&>{"{clientId}", client_id},
                                     std::pair<std::string, const std::string&>{"{name}", name}}) {
    for (auto at = t.find(field); at != std::string::npos; at = t.find(field, at + value.size()))
      t.replace(at, field.size(), value);
  }
  return t;
}

http_response reply_json(const command_reply& r) {
  const auto payload = encode_bytes(r.payload);
  json props = json::object();
  for (const auto& [k, v] : r.properties) props[k] = v;  // a repeated name: the last one
  return json_response(200, {{"payload", payload.text},
                             {"encoding", payload.encoding},
                             {"user_properties", props},
                             {"content_type", r.content_type ? json(*r.content_type) : json(nullptr)}});
}

}  // namespace

http_response command_route(const admin_context& ctx, const http_request& req, const std::string& client_id,
                            const std::string& name) {
  if (req.method != "POST") return method_not_allowed("POST");
  if (!ctx.command) return error_response(404, "not_found", "device commands are off");
  // The id and name become topic levels: they may not carry wildcards, nor the name a level.
  if (name.empty() || name.find_first_of("/+#") != std::string::npos ||
      client_id.find_first_of("+#") != std::string::npos || client_id.find('\0') != std::string::npos ||
      name.find('\0') != std::string::npos)
    return error_response(400, "bad_target", "a command name is one topic level without wildcards");
  json body;
  if (auto bad = parse_json_body(req, body, true)) return *bad;
  command_request c;
  c.client_id = client_id;
  c.topic = command_topic(ctx.command_topic, client_id, name);
  if (auto p = body.find("payload"); p != body.end()) {
    const auto e = body.find("encoding");
    if (e != body.end() && !e->is_string()) return error_response(400, "bad_body", "encoding must be a string");
    if (p->is_string()) {
      std::string error;
      auto bytes = decode_bytes(p->get<std::string>(), e == body.end() ? "" : e->get<std::string>(), error);
      if (!bytes) return error_response(400, "bad_body", error);
      c.payload = std::move(*bytes);
    } else {
      c.payload = p->dump();  // any other JSON value is sent as JSON text
      c.content_type = "application/json";
    }
  }
  if (auto t = body.find("content_type"); t != body.end()) {
    if (!t->is_string()) return error_response(400, "bad_body", "content_type must be a string");
    c.content_type = t->get<std::string>();
  }
  std::uint64_t timeout = default_timeout_ms;
  if (auto t = body.find("timeout_ms"); t != body.end()) {
    if (!t->is_number_unsigned() || t->get<std::uint64_t>() < 1 || t->get<std::uint64_t>() > max_timeout_ms)
      return error_response(400, "bad_body", "timeout_ms must be a whole number from 1 to 300000");
    timeout = t->get<std::uint64_t>();
  }
  c.timeout = std::chrono::milliseconds(timeout);
  if (auto u = body.find("user_properties"); u != body.end()) {
    if (!u->is_object()) return error_response(400, "bad_body", "user_properties must be an object of strings");
    for (const auto& [k, v] : u->items()) {
      if (!v.is_string()) return error_response(400, "bad_body", "user_properties must be an object of strings");
      c.properties.emplace_back(k, v.get<std::string>());
    }
  }
  for (auto& key : body.items())
    if (key.key() != "payload" && key.key() != "encoding" && key.key() != "timeout_ms" &&
        key.key() != "user_properties" && key.key() != "content_type")
      return error_response(400, "bad_body", "unknown field '" + key.key() + "'");

  const auto s = ctx.core.sessions().find(client_id);
  if (!s || !s->online()) return error_response(404, "not_connected", "no connected client with that id");

  auto r = error_response(504, "timeout", "the device did not answer within " + std::to_string(timeout) + " ms");
  r.deferred = std::make_shared<deferred_response>();
  r.deferred->timeout = c.timeout;
  r.deferred->start = [&ctx, c = std::move(c)](completion done) mutable {
    return ctx.command(std::move(c), [done](command_reply reply) { done(reply_json(reply)); });
  };
  return r;
}

}  // namespace edgemq::admin
