// The language's view of JSON values (docs/dataflows.md "Types"): AIO's int (64-bit), float,
// string, boolean, tuple (a JSON array) and empty `()` (JSON null, a missing field); a JSON
// object only passes through. Shared by the operators and the functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dataflow/expr/expression.hpp"

namespace edgemq::dataflow::expr {

enum class kind { empty, boolean, integer, floating, string, tuple, json };

// Thrown by operators and functions without a position; the evaluator adds the offset of the
// node that failed and rethrows it as evaluation_error.
struct fault {
  std::string what;
};

kind kind_of(const value& v);
std::string_view type_name(const value& v);  // what typeof() returns: "int", "float", "empty", ...
inline bool is_number(const value& v) {
  const auto k = kind_of(v);
  return k == kind::integer || k == kind::floating;
}
double as_double(const value& v);     // a number (throws fault otherwise); `what` names the use
std::int64_t as_int(const value& v);  // an int (throws fault otherwise)
value make_float(double d);           // throws fault when d is NaN or infinite (JSON has neither)

// The text of a value: strings as they are, numbers shortest round-trip ("3", "20.5"), booleans
// "true"/"false", empty "()", tuples "(1, 2)", objects as JSON.
std::string to_text(const value& v);

// == as the language means it: numbers by value (1 == 1.0), tuples element by element, different
// types are unequal.
bool equal(const value& a, const value& b);

// Number of characters (Unicode code points) of UTF-8 text.
std::size_t char_count(std::string_view s);
// Byte offset of character `n` (n <= char_count(s)).
std::size_t char_offset(std::string_view s, std::size_t n);

[[noreturn]] void type_fault(std::string_view what, const value& got);  // "<what> needs ..., got string"

}  // namespace edgemq::dataflow::expr
