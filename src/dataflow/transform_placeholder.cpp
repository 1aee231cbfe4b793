// PLACEHOLDER until the transform branch lands (the lead deletes this file at that merge): the
// identity transformation, so the definitions side links and runs before the real one exists.
// It checks only that the settings are an object.
#include <nlohmann/json.hpp>

#include "dataflow/transform.hpp"

namespace edgemq::dataflow {
namespace {
class identity final : public transform {
 public:
  outcome apply(record&, std::string&) override { return outcome::pass; }
};
}  // namespace

std::unique_ptr<transform> compile_transform(const nlohmann::json& settings, const std::string& path, problems& out,
                                             std::shared_ptr<dataset_cache>) {
  if (!settings.is_null() && !settings.is_object()) {
    out.push_back({path, "must be an object"});
    return nullptr;
  }
  return std::make_unique<identity>();
}

}  // namespace edgemq::dataflow
