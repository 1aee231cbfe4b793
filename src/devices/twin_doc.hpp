// Twin property sections (desired, reported) as IoT Hub keeps them: the properties, "$version"
// (incremented by each patch) and "$metadata" ("$lastUpdated", and for desired
// "$lastUpdatedVersion", on every property and object node, ancestors of a change included).
// Patches are JSON merge patches (RFC 7396: null deletes); the result is limited in size and depth
// (docs/devices.md, "Device side").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace edgemq::devices {

// IoT Hub's limits: each of desired, reported (and tags) at most 32 KB of JSON, objects at most
// 10 levels deep (the section's own properties are level 1).
inline constexpr std::size_t max_section_bytes = 32 * 1024;
inline constexpr int max_section_depth = 10;

// An empty section: {"$version": 1, "$metadata": {"$lastUpdated": now[, "$lastUpdatedVersion": 1]}}.
nlohmann::json new_section(std::string_view now_iso, bool desired);

// Applies `patch` (must be an object; "$"-keys are ignored) to `section`, bumping "$version" and
// stamping "$metadata". On a refusal (`why` set: not an object, too large, too deep) `section` is
// unchanged and false is returned.
bool patch_section(nlohmann::json& section, const nlohmann::json& patch, std::string_view now_iso, bool desired,
                   std::string& why);

// The section without "$metadata" (what a device's twin GET returns: properties and "$version").
nlohmann::json without_metadata(const nlohmann::json& section);

// Plain JSON merge patch (tags). Same limits; false with `why` on a refusal, `doc` unchanged.
bool merge_patch_limited(nlohmann::json& doc, const nlohmann::json& patch, std::string& why);

// Depth of a JSON value: a scalar 0, an object or array 1 + its deepest member ($-keys skipped).
int json_depth(const nlohmann::json& v);

}  // namespace edgemq::devices
