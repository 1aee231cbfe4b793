#include "dataflow/endpoints/record_json.hpp"

namespace edgemq::dataflow {

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points beyond Unicode are not UTF-8 (RFC 3629).
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16) |
                            (std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                            std::uint32_t(static_cast<unsigned char>(bytes[i + 2]));
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (const auto rest = bytes.size() - i; rest > 0) {
    std::uint32_t v = std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

// Text that is not valid UTF-8 cannot go into a JSON string as it is (nlohmann would throw on
// dump); such property values are replaced rather than failing the whole batch.
std::string text_or_replaced(const std::string& s) {
  return is_valid_utf8(s) ? s : base64_encode(s);
}

}  // namespace

nlohmann::json record_to_json(const record& r) {
  nlohmann::json j;
  j["topic"] = text_or_replaced(r.topic);
  // Only a JSON object or array counts as "JSON" here: a payload `42` or `true` parses too, but
  // turning the bytes "42" into a number would lose nothing while "007" would; and a bare string
  // payload is better passed through as text. Objects and arrays are what telemetry is.
  nlohmann::json parsed = nlohmann::json::parse(r.payload, nullptr, false);
  if (!parsed.is_discarded() && (parsed.is_object() || parsed.is_array())) {
    j["payload"] = std::move(parsed);
    j["payloadEncoding"] = "json";
  } else if (is_valid_utf8(r.payload)) {
    j["payload"] = r.payload;
    j["payloadEncoding"] = "utf-8";
  } else {
    j["payload"] = base64_encode(r.payload);
    j["payloadEncoding"] = "base64";
  }
  auto props = nlohmann::json::array();
  for (const auto& [k, v] : r.properties) props.push_back({text_or_replaced(k), text_or_replaced(v)});
  j["userProperties"] = std::move(props);
  if (r.content_type) j["contentType"] = text_or_replaced(*r.content_type);
  j["timestamp"] = r.timestamp_ms;
  return j;
}

std::string records_to_json_array(std::span<const record> batch) {
  auto arr = nlohmann::json::array();
  for (const auto& r : batch) arr.push_back(record_to_json(r));
  return arr.dump();
}

}  // namespace edgemq::dataflow
