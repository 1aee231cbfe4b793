// Helpers for the expression language tests: compile-and-evaluate, and the texts of the errors.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "dataflow/expr/expression.hpp"

namespace edgemq::dataflow::expr::test {

inline value eval(std::string_view text, std::vector<value> in = {}) {
  compile_error err;
  const auto e = expression::compile(text, in.size(), err);
  if (!e) throw std::runtime_error("does not compile: " + err.message);
  return e->evaluate(in);
}

// The compile error's message ("" when it compiles).
inline std::string compile_error_of(std::string_view text, std::size_t inputs = 0) {
  compile_error err;
  const auto e = expression::compile(text, inputs, err);
  if (e) return "";
  return err.message;
}

// The evaluation error's message ("" when it evaluates).
inline std::string eval_error_of(std::string_view text, std::vector<value> in = {}) {
  compile_error err;
  const auto e = expression::compile(text, in.size(), err);
  if (!e) throw std::runtime_error("does not compile: " + err.message);
  try {
    e->evaluate(in);
  } catch (const evaluation_error& x) {
    return x.what();
  }
  return "";
}

inline void expect_int(const value& v, std::int64_t want) {
  EXPECT_TRUE(v.is_number_integer()) << v.dump();
  if (v.is_number_integer()) {
    EXPECT_EQ(v.get<std::int64_t>(), want);
  }
}

inline void expect_float(const value& v, double want) {
  EXPECT_TRUE(v.is_number_float()) << v.dump();
  if (v.is_number_float()) {
    EXPECT_DOUBLE_EQ(v.get<double>(), want);
  }
}

}  // namespace edgemq::dataflow::expr::test
