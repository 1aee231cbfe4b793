// The AIO dataflow expression language ("$1 <= 20", "cToF($1)", "$1 * 9/5 + 32", string and
// math functions, comparisons, boolean logic): parsed once into a compiled form, evaluated per
// record against the rule's inputs $1..$n. Pure: no I/O, no clock, no global state.
// Every function is listed in docs/dataflows.md.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace edgemq::dataflow::expr {

using value = nlohmann::json;  // null, boolean, number, string, array, object

// Bounds on what an API user may submit (docs/dataflows.md "Limits"): compiling refuses longer
// text, and deeper nesting (parentheses, calls, operator chains alike), so neither parsing nor
// evaluating recurses without bound.
inline constexpr std::size_t max_expression_length = 4096;  // bytes
inline constexpr std::size_t max_nesting_depth = 64;        // levels of the compiled tree
inline constexpr std::size_t max_inputs = 255;              // $1..$255

struct compile_error {
  std::size_t offset = 0;  // where in the text
  std::string message;
};

class program;  // the compiled form (expression.cpp)

class expression {
 public:
  // Null (and `err` set) when `text` is not a valid expression, or names an input beyond
  // `inputs` ($3 with two inputs) or an unknown function. `err.message` ends with "at <offset>".
  static std::shared_ptr<const expression> compile(std::string_view text, std::size_t inputs, compile_error& err);

  // $1..$n = inputs[0..n-1]; a missing field is passed as null (AIO's empty value `()`).
  // Throws evaluation_error (a type error, division by zero, an overflow, ...). Thread-safe:
  // the compiled form is immutable.
  value evaluate(std::span<const value> inputs) const;

  // The function names the language knows, sorted (docs/dataflows.md documents each one).
  static std::span<const std::string_view> function_names();

  explicit expression(std::shared_ptr<const program> p) : program_(std::move(p)) {}

 private:
  std::shared_ptr<const program> program_;
};

struct evaluation_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace edgemq::dataflow::expr
