// Wires IoT Hub's device API (src/devices, docs/devices.md) into the daemon: the service policies
// file, the hub (registered with the broker before the listeners accept, loaded from the state
// store once it runs) and the pointer the admin server's /devices and /twins routes use.
#pragma once

#include <memory>
#include <optional>

#include "config/config.hpp"

namespace spdlog {
class logger;
}
namespace edgemq::broker {
class broker;
}
namespace edgemq::statestore {
class store;
}
namespace edgemq::devices {
class device_hub;
}

namespace edgemq::app {

// Reads "devices.service_policies_file" into cfg.devices.service_policies. Returns the exit
// status (2, one "edgemq: ..." line naming the key and the file) when the daemon must not start.
std::optional<int> load_device_policies(config::daemon_config& cfg);

// Null when devices are off. Construct before the admin server and the listeners.
std::unique_ptr<devices::device_hub> make_device_hub(broker::broker& core, const config::daemon_config& cfg,
                                                     std::shared_ptr<spdlog::logger> log);

// Loads the registry and twins from `store` (null: the state store is off, devices stay in memory)
// and starts serving. Throws std::runtime_error when the store cannot be read.
void start_device_hub(devices::device_hub& hub, statestore::store* store, const std::shared_ptr<spdlog::logger>& log);

}  // namespace edgemq::app
