// Must compile: the expression language's own header and nlohmann_json.
#include <nlohmann/json.hpp>

#include "dataflow/expr/expression.hpp"
