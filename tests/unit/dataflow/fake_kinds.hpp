// Endpoint kinds for the definitions tests, so they do not depend on which real endpoint types
// are built in: Mqtt (source and destination), Kafka (both), Http (destination only; needs
// spec.httpSettings.url).
#pragma once

#include <nlohmann/json.hpp>

#include "dataflow/validate.hpp"

namespace edgemq::dataflow::test {

inline const endpoint_kind* fake_kind(const std::string& type) {
  static const std::vector<endpoint_kind> kinds = [] {
    const auto sink = [](const endpoint_args&) -> std::unique_ptr<dataflow::sink> { return nullptr; };
    const auto source = [](const endpoint_args&) -> std::unique_ptr<dataflow::source> { return nullptr; };
    std::vector<endpoint_kind> k;
    k.push_back({"Mqtt", [](const nlohmann::json&, const std::string&, problems&) {}, sink, source});
    k.push_back({"Kafka", [](const nlohmann::json&, const std::string&, problems&) {}, sink, source});
    k.push_back({"Http",
                 [](const nlohmann::json& spec, const std::string& path, problems& out) {
                   if (!spec.contains("httpSettings") || !spec["httpSettings"].contains("url"))
                     out.push_back({path + "/httpSettings/url", "missing"});
                 },
                 sink, nullptr});
    return k;
  }();
  for (const auto& k : kinds)
    if (k.type == type) return &k;
  return nullptr;
}

inline validation_context fake_context() {
  validation_context c;
  c.kind = fake_kind;
  return c;
}

}  // namespace edgemq::dataflow::test
