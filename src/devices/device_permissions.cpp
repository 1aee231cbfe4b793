// What a device connection may publish and subscribe (device_permissions.hpp).
#include "devices/device_permissions.hpp"

#include <array>
#include <string_view>

namespace edgemq::devices {
namespace {

constexpr std::array<std::string_view, 3> publish_prefixes = {
    "$iothub/twin/GET/", "$iothub/twin/PATCH/properties/reported/", "$iothub/methods/res/"};
constexpr std::array<std::string_view, 3> subscribe_prefixes = {"$iothub/methods/POST/", "$iothub/twin/res/",
                                                                "$iothub/twin/PATCH/properties/desired/"};

// `filter` is `prefix` followed by anything (a narrower filter or "#"): all it can match lies
// below the prefix. A wildcard cannot climb back out of it.
bool under(std::string_view filter, std::string_view prefix) {
  return filter.size() > prefix.size() && filter.starts_with(prefix);
}

}  // namespace

device_permissions::device_permissions(std::string device_id, std::string module_id) {
  const std::string base = "devices/" + device_id + (module_id.empty() ? std::string() : "/modules/" + module_id) + "/";
  events_ = base + "messages/events/";
  devicebound_ = base + (module_id.empty() ? "messages/devicebound/" : "inputs/");
}

bool device_permissions::may_publish(std::string_view topic) const {
  if (topic.starts_with(events_)) return true;
  for (auto p : publish_prefixes)
    if (topic.starts_with(p)) return true;
  return false;
}

bool device_permissions::may_subscribe(std::string_view filter) const {
  if (under(filter, devicebound_)) return true;
  for (auto p : subscribe_prefixes)
    if (under(filter, p)) return true;
  return false;
}

}  // namespace edgemq::devices
