// Internal to the transformation: how its rules get their expressions compiled. The daemon uses
// the expression language (expr/expression.hpp, via compile_transform); unit tests may give
// another compiler so that the rule machinery is tested apart from the language.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dataflow/problems.hpp"
#include "dataflow/transform.hpp"

namespace edgemq::dataflow {

// $1..$n -> the value; throws (std::exception) when it cannot be evaluated.
using evaluator = std::function<nlohmann::json(std::span<const nlohmann::json>)>;
// An empty evaluator and `error` set when `text` is not a valid expression over `inputs` inputs.
using expression_compiler = std::function<evaluator(std::string_view text, std::size_t inputs, std::string& error)>;

std::unique_ptr<transform> compile_transform_with(const nlohmann::json& settings, const std::string& path,
                                                  problems& out, std::shared_ptr<dataset_cache> datasets,
                                                  const expression_compiler& compile);

}  // namespace edgemq::dataflow
