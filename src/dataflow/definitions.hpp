// Dataflow and DataflowEndpoint definitions: whole resource documents as `kubectl apply -f`
// takes them (apiVersion, kind, metadata.name, spec), in JSON or YAML, parsed into these values.
// The document is kept as given (GET returns it; it is what is persisted); the fields below are
// what the runtime needs, read once from it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dataflow/problems.hpp"

namespace edgemq::dataflow {

inline constexpr const char* default_endpoint = "default";  // the local broker; always exists

struct endpoint_definition {
  std::string name;
  std::string type;         // spec.endpointType
  nlohmann::json document;  // the whole resource
  const nlohmann::json& spec() const { return document.at("spec"); }
};

struct dataflow_definition {
  std::string name;
  bool enabled = true;      // spec.mode: Enabled (default) | Disabled
  nlohmann::json document;  // the whole resource
  // Source
  std::string source_endpoint = default_endpoint;  // sourceSettings.endpointRef
  std::vector<std::string> data_sources;           // sourceSettings.dataSources
  // builtInTransformationSettings (null: none); compiled by transform.hpp
  nlohmann::json transformation;
  // Destination
  std::string destination_endpoint;  // destinationSettings.endpointRef
  std::string data_destination;      // destinationSettings.dataDestination
};

using endpoint_map = std::map<std::string, std::shared_ptr<const endpoint_definition>>;

}  // namespace edgemq::dataflow
