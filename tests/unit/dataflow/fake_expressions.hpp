// A test double for the expression language: a fixed table of the few expressions these tests
// use, each a lambda. It is NOT the language (src/dataflow/expr/ is): it lets the rule
// machinery (transform_compile.cpp, transform.cpp) be tested apart from it. Like the language, a missing input ($n is
// null, AIO's `()`) makes arithmetic and comparisons throw.
#pragma once

#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "dataflow/transform_rules.hpp"

namespace edgemq::dataflow::testing {

using json = nlohmann::json;

inline double num(const json& v) {
  if (!v.is_number()) throw std::runtime_error("expected a number, got " + v.dump());
  return v.get<double>();
}

inline const std::map<std::string, evaluator>& fake_table() {
  static const std::map<std::string, evaluator> table = {
      {"$1 <= 20", [](std::span<const json> a) { return json(num(a[0]) <= 20); }},
      {"$1 >= 80", [](std::span<const json> a) { return json(num(a[0]) >= 80); }},
      {"$1 <= $2", [](std::span<const json> a) { return json(num(a[0]) <= num(a[1])); }},
      {"$1 == $2", [](std::span<const json> a) { return json(a[0] == a[1]); }},
      {"cToF($1)", [](std::span<const json> a) { return json(num(a[0]) * 9 / 5 + 32); }},
      {"$1 * 2", [](std::span<const json> a) { return json(num(a[0]) * 2); }},
      {"($1 + $2) / 2", [](std::span<const json> a) { return json((num(a[0]) + num(a[1])) / 2); }},
      {"$1 + \", \" + $2",
       [](std::span<const json> a) {
         if (!a[0].is_string() || !a[1].is_string()) throw std::runtime_error("expected strings");
         return json(a[0].get<std::string>() + ", " + a[1].get<std::string>());
       }},
      {"$1 + \"/\" + $2",
       [](std::span<const json> a) {
         if (!a[0].is_string() || !a[1].is_string()) throw std::runtime_error("expected strings");
         return json(a[0].get<std::string>() + "/" + a[1].get<std::string>());
       }},
      {"if($1 == (), $2, $1)", [](std::span<const json> a) { return a[0].is_null() ? a[1] : a[0]; }},
      {"$1", [](std::span<const json> a) { return a[0]; }},
  };
  return table;
}

inline evaluator fake_compile(std::string_view text, std::size_t, std::string& error) {
  auto it = fake_table().find(std::string(text));
  if (it == fake_table().end()) {
    error = "unknown expression (test double)";
    return {};
  }
  return it->second;
}

}  // namespace edgemq::dataflow::testing
