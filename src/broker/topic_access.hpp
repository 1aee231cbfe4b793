// Access rules that hold for every client, with or without any authorization policy:
// - topics the broker owns ($SYS/..., the state store's per-client notification area) are not
//   writable by clients;
// - the state store's per-client area (<reserved_response_prefix>/<HEX(client id)>/...) is
//   readable only by that client: a filter naming another client's part of it, or a wildcard
//   rooted there that could reach other clients' parts, is refused at SUBSCRIBE, and a broad
//   filter that starts with a wildcard (`#`, `+/#`) is allowed but never delivered another
//   client's messages from there (receives_from below).
#pragma once

#include <string_view>

namespace edgemq::broker {

// The broker's private namespace: device command responses come back on command_reply_topic
// (consumed by the admin server's command service, never routed); clients may publish there
// (that is how a device answers) but to nothing else under the prefix, and may not subscribe
// to any of it.
constexpr std::string_view private_prefix = "$edgemq";
constexpr std::string_view command_reply_topic = "$edgemq/commands/reply";

// True when `filter` (without any $share/<group>/ prefix) is rooted in the private namespace.
bool private_filter(std::string_view filter);

// True for a topic clients may not publish to.
bool broker_owned_topic(std::string_view topic);

// True when `filter` (without any $share/<group>/ prefix) is rooted in the per-client area and
// could match a topic of a client other than `client_id`.
bool filter_reaches_other_clients(std::string_view filter, std::string_view client_id);

// Whether a session of `client_id` may receive a message published on `topic`.
bool may_receive(std::string_view topic, std::string_view client_id);

// Whether `topic` lies in the per-client area at all (a cheap prefix test for the routing path).
bool in_per_client_area(std::string_view topic);

}  // namespace edgemq::broker
