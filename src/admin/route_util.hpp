// Helpers shared by the route files (internal to src/admin): JSON responses, query and body
// checks, and the text-or-base64 rendering of client-supplied bytes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "admin/router.hpp"
#include "text/text.hpp"

namespace edgemq::admin {

using json = nlohmann::json;
using query_map = std::map<std::string, std::string>;

constexpr std::size_t default_page = 100;
constexpr std::size_t max_page = 1000;

http_response json_response(unsigned status, const json& body);
http_response no_content();  // 204
http_response method_not_allowed(std::string allow);

// 400 naming the first parameter not in `allowed` (comma-separated in the message).
std::optional<http_response> check_query(const query_map& q, std::initializer_list<std::string_view> allowed);
// `limit` from the query (default_page when absent); 400 when it is not 1..max_page.
std::optional<http_response> parse_limit(const query_map& q, std::size_t& limit);
std::string query_value(const query_map& q, const std::string& key);

// A JSON object body: 415 unless Content-Type is application/json, 400 when it does not parse
// or is not an object. An empty body with no Content-Type is the empty object when
// `empty_ok` (optional bodies).
std::optional<http_response> parse_json_body(const http_request& req, json& out, bool empty_ok);

using text::base64_decode;
using text::base64_encode;
using text::valid_utf8;

// Bytes as JSON text: the text itself when valid UTF-8 ("utf-8"), else base64 ("base64").
struct encoded {
  std::string text;
  std::string encoding;
};
encoded encode_bytes(std::string_view bytes);
// The bytes of `value` under `encoding` ("utf-8" when empty); nullopt with `error` set when bad.
std::optional<std::string> decode_bytes(const std::string& value, const std::string& encoding, std::string& error);

}  // namespace edgemq::admin
