// Twin sections with IoT Hub's versions and metadata (twin_doc.hpp).
#include "devices/twin_doc.hpp"

namespace edgemq::devices {
namespace {

using json = nlohmann::json;

bool reserved(const std::string& key) {
  return !key.empty() && key.front() == '$';
}

json stamp(std::string_view now, std::uint64_t version, bool desired) {
  json m = json::object();
  m["$lastUpdated"] = now;
  if (desired) m["$lastUpdatedVersion"] = version;
  return m;
}

// Metadata for a value written whole: a stamp, and for an object one per member (recursively).
json metadata_for(const json& v, std::string_view now, std::uint64_t version, bool desired) {
  json m = stamp(now, version, desired);
  if (v.is_object())
    for (const auto& [k, child] : v.items())
      if (!reserved(k)) m[k] = metadata_for(child, now, version, desired);
  return m;
}

// RFC 7396 with nulls dropped from values written whole, keeping `meta` beside `target`.
void merge(json& target, json& meta, const json& patch, std::string_view now, std::uint64_t version, bool desired) {
  for (const auto& [k, v] : patch.items()) {
    if (reserved(k)) continue;
    if (v.is_null()) {
      target.erase(k);
      meta.erase(k);
      continue;
    }
    if (v.is_object()) {
      if (!target.contains(k) || !target[k].is_object()) {
        target[k] = json::object();
        meta[k] = stamp(now, version, desired);
      }
      if (!meta.contains(k) || !meta[k].is_object()) meta[k] = stamp(now, version, desired);
      merge(target[k], meta[k], v, now, version, desired);
      continue;
    }
    target[k] = v;
    meta[k] = metadata_for(v, now, version, desired);
  }
  // An object node changed below: its stamp moves too, as IoT Hub's does.
  meta["$lastUpdated"] = now;
  if (desired) meta["$lastUpdatedVersion"] = version;
}

void plain_merge(json& target, const json& patch) {
  for (const auto& [k, v] : patch.items()) {
    if (v.is_null()) {
      target.erase(k);
    } else if (v.is_object()) {
      if (!target.contains(k) || !target[k].is_object()) target[k] = json::object();
      plain_merge(target[k], v);
    } else {
      target[k] = v;
    }
  }
}

bool within_limits(const json& doc, std::string& why) {
  if (json_depth(doc) > max_section_depth) {
    why = "the document is nested deeper than " + std::to_string(max_section_depth) + " levels";
    return false;
  }
  if (doc.dump().size() > max_section_bytes) {
    why = "the document is larger than " + std::to_string(max_section_bytes) + " bytes";
    return false;
  }
  return true;
}

}  // namespace

int json_depth(const json& v) {
  if (!v.is_object() && !v.is_array()) return 0;
  int deepest = 0;
  if (v.is_object()) {
    for (const auto& [k, child] : v.items())
      if (!reserved(k)) deepest = std::max(deepest, json_depth(child));
  } else {
    for (const auto& child : v) deepest = std::max(deepest, json_depth(child));
  }
  return 1 + deepest;
}

json new_section(std::string_view now_iso, bool desired) {
  return json{{"$version", 1}, {"$metadata", stamp(now_iso, 1, desired)}};
}

json without_metadata(const json& section) {
  json out = section;
  out.erase("$metadata");
  return out;
}

bool patch_section(json& section, const json& patch, std::string_view now_iso, bool desired, std::string& why) {
  if (!patch.is_object()) {
    why = "a property patch must be a JSON object";
    return false;
  }
  const std::uint64_t version = section.value("$version", std::uint64_t{0}) + 1;
  json props = without_metadata(section);
  props.erase("$version");
  json meta = section.contains("$metadata") ? section["$metadata"] : stamp(now_iso, version, desired);
  merge(props, meta, patch, now_iso, version, desired);
  if (!within_limits(props, why)) return false;
  props["$version"] = version;
  props["$metadata"] = std::move(meta);
  section = std::move(props);
  return true;
}

bool merge_patch_limited(json& doc, const json& patch, std::string& why) {
  if (!patch.is_object()) {
    why = "a patch must be a JSON object";
    return false;
  }
  json out = doc.is_object() ? doc : json::object();
  plain_merge(out, patch);
  if (!within_limits(out, why)) return false;
  doc = std::move(out);
  return true;
}

}  // namespace edgemq::devices
