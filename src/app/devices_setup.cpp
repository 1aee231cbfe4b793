// The device hub's wiring (devices_setup.hpp).
#include "app/devices_setup.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "devices/device_hub.hpp"
#include "statestore/store.hpp"

namespace edgemq::app {

std::optional<int> load_device_policies(config::daemon_config& cfg) {
  const auto& file = cfg.devices.service_policies_file;
  if (!cfg.devices.enabled || file.empty()) return std::nullopt;
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "edgemq: config error at /devices/service_policies_file: cannot read '%s'\n", file.c_str());
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  const auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  std::vector<config::config_error> errors;
  if (doc.is_discarded())
    errors.push_back({"", "not JSON"});
  else
    config::read_service_policies(doc, "", cfg.devices.service_policies, errors);
  for (const auto& e : errors)
    std::fprintf(stderr, "edgemq: config error in %s at %s: %s\n", file.c_str(), e.path.empty() ? "/" : e.path.c_str(),
                 e.message.c_str());
  return errors.empty() ? std::nullopt : std::optional<int>(2);
}

std::unique_ptr<devices::device_hub> make_device_hub(broker::broker& core, const config::daemon_config& cfg,
                                                     std::shared_ptr<spdlog::logger> log) {
  if (!cfg.devices.enabled) return nullptr;
  devices::hub_options o;
  o.hostname = cfg.devices.hostname;
  for (const auto& p : cfg.devices.service_policies) o.service_policies.emplace_back(p.name, p.key);
  return std::make_unique<devices::device_hub>(core, std::move(o), std::move(log));
}

void start_device_hub(devices::device_hub& hub, statestore::store* store, const std::shared_ptr<spdlog::logger>& log) {
  if (!store) {
    log->warn("devices: the state store is off, so the device registry and twins are kept in memory only");
    return hub.start({});
  }
  hub.start(
      [store](statestore::store::operator_request r, std::function<void(statestore::store::operator_reply)> done) {
        store->submit(std::move(r), std::move(done));
      });
}

}  // namespace edgemq::app
