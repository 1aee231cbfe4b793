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

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are not UTF-8.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

namespace {
constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t v = (std::uint8_t(in[i]) << 16) | (std::uint8_t(in[i + 1]) << 8) | std::uint8_t(in[i + 2]);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const std::uint32_t v = std::uint8_t(in[i]) << 16;
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const std::uint32_t v = (std::uint8_t(in[i]) << 16) | (std::uint8_t(in[i + 1]) << 8);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    std::uint32_t v = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        ++pad;
        v <<= 6;
        continue;
      }
      if (pad) return std::nullopt;  // data after padding
      const auto pos = alphabet.find(c);
      if (pos == std::string_view::npos) return std::nullopt;
      v = (v << 6) | static_cast<std::uint32_t>(pos);
    }
    out += static_cast<char>(v >> 16);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(v & 0xFF);
  }
  return out;
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
