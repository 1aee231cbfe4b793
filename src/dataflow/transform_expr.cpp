// compile_transform with the expression language. Kept apart from the rule machinery
// (transform.cpp) so that the machinery's tests link without the language.
#include <vector>

#include "dataflow/expr/expression.hpp"
#include "dataflow/transform_rules.hpp"

namespace edgemq::dataflow {

std::unique_ptr<transform> compile_transform(const nlohmann::json& settings, const std::string& path, problems& out,
                                             std::shared_ptr<dataset_cache> datasets) {
  const expression_compiler compile = [](std::string_view text, std::size_t inputs, std::string& error) -> evaluator {
    expr::compile_error err;
    auto e = expr::expression::compile(text, inputs, err);
    if (!e) {
      error = err.message + " (at offset " + std::to_string(err.offset) + ")";
      return {};
    }
    return [e](std::span<const nlohmann::json> args) { return e->evaluate(args); };
  };
  return compile_transform_with(settings, path, out, std::move(datasets), compile);
}

}  // namespace edgemq::dataflow
