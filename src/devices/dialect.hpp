// The text formats of IoT Hub's device dialect, free of state: URL encoding, the property bags
// of telemetry and cloud-to-device topics, `$rid`/`$version` query strings, the MQTT username
// shape, and device id rules. Used by device_hub and its tests (docs/devices.md, "Device side").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/text.hpp"

namespace edgemq::devices {

using property_list = std::vector<std::pair<std::string, std::string>>;

std::optional<std::string> url_decode(std::string_view s);
// encodeURIComponent: keeps A-Z a-z 0-9 - _ . ! ~ * ' ( ), escapes the rest as %XX.
std::string url_encode(std::string_view s);

// "k=v&k2=v2" (URL-encoded) -> decoded pairs in order; a key without '=' gets an empty value.
// Nullopt on a malformed escape.
std::optional<property_list> parse_property_bag(std::string_view bag);
std::string make_property_bag(const property_list& props);

// The value of `name` in a query string ("$rid=5&$version=3" or "?$rid=5"), as sent.
std::optional<std::string> query_value(std::string_view query, std::string_view name);

// The IoT Hub MQTT username "{hostname}/{deviceId}/?api-version=..." or
// "{hostname}/{deviceId}/{moduleId}/?...". Nullopt when it does not have that shape.
struct device_username {
  std::string hostname, device_id, module_id;
};
std::optional<device_username> parse_device_username(std::string_view username);

// IoT Hub's device (and module) id rules: 1..128 of A-Z a-z 0-9 - . % _ * ? ! ( ) , : = @ $ '
// (no '/', '+', '#': ids are topic levels).
bool valid_device_id(std::string_view id);

bool iequals(std::string_view a, std::string_view b);

using text::base64_encode;
// 32 random bytes, base64: a generated symmetric key.
std::string random_key();
// ISO 8601 UTC with 7 fractional digits as IoT Hub writes them ("2026-12-03T16:42:33.1230000Z").
std::string iso8601(std::uint64_t wall_ms);
// An etag from a counter: base64 of its 8 big-endian bytes ("AAAAAAAAAAE=" for 1), as IoT Hub's look.
std::string etag_of(std::uint64_t counter);
// A fresh etag (a random counter).
std::string random_etag();

}  // namespace edgemq::devices
