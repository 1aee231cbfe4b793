// Topic names and filters: validation per MQTT 4.7 and matching of a name against a filter.
#pragma once

#include <string_view>

#include "edgemq/mqtt/types.hpp"

namespace edgemq::mqtt {

// success, malformed_packet (UTF-8), topic_name_invalid (wildcards) or protocol_error (empty).
reason_code validate_topic_name(std::string_view name) noexcept;

// success, malformed_packet (UTF-8) or topic_filter_invalid (empty, misplaced '#' or '+').
reason_code validate_topic_filter(std::string_view filter) noexcept;

// True when `filter` matches `name`. Both must be valid. Names starting with '$' are not
// matched by a filter starting with a wildcard (MQTT-4.7.2-1).
bool topic_matches(std::string_view filter, std::string_view name) noexcept;

// "$share/{group}/{filter}": shared subscription syntax.
bool is_shared_filter(std::string_view filter) noexcept;

}  // namespace edgemq::mqtt
