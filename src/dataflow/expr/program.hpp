// The compiled form of an expression: a tree stored flat (nodes refer to each other by index), so
// it is built once, never re-parsed, and destroyed without recursion. Its height is bounded by
// max_nesting_depth, which bounds the evaluator's recursion.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dataflow/expr/expression.hpp"

namespace edgemq::dataflow::expr {

enum class op : std::uint8_t {
  literal,  // literals[a]
  input,    // inputs[a] ($a+1)
  neg,      // -a
  not_,     // !a
  pow,      // a ^ b
  mul,
  div,
  mod,
  add,
  sub,
  lt,
  le,
  gt,
  ge,
  eq,
  ne,
  and_,   // a && b, b only when a is true
  or_,    // a || b, b only when a is false
  cond,   // if(args[b], args[b+1], args[b+2]): only the chosen branch is evaluated
  call,   // functions()[a](args[b .. b+count))
  tuple,  // (args[b], ...): a JSON array
};

struct node {
  op kind = op::literal;
  std::uint32_t offset = 0;  // in the text, for error messages
  std::uint32_t a = 0;       // first operand / literal / input / function index
  std::uint32_t b = 0;       // second operand / first argument in program::args
  std::uint32_t count = 0;   // number of arguments (cond, call, tuple)
};

class program {
 public:
  std::vector<node> nodes;
  std::vector<std::uint32_t> args;  // argument lists of cond, call and tuple nodes
  std::vector<value> literals;
  std::uint32_t root = 0;
  std::size_t inputs = 0;  // as compiled for

  value eval(std::uint32_t n, std::span<const value> in) const;
  // An operand without a copy when it is a literal or an input (a string, a tuple or an object
  // from the payload is not copied to be compared); otherwise evaluated into `tmp`.
  const value& operand(std::uint32_t n, std::span<const value> in, value& tmp) const;
};

}  // namespace edgemq::dataflow::expr
