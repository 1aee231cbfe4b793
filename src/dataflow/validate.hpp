// Validation of Dataflow and DataflowEndpoint resource documents: every problem is reported with
// its JSON pointer into the document. A document with any problem is refused whole.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "dataflow/definitions.hpp"
#include "dataflow/endpoint_kind.hpp"
#include "dataflow/problems.hpp"

namespace edgemq::dataflow {

class dataset_cache;

inline constexpr const char* api_group = "connectivity.iotoperations.azure.com";

// What validation looks up outside the document.
struct validation_context {
  // The endpoint type named by endpointType; null: unknown. Default: find_endpoint_kind.
  std::function<const endpoint_kind*(const std::string&)> kind = find_endpoint_kind;
  // Passed to compile_transform (datasets); may be null.
  std::shared_ptr<dataset_cache> datasets;
};

// "Dataflow", "DataflowEndpoint", or empty when `doc` has no string `kind`.
std::string kind_of(const nlohmann::json& doc);
// metadata.name when it is a string, else empty.
std::string name_of(const nlohmann::json& doc);
// True for names as Kubernetes takes them (RFC 1123 subdomain: lower-case letters, digits, '-'
// and '.', starting and ending alphanumeric, at most 253 characters).
bool valid_name(const std::string& name);

// Checks apiVersion, kind (== `kind`), metadata.name and that spec is an object.
void validate_header(const nlohmann::json& doc, const std::string& kind, problems& out);

// Null when there is any problem (appended to `out`).
std::shared_ptr<const endpoint_definition> validate_endpoint(const nlohmann::json& doc, const validation_context& ctx,
                                                             problems& out);

// `endpoints`: those the dataflow may name (`default` is always there). Null when there is any problem.
std::shared_ptr<const dataflow_definition> validate_dataflow(const nlohmann::json& doc, const endpoint_map& endpoints,
                                                             const validation_context& ctx, problems& out);

}  // namespace edgemq::dataflow
