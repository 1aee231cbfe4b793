// UTF-8 validation for MQTT strings (MQTT 1.5.4): well-formed per RFC 3629 (no overlong
// forms, no surrogates, nothing above U+10FFFF) and no U+0000.
#pragma once

#include <string_view>

namespace edgemq::mqtt {

bool is_valid_mqtt_utf8(std::string_view s) noexcept;

}  // namespace edgemq::mqtt
