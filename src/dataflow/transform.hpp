// A dataflow's BuiltInTransformation: enrich (datasets) -> filter -> map, in that order whatever
// the listing order (as AIO runs them). Compiled once from builtInTransformationSettings; applied
// to each record on the runtime's I/O thread.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "dataflow/problems.hpp"
#include "dataflow/record.hpp"

namespace edgemq::dataflow {

class dataset_cache;  // datasets.hpp: state store keys holding JSON Lines, kept fresh by KEYNOTIFY

class transform {
 public:
  virtual ~transform() = default;
  enum class outcome { pass, dropped, error };
  // Changes `r` (payload, topic, properties) as the map says. dropped: a filter rule was true.
  // error: the payload is not what the rules need (not JSON, ...): `why` says what.
  virtual outcome apply(record& r, std::string& why) = 0;
};

// Compiles `settings` (builtInTransformationSettings; null: the identity). Problems are appended
// with pointers under `path`; null is returned when there is any. `datasets` may be null when the
// settings name none.
std::unique_ptr<transform> compile_transform(const nlohmann::json& settings, const std::string& path, problems& out,
                                             std::shared_ptr<dataset_cache> datasets);

}  // namespace edgemq::dataflow
