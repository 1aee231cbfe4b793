#include "dataflow/endpoint_kind.hpp"
#include "dataflow/endpoints/kinds.hpp"

namespace edgemq::dataflow {

const std::vector<endpoint_kind>& endpoint_kinds() {
  // One line per endpoint type (endpoints/kinds.hpp declares the functions).
  static const std::vector<endpoint_kind> kinds = [] {
    std::vector<endpoint_kind> k;
    k.push_back(mqtt_endpoint_kind());
    k.push_back(http_endpoint_kind());
    k.push_back(file_endpoint_kind());
    k.push_back(local_storage_endpoint_kind());
    k.push_back(kafka_endpoint_kind());
    return k;
  }();
  return kinds;
}

const endpoint_kind* find_endpoint_kind(const std::string& type) {
  for (const auto& k : endpoint_kinds())
    if (k.type == type) return &k;
  return nullptr;
}

}  // namespace edgemq::dataflow
