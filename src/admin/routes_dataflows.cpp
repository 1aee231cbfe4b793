// Dataflows and their endpoints (docs/dataflows.md "Admin API"): /api/v1/dataflows[/{name}] and
// /api/v1/dataflow-endpoints[/{name}]. A PUT body is one resource document, JSON or (with
// Content-Type application/yaml) YAML, as `kubectl apply -f` takes it; the definition store
// validates, persists and applies it.
#include <algorithm>
#include <cctype>

#include "admin/routes.hpp"
#include "dataflow/definition_store.hpp"
#include "dataflow/document.hpp"

namespace edgemq::admin {
namespace {

using dataflow::resource_kind;

const char* kind_name(resource_kind k) {
  return k == resource_kind::endpoint ? "DataflowEndpoint" : "Dataflow";
}

http_response disabled() {
  return error_response(404, "dataflows_disabled", "dataflows are not available");
}

// The media type without parameters, lower-cased.
std::string media_type(const std::string& content_type) {
  std::string m = content_type.substr(0, content_type.find(';'));
  while (!m.empty() && m.back() == ' ') m.pop_back();
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::tolower(c); });
  return m;
}

http_response invalid(const std::string& message, const dataflow::problems& problems) {
  json list = json::array();
  for (const auto& p : problems) list.push_back({{"path", p.path}, {"message", p.message}});
  return json_response(400, {{"code", "invalid_definition"}, {"message", message}, {"problems", list}});
}

http_response put(const admin_context& ctx, const http_request& req, resource_kind kind, const std::string& name) {
  const auto media = media_type(req.content_type);
  const auto format = dataflow::format_of_content_type(media);
  if (media != "application/json" && format != dataflow::text_format::yaml)
    return error_response(415, "unsupported_media_type",
                          "the body must be one resource document, JSON (Content-Type: application/json) or YAML "
                          "(Content-Type: application/yaml)");
  std::vector<json> docs;
  std::string error;
  if (!dataflow::parse_documents(req.body, format, docs, error)) return error_response(400, "bad_body", error);
  if (docs.size() != 1 || !docs.front().is_object())
    return error_response(400, "bad_body", "the body must be exactly one resource document (an object)");
  auto r = ctx.dataflows->put(kind, name, std::move(docs.front()));
  using status = dataflow::definition_store::put_result::status;
  switch (r.code) {
    case status::invalid:
      return invalid(r.message, r.problems);
    case status::unavailable:
      return error_response(503, "storage_unavailable", r.message);
    case status::created:
    case status::replaced:
      break;
  }
  auto doc = ctx.dataflows->get(kind, name);
  return json_response(r.code == status::created ? 201 : 200, doc ? *doc : json(nullptr));
}

http_response remove(const admin_context& ctx, resource_kind kind, const std::string& name) {
  auto r = ctx.dataflows->remove(kind, name);
  using status = dataflow::definition_store::delete_result::status;
  switch (r.code) {
    case status::deleted:
      return no_content();
    case status::not_found:
      return error_response(404, "not_found", std::string("no ") + kind_name(kind) + " named '" + name + "'");
    case status::in_use: {
      auto resp = error_response(409, "in_use", r.message);
      json body = json::parse(resp.body);
      body["dataflows"] = r.users;
      return json_response(409, body);
    }
    case status::declared:
      return error_response(409, "declared", r.message);
    case status::reserved:
      return error_response(409, "reserved", r.message);
    case status::unavailable:
      return error_response(503, "storage_unavailable", r.message);
  }
  return error_response(500, "internal", "unexpected result");
}

}  // namespace

http_response list_definitions(const admin_context& ctx, const http_request& req, const query_map& q,
                               resource_kind kind) {
  if (!ctx.dataflows) return disabled();
  if (req.method != "GET" && req.method != "HEAD") return method_not_allowed("GET");
  if (auto bad = check_query(q, {})) return *bad;
  return json_response(200, {{"items", ctx.dataflows->list(kind)}});
}

http_response definition_route(const admin_context& ctx, const http_request& req, const std::string& name,
                               resource_kind kind) {
  if (!ctx.dataflows) return disabled();
  if (req.method == "GET" || req.method == "HEAD") {
    auto doc = ctx.dataflows->get(kind, name);
    if (!doc) return error_response(404, "not_found", std::string("no ") + kind_name(kind) + " named '" + name + "'");
    return json_response(200, *doc);
  }
  if (req.method == "PUT") return put(ctx, req, kind, name);
  if (req.method == "DELETE") return remove(ctx, kind, name);
  return method_not_allowed("GET, PUT, DELETE");
}

}  // namespace edgemq::admin
