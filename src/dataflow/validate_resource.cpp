// The parts every resource document shares: apiVersion, kind, metadata.name, spec.
#include <regex>

#include "dataflow/validate.hpp"

namespace edgemq::dataflow {

using json = nlohmann::json;

std::string kind_of(const json& doc) {
  if (!doc.is_object()) return {};
  const auto k = doc.find("kind");
  return k != doc.end() && k->is_string() ? k->get<std::string>() : std::string();
}

std::string name_of(const json& doc) {
  if (!doc.is_object()) return {};
  const auto m = doc.find("metadata");
  if (m == doc.end() || !m->is_object()) return {};
  const auto n = m->find("name");
  return n != m->end() && n->is_string() ? n->get<std::string>() : std::string();
}

bool valid_name(const std::string& name) {
  static const std::regex rfc1123(R"([a-z0-9]([-a-z0-9.]*[a-z0-9])?)");
  return !name.empty() && name.size() <= 253 && std::regex_match(name, rfc1123);
}

void validate_header(const json& doc, const std::string& kind, problems& out) {
  if (!doc.is_object()) return out.push_back({"", "a resource document must be an object"});
  const std::string v1 = std::string(api_group) + "/v1";
  const std::string v1beta1 = std::string(api_group) + "/v1beta1";
  const auto api = doc.find("apiVersion");
  if (api == doc.end())
    out.push_back({"/apiVersion", "missing (" + v1 + ")"});
  else if (!api->is_string() || (*api != v1 && *api != v1beta1))
    out.push_back({"/apiVersion", "must be " + v1 + " (or " + v1beta1 + ")"});
  const auto k = doc.find("kind");
  if (k == doc.end())
    out.push_back({"/kind", "missing (" + kind + ")"});
  else if (!k->is_string() || *k != kind)
    out.push_back({"/kind", "must be " + kind});
  const auto md = doc.find("metadata");
  if (md == doc.end() || !md->is_object()) {
    out.push_back({"/metadata", "must be an object with a name"});
  } else {
    const auto n = md->find("name");
    if (n == md->end())
      out.push_back({"/metadata/name", "missing"});
    else if (!n->is_string() || !valid_name(n->get<std::string>()))
      out.push_back({"/metadata/name",
                     "must be a name as Kubernetes takes it: lower-case letters, digits, '-' and '.', starting and "
                     "ending with a letter or digit, at most 253 characters"});
  }
  const auto spec = doc.find("spec");
  if (spec == doc.end())
    out.push_back({"/spec", "missing"});
  else if (!spec->is_object())
    out.push_back({"/spec", "must be an object"});
}

}  // namespace edgemq::dataflow
