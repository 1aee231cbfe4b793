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

struct compile_error {
  std::size_t offset = 0;  // where in the text
  std::string message;
};

class program;  // the compiled form (expression.cpp)

class expression {
 public:
  // Null (and `err` set) when `text` is not a valid expression, or names an input beyond
  // `inputs` ($3 with two inputs) or an unknown function.
  static std::shared_ptr<const expression> compile(std::string_view text, std::size_t inputs, compile_error& err);

  // $1..$n = inputs[0..n-1]. Throws evaluation_error (a type error, division by zero, ...).
  value evaluate(std::span<const value> inputs) const;

  explicit expression(std::shared_ptr<const program> p) : program_(std::move(p)) {}

 private:
  std::shared_ptr<const program> program_;
};

struct evaluation_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace edgemq::dataflow::expr
