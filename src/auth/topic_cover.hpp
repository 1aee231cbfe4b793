// The subscription rule of an authorization policy: a SUBSCRIBE filter is allowed only when an
// allowed filter covers it, that is when every topic the requested filter can match is matched
// by the allowed one (MQTT matching, MQTT 4.7; docs/adr/0011). So `sensors/#` covers
// `sensors/+/temp` and `sensors`, `sensors/+` covers `sensors/a` but not `sensors/#`, and a
// filter starting with a wildcard never covers a `$`-topic (it does not match one either).
#pragma once

#include <string_view>

namespace edgemq::auth {

// Both must be valid MQTT topic filters (a topic name is a filter without wildcards).
bool filter_covers(std::string_view allowed, std::string_view requested) noexcept;

}  // namespace edgemq::auth
