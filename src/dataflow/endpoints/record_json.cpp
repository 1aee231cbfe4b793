#include "dataflow/endpoints/record_json.hpp"

#include "text/text.hpp"

namespace edgemq::dataflow {

namespace {

// Text that is not valid UTF-8 cannot go into a JSON string as it is (nlohmann would throw on
// dump); such property values are replaced rather than failing the whole batch.
std::string text_or_replaced(const std::string& s) {
  return text::valid_utf8(s) ? s : text::base64_encode(s);
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
  } else if (text::valid_utf8(r.payload)) {
    j["payload"] = r.payload;
    j["payloadEncoding"] = "utf-8";
  } else {
    j["payload"] = text::base64_encode(r.payload);
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
