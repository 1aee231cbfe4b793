// The dataflow expression language (text from API users' dataflow definitions): compiling never
// throws and reports an offset inside the text; a compiled expression evaluates to a JSON value or
// throws evaluation_error, the same way every time, and never yields a non-finite float.
#include <cmath>
#include <string>
#include <vector>

#include "dataflow/expr/expression.hpp"
#include "fuzz_bodies.hpp"
#include "fuzz_support.hpp"

namespace edgemq::fuzz {
namespace {

namespace x = dataflow::expr;

// Every JSON kind as $1..$7.
const std::vector<x::value>& inputs() {
  static const std::vector<x::value> in{x::value(20),
                                        x::value(21.5),
                                        x::value("Kent, WA"),
                                        x::value(),
                                        x::value::parse("[2.34, 12.3, 32.4]"),
                                        x::value::parse(R"({"a": 1})"),
                                        x::value(true)};
  return in;
}

bool finite_everywhere(const x::value& v) {
  if (v.is_number_float()) return std::isfinite(v.get<double>());
  if (v.is_array())
    for (const auto& e : v)
      if (!finite_everywhere(e)) return false;
  return true;
}

// Messages go to logs and JSON replies: printable ASCII only.
bool printable(std::string_view s) {
  for (const char c : s)
    if (c < 0x20 || c > 0x7E) return false;
  return !s.empty();
}

// The outcome of one evaluation, to compare two of them.
std::string outcome(const x::expression& e) {
  try {
    const auto v = e.evaluate(inputs());
    check(finite_everywhere(v));
    return "value " + v.dump();
  } catch (const x::evaluation_error& err) {
    check(printable(err.what()));
    return std::string("error ") + err.what();
  }
}

std::shared_ptr<const x::expression> compile(std::string_view text, std::size_t n, x::compile_error& err) {
  try {
    return x::expression::compile(text, n, err);
  } catch (...) {
    check(false);  // errors are values, never exceptions
    return nullptr;
  }
}

}  // namespace

void expr_one_input(const std::uint8_t* data, std::size_t size) {
  const auto text = as_text(data, size);
  for (const std::size_t n : {std::size_t{0}, inputs().size()}) {
    x::compile_error err;
    const auto e = compile(text, n, err);
    if (!e) {
      check(printable(err.message));
      check(err.offset <= text.size());
      check(err.message.ends_with(" at " + std::to_string(err.offset)));
      x::compile_error again;
      check(!compile(text, n, again) && again.message == err.message);  // deterministic
      continue;
    }
    check(text.size() <= x::max_expression_length);
    check(outcome(*e) == outcome(*e));  // pure: no state between evaluations
  }
}

}  // namespace edgemq::fuzz
