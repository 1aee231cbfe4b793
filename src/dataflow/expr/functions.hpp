// The built-in functions (docs/dataflows.md "Functions"): AIO's unit conversions, scaling and
// rounding, math::, str::, collections and typeof. `if` is not here: it is a node of its own
// (op::cond) because only its chosen branch is evaluated.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "dataflow/expr/expression.hpp"

namespace edgemq::dataflow::expr {

struct function_def {
  std::string_view name;
  std::uint8_t min_args;
  std::uint8_t max_args;                       // 255: any number
  value (*call)(std::span<const value> args);  // throws fault
};

// Sorted by name.
std::span<const function_def> functions();
// Index into functions(), or -1.
int find_function(std::string_view name);

// Names AIO documents that this implementation refuses, with the reason (compile error text).
std::string_view unsupported_function(std::string_view name);

}  // namespace edgemq::dataflow::expr
