// The state store's wire protocol constants (Azure IoT Operations state store v1): the request
// topic, the topics replies and KEYNOTIFY notifications go to, and the MQTT user properties a
// request and its reply carry. Shared by the engine (the server side) and edgemq-cli (a client),
// so a client needs this header and the RESP3/HLC codecs, never the broker core.
#pragma once

#include <string>
#include <string_view>

namespace edgemq::statestore {

// Requests are published here (RESP3 payload, Response Topic + Correlation Data).
inline constexpr std::string_view request_topic = "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke";
// Notifications for a client go to <reserved_response_prefix>/<HEX(client id)><notify_infix><HEX(key)>.
inline constexpr std::string_view reserved_response_prefix =
    "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8";
inline constexpr std::string_view notify_infix = "/command/notify/";

inline constexpr std::string_view protocol_version = "1.0";

// User properties.
namespace prop {
inline constexpr std::string_view source_id = "__srcId";           // request: the requesting client id
inline constexpr std::string_view protocol_version = "__protVer";  // request and reply
inline constexpr std::string_view timestamp = "__ts";              // request: HLC; reply/notification: version
inline constexpr std::string_view fencing_token = "__ft";          // request: HLC fencing token
inline constexpr std::string_view status = "__stat";               // reply: HTTP-like status, "200" on success
inline constexpr std::string_view status_message = "__stMsg";      // reply: reason when status is not 200
}  // namespace prop

inline constexpr std::string_view status_ok = "200";

// Upper-case hex of `bytes`: how client ids and keys are put into topics, whatever they contain.
std::string hex_upper(std::string_view bytes);

}  // namespace edgemq::statestore
