// DataflowEndpoint documents: the header, endpointType, and the type's own settings (its
// endpoint_kind's validate).
#include <algorithm>

#include "dataflow/validate.hpp"

namespace edgemq::dataflow {

using json = nlohmann::json;

std::shared_ptr<const endpoint_definition> validate_endpoint(const json& doc, const validation_context& ctx,
                                                             problems& out) {
  const auto before = out.size();
  validate_header(doc, "DataflowEndpoint", out);
  if (name_of(doc) == default_endpoint)
    out.push_back({"/metadata/name", "'default' is the local broker: it always exists and cannot be defined"});
  std::string type;
  if (doc.is_object() && doc.contains("spec") && doc["spec"].is_object()) {
    const auto& spec = doc["spec"];
    const auto t = spec.find("endpointType");
    const endpoint_kind* kind = nullptr;
    if (t == spec.end()) {
      out.push_back({"/spec/endpointType", "missing"});
    } else if (!t->is_string() || !(kind = ctx.kind(t->get<std::string>()))) {
      std::string known;
      for (const auto& k : endpoint_kinds()) known += (known.empty() ? "" : ", ") + k.type;
      out.push_back({"/spec/endpointType", "unknown endpointType " + t->dump() +
                                               " (known: " + (known.empty() ? std::string("none") : known) + ")"});
    } else {
      type = t->get<std::string>();
      if (kind->validate) kind->validate(spec, "/spec", out);
    }
  }
  if (out.size() != before) return nullptr;
  auto def = std::make_shared<endpoint_definition>();
  def->name = name_of(doc);
  def->type = type;
  def->document = doc;
  return def;
}

}  // namespace edgemq::dataflow
