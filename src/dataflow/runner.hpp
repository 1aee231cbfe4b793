// What runs dataflows, as the definitions side (definitions store, admin API, start-up loading)
// sees it. The runtime implements it; definitions are validated before they get here.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "dataflow/definitions.hpp"

namespace edgemq::dataflow {

class runner {
 public:
  virtual ~runner() = default;
  // Any thread. Starts `df` with the endpoints it names (`endpoints` holds them all, `default`
  // excepted), or replaces the running one of the same name (its buffer is kept and sent by the
  // new definition's destination); mode Disabled stops it and keeps its buffer.
  virtual void apply(std::shared_ptr<const dataflow_definition> df, const endpoint_map& endpoints) = 0;
  // Any thread. Stops the dataflow and deletes its buffer.
  virtual void remove(const std::string& name) = 0;
  // Any thread. The dataflow's status as the admin API shows it beside the definition:
  // {"state": "Running"|"Disabled"|"Failed", "received", "dropped" (filter), "sent", "failed",
  //  "buffer": {"messages", "bytes", "max_bytes", "policy", "evicted"}, "lastError": text|null,
  //  "lastErrorTime": ISO 8601|null}. Null for a name it does not run.
  virtual nlohmann::json status(const std::string& name) const = 0;
};

}  // namespace edgemq::dataflow
