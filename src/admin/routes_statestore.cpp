// State store keys for operators (the contract in docs/operations.md): browse by prefix, get,
// set, delete. Each call is handed to ctx.statestore (the engine's queue) and answered when the
// engine has executed it and written it under its durability policy: a deferred response.
#include "admin/routes.hpp"

namespace edgemq::admin {
namespace {

// How long an operator waits for the engine before 503 (it answers in milliseconds; a full
// disk or a stuck fsync must not hold the connection forever).
constexpr std::chrono::seconds engine_timeout{10};

json item_json(const kv_item& i) {
  // Key and value share one encoding: text when both are valid UTF-8, else both base64.
  const bool text = valid_utf8(i.key) && valid_utf8(i.value);
  return {{"key", text ? i.key : base64_encode(i.key)},
          {"value", text ? i.value : base64_encode(i.value)},
          {"encoding", text ? "utf-8" : "base64"},
          {"version", i.version}};
}

http_response reply_response(const kv_request& req, const kv_reply& r) {
  using status = kv_reply::status;
  switch (r.code) {
    case status::not_found:
      return error_response(404, "key_not_found", "no such key");
    case status::refused:
      return error_response(409, "refused", "the state store refused the request: " + r.message);
    case status::unavailable:
      return error_response(503, "storage_unavailable", r.message);
    case status::ok:
      break;
  }
  if (req.op == kv_request::verb::del) return no_content();
  if (req.op == kv_request::verb::list) {
    json items = json::array();
    for (const auto& i : r.items) items.push_back(item_json(i));
    return json_response(200, {{"items", items}, {"next", r.more ? item_json(r.items.back())["key"] : json(nullptr)}});
  }
  if (r.items.empty()) return error_response(500, "internal", "the state store answered without the item");
  return json_response(200, item_json(r.items.front()));
}

http_response submit(const admin_context& ctx, kv_request req) {
  auto r = error_response(503, "storage_unavailable", "the state store did not answer in time");
  r.deferred = std::make_shared<deferred_response>();
  r.deferred->timeout = engine_timeout;
  r.deferred->start = [&ctx, req = std::move(req)](completion done) -> std::function<void()> {
    ctx.statestore(req, [req, done](kv_reply reply) { done(reply_response(req, reply)); });
    return {};  // nothing to cancel: a late answer is dropped by the server
  };
  return r;
}

}  // namespace

http_response list_keys(const admin_context& ctx, const http_request&, const query_map& q) {
  if (!ctx.statestore) return error_response(404, "statestore_disabled", "the state store is off");
  if (auto bad = check_query(q, {"prefix", "after", "limit"})) return *bad;
  kv_request req;
  req.op = kv_request::verb::list;
  if (auto bad = parse_limit(q, req.limit)) return *bad;
  req.prefix = query_value(q, "prefix");
  req.after = query_value(q, "after");
  return submit(ctx, std::move(req));
}

http_response key_route(const admin_context& ctx, const http_request& req, const std::string& key) {
  if (!ctx.statestore) return error_response(404, "statestore_disabled", "the state store is off");
  kv_request r;
  r.key = key;
  if (req.method == "GET" || req.method == "HEAD") {
    r.op = kv_request::verb::get;
  } else if (req.method == "DELETE") {
    r.op = kv_request::verb::del;
  } else if (req.method == "PUT") {
    r.op = kv_request::verb::put;
    json body;
    if (auto bad = parse_json_body(req, body, false)) return *bad;
    const auto v = body.find("value");
    if (v == body.end() || !v->is_string()) return error_response(400, "bad_body", "\"value\" must be a string");
    const auto e = body.find("encoding");
    if (e != body.end() && !e->is_string())
      return error_response(400, "bad_body", "encoding must be \"utf-8\" or \"base64\"");
    std::string error;
    auto bytes = decode_bytes(v->get<std::string>(), e == body.end() ? "" : e->get<std::string>(), error);
    if (!bytes) return error_response(400, "bad_body", error);
    r.value = std::move(*bytes);
  } else {
    return method_not_allowed("GET, PUT, DELETE");
  }
  return submit(ctx, std::move(r));
}

}  // namespace edgemq::admin
