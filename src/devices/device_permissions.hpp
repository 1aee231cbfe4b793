// The authorization built into the IoT Hub device dialect: a device connection may touch only its
// own topics (docs/devices.md, "Device side"). Given to the channel in place of the listener's
// policy for connections the hub let in.
#pragma once

#include <string>

#include "broker/authorizer.hpp"

namespace edgemq::devices {

class device_permissions final : public broker::client_permissions {
 public:
  // `module_id` empty for a device connection.
  device_permissions(std::string device_id, std::string module_id);
  // devices/{id}/messages/events/..., $iothub/twin/GET/..., $iothub/twin/PATCH/properties/reported/...,
  // $iothub/methods/res/... (a module: devices/{id}/modules/{mid}/messages/events/... instead).
  bool may_publish(std::string_view topic) const override;
  // devices/{id}/messages/devicebound/# and narrower, $iothub/methods/POST/#, $iothub/twin/res/#,
  // $iothub/twin/PATCH/properties/desired/# (and narrower filters of each).
  bool may_subscribe(std::string_view filter) const override;
  bool may_read_key(std::string_view) const override { return false; }
  bool may_write_key(std::string_view) const override { return false; }

 private:
  std::string events_;       // "devices/{id}/messages/events/" (or the module's)
  std::string devicebound_;  // "devices/{id}/messages/devicebound/" (or the module's inputs/)
};

}  // namespace edgemq::devices
