#include "app/dataflow_setup.hpp"

#include <nlohmann/json.hpp>

namespace edgemq::app {
namespace {

// PLACEHOLDER until the runtime branch lands (the lead takes the runtime's dataflow_setup at that
// merge): accepts every definition and runs none.
class idle_runner final : public dataflow::runner {
 public:
  void apply(std::shared_ptr<const dataflow::dataflow_definition>, const dataflow::endpoint_map&) override {}
  void remove(const std::string&) override {}
  nlohmann::json status(const std::string&) const override { return nullptr; }
};

}  // namespace

std::unique_ptr<dataflow::runner> make_dataflow_runtime(broker::broker&, const config::daemon_config&,
                                                        statestore::engine*, const std::shared_ptr<spdlog::logger>&) {
  return std::make_unique<idle_runner>();
}

}  // namespace edgemq::app
