#include "admin/route_util.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>

namespace edgemq::admin {

http_response json_response(unsigned status, const json& body) {
  http_response r;
  r.status = status;
  // Client ids and topics are client-supplied: never let invalid UTF-8 make dump() throw.
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

http_response no_content() {
  http_response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

http_response method_not_allowed(std::string allow) {
  auto r = error_response(405, "method_not_allowed", "this path allows " + allow);
  r.allow = std::move(allow);
  return r;
}

std::optional<http_response> check_query(const query_map& q, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : q) {
    bool ok = false;
    std::string names;
    for (auto a : allowed) {
      ok = ok || k == a;
      names += (names.empty() ? "" : ", ") + std::string(a);
    }
    if (!ok) return error_response(400, "bad_query", "unknown query parameter '" + k + "' (" + names + ")");
  }
  return std::nullopt;
}

std::optional<http_response> parse_limit(const query_map& q, std::size_t& limit) {
  limit = default_page;
  auto it = q.find("limit");
  if (it == q.end()) return std::nullopt;
  const auto& s = it->second;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), limit);
  if (ec != std::errc{} || p != s.data() + s.size() || limit < 1 || limit > max_page)
    return error_response(400, "bad_query", "limit must be a whole number from 1 to " + std::to_string(max_page));
  return std::nullopt;
}

std::string query_value(const query_map& q, const std::string& key) {
  auto it = q.find(key);
  return it == q.end() ? std::string() : it->second;
}

std::optional<http_response> parse_json_body(const http_request& req, json& out, bool empty_ok) {
  if (req.body.empty() && req.content_type.empty() && empty_ok) {
    out = json::object();
    return std::nullopt;
  }
  std::string_view media = req.content_type;
  media = media.substr(0, media.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  std::string lower(media);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "application/json")
    return error_response(415, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)");
  out = json::parse(req.body, nullptr, false);
  if (out.is_discarded() || !out.is_object()) return error_response(400, "bad_body", "the body is not a JSON object");
  return std::nullopt;
}

encoded encode_bytes(std::string_view bytes) {
  if (valid_utf8(bytes)) return {std::string(bytes), "utf-8"};
  return {base64_encode(bytes), "base64"};
}

std::optional<std::string> decode_bytes(const std::string& value, const std::string& encoding, std::string& error) {
  if (encoding.empty() || encoding == "utf-8") return value;  // nlohmann has checked it is UTF-8
  if (encoding == "base64") {
    auto b = base64_decode(value);
    if (!b) error = "the value is not valid base64";
    return b;
  }
  error = "encoding must be \"utf-8\" or \"base64\"";
  return std::nullopt;
}

}  // namespace edgemq::admin
