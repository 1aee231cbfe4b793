// MQTT topics and filters as NATS subjects (docs/cluster.md "Routing between nodes", ADR 0028).
// Pure functions, no libnats: unit-tested in tests/unit/cluster/subject_map_test.cpp.
//
// A topic's levels become the subject's tokens under "mqtt.", each level escaped so the mapping
// is one to one: '%', '.', '*', '>', ASCII whitespace and control bytes as %XX, and an empty
// level as a lone "%" (which no escaped level can be). `+` becomes `*`; a trailing `#` needs two
// subjects, the parent ("mqtt.a" for "a/#": MQTT's `#` also matches the parent level) and
// "mqtt.a.>"; `#` alone is "mqtt.>".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::cluster {

constexpr std::string_view subject_prefix = "mqtt";

std::string topic_to_subject(std::string_view topic);
// The topic of a subject made by topic_to_subject; nullopt for anything else.
std::optional<std::string> subject_to_topic(std::string_view subject);
// The one or two subjects a NATS subscription needs for an MQTT filter (no $share/ prefix).
std::vector<std::string> filter_to_subjects(std::string_view filter);
// The NATS queue group of `$share/<share_name>/<filter>`: from both, since in MQTT the same
// group name on two filters is two groups. No whitespace, one to one.
std::string queue_name(std::string_view share_name, std::string_view filter);

}  // namespace edgemq::cluster
