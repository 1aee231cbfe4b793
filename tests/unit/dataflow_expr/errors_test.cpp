// Every compile error (with its offset), every evaluation error, and the limits
// (docs/dataflows.md "Errors" and "Limits").
#include "expr_test_support.hpp"

namespace edgemq::dataflow::expr::test {
namespace {

TEST(ExprCompileErrors, NamesWhatAndWhere) {
  EXPECT_EQ(compile_error_of("cToF(foo(1))", 0), "unknown function 'foo' at 5");
  EXPECT_EQ(compile_error_of("1 + foo", 0), "unknown name 'foo' at 4");
  EXPECT_EQ(compile_error_of("$1 + $3", 2), "$3 but only 2 inputs at 5");
  EXPECT_EQ(compile_error_of("$2", 1), "$2 but only 1 input at 0");
  EXPECT_EQ(compile_error_of("$1", 0), "$1 but only 0 inputs at 0");
  EXPECT_EQ(compile_error_of("$99999999999999999999999", 2), "$9223372036854775807 but only 2 inputs at 0");
  EXPECT_EQ(compile_error_of("$0", 1), "inputs are numbered from $1 at 0");
  EXPECT_EQ(compile_error_of("$", 1), "'$' must be followed by an input number ($1..$n) at 0");
  EXPECT_EQ(compile_error_of("$last", 1),
            "'$last' belongs in the rule's inputs, not in its expression (use $1..$n) at 0");
  EXPECT_EQ(compile_error_of(""), "empty expression at 0");
  EXPECT_EQ(compile_error_of("   "), "empty expression at 0");
  EXPECT_EQ(compile_error_of("1 +"), "expected a value, got end of expression at 3");
  EXPECT_EQ(compile_error_of("1 + * 2"), "expected a value, got '*' at 4");
  EXPECT_EQ(compile_error_of("1 2"), "unexpected '2' at 2");
  EXPECT_EQ(compile_error_of("(1 + 2"), "missing ')' for '(' at 0 at 6");
  EXPECT_EQ(compile_error_of("(1 2)"), "expected ',' or ')', got '2' at 3");
  EXPECT_EQ(compile_error_of("1 + 2)"), "unexpected ')' at 5");
  EXPECT_EQ(compile_error_of("1 = 1"), "'=' is not an operator (comparison is '==') at 2");
  EXPECT_EQ(compile_error_of("true & false"), "'&' is not an operator (logical AND is '&&') at 5");
  EXPECT_EQ(compile_error_of("true | false"), "'|' is not an operator (logical OR is '||') at 5");
  EXPECT_EQ(compile_error_of("1 # 2"), "unexpected '#' at 2");
  EXPECT_EQ(compile_error_of("1 \x01"), "unexpected byte 0x01 at 2");
  EXPECT_EQ(compile_error_of("\"abc"), "unterminated string at 0");
  EXPECT_EQ(compile_error_of("'abc\\"), "unterminated string at 0");
  EXPECT_EQ(compile_error_of(R"("a\q")"), R"(unknown escape \ followed by 'q' (known: \\ \" \' \n \t \r) at 2)");
  // Messages carry printable ASCII only (they go to logs and JSON replies).
  EXPECT_EQ(compile_error_of("'a\\\x01'"), R"(unknown escape \ followed by byte 0x01 (known: \\ \" \' \n \t \r) at 2)");
  EXPECT_EQ(compile_error_of("1 '\n\xC3\xA9'"), "unexpected ''?\?\?'' at 2");  // (\? : no trigraph)
  EXPECT_EQ(compile_error_of("12abc"), "unexpected 'a' after a number at 2");
  EXPECT_EQ(compile_error_of("1."), "unexpected '.' after a number at 1");
  EXPECT_EQ(compile_error_of("9223372036854775808"), "integer out of range (64-bit) at 0");
  EXPECT_EQ(compile_error_of("1e999"), "number out of range at 0");
  EXPECT_EQ(compile_error_of("cToF"), "function 'cToF' needs its arguments in parentheses at 0");
  EXPECT_EQ(compile_error_of("cToF()"), "function 'cToF' takes 1 argument, got 0 at 0");
  EXPECT_EQ(compile_error_of("cToF(1, 2)"), "function 'cToF' takes 1 argument, got 2 at 0");
  EXPECT_EQ(compile_error_of("scale(1, 2)"), "function 'scale' takes 5 arguments, got 2 at 0");
  EXPECT_EQ(compile_error_of("if(true, 1)"), "function 'if' takes 3 arguments, got 2 at 0");
  EXPECT_EQ(compile_error_of("min()"), "function 'min' takes at least 1 argument, got 0 at 0");
  EXPECT_EQ(compile_error_of("str::regex_matches('a', 'a')"),
            "function 'str::regex_matches' is available in AIO data flow graphs only, not in a Dataflow's "
            "builtInTransformation at 0");
  EXPECT_EQ(
      compile_error_of("sum(1)"),
      "function 'sum' is an aggregation of AIO data flow graph window transforms, not available in a Dataflow at 0");
  EXPECT_EQ(compile_error_of("$1 and $2", 2), "unexpected 'and' at 3");  // AIO: use &&, not 'and'
}

TEST(ExprCompileErrors, FunctionNamesAreCaseSensitive) {
  EXPECT_EQ(compile_error_of("ctof(1)"), "unknown function 'ctof' at 0");
  EXPECT_EQ(compile_error_of("TRUE"), "unknown name 'TRUE' at 0");
}

TEST(ExprEvaluationErrors, TypesDivisionOverflowNonFinite) {
  EXPECT_EQ(eval_error_of("1 / 0"), "'/': division by zero at 2");
  EXPECT_EQ(eval_error_of("1 % 0"), "'%': division by zero at 2");
  EXPECT_EQ(eval_error_of("1.5 / 0"), "'/': division by zero at 4");
  EXPECT_EQ(eval_error_of("1 / 0.0"), "'/': division by zero at 2");
  EXPECT_EQ(eval_error_of("1.5 % 0.0"), "'%': division by zero at 4");
  EXPECT_EQ(eval_error_of("$1 / $2", {value(1), value(0)}), "'/': division by zero at 3");
  EXPECT_EQ(eval_error_of("9223372036854775807 + 1"), "'+': integer overflow at 20");
  EXPECT_EQ(eval_error_of("-9223372036854775807 - 2"), "'-': integer overflow at 21");
  EXPECT_EQ(eval_error_of("4611686018427387904 * 2"), "'*': integer overflow at 20");
  EXPECT_EQ(eval_error_of("(-9223372036854775807 - 1) / -1"), "'/': integer overflow at 27");
  EXPECT_EQ(eval_error_of("(-9223372036854775807 - 1) % -1"), "'%': integer overflow at 27");
  EXPECT_EQ(eval_error_of("-(-9223372036854775807 - 1)"), "'-': integer overflow at 0");
  EXPECT_EQ(eval_error_of("math::abs(-9223372036854775807 - 1)"), "math::abs(): integer overflow at 0");
  EXPECT_EQ(eval_error_of("10.0 ^ 400"), "'^': the result is not a finite number at 5");
  EXPECT_EQ(eval_error_of("1e308 * 10"), "'*': the result is not a finite number at 6");
  EXPECT_EQ(eval_error_of("math::sqrt(-1)"), "math::sqrt(): the result is not a finite number at 0");
  EXPECT_EQ(eval_error_of("math::ln(0)"), "math::ln(): the result is not a finite number at 0");
  EXPECT_EQ(eval_error_of("$1 * 2", {value("a")}), "'*': needs numbers, got string and int at 3");
  EXPECT_EQ(eval_error_of("$1 - 1", {value()}), "'-': needs numbers, got empty and int at 3");
  EXPECT_EQ(eval_error_of("true + 1"), "'+': needs numbers, got boolean and int at 5");
  EXPECT_EQ(eval_error_of("'a' + ()"), "'+': concatenates strings, numbers and booleans, got string and empty at 4");
  EXPECT_EQ(eval_error_of("'a' + $1", {value::array({1})}),
            "'+': concatenates strings, numbers and booleans, got string and tuple at 4");
  EXPECT_EQ(eval_error_of("-'a'"), "'-': needs a number, got string at 0");
  EXPECT_EQ(eval_error_of("!1"), "'!': needs a boolean, got int at 0");
  EXPECT_EQ(eval_error_of("1 && true"), "'&&': needs booleans, got int at 2");
  EXPECT_EQ(eval_error_of("true && 1"), "'&&': needs booleans, got int at 5");
  EXPECT_EQ(eval_error_of("false || 'x'"), "'||': needs booleans, got string at 6");
  EXPECT_EQ(eval_error_of("1 < 'a'"),
            "'<': compares two numbers, two strings or two booleans, got int and string at 2");
  EXPECT_EQ(eval_error_of("() >= 1"),
            "'>=': compares two numbers, two strings or two booleans, got empty and int at 3");
  EXPECT_EQ(eval_error_of("1 < 2 < 3"),
            "'<': compares two numbers, two strings or two booleans, got boolean and int at 6");
  EXPECT_EQ(eval_error_of("if(1, 2, 3)"), "if(): needs a boolean condition, got int at 0");
  EXPECT_EQ(eval_error_of("cToF($1)", {value("20")}), "cToF(): needs a number, got string at 0");
  EXPECT_EQ(eval_error_of("cToF($1)", {value()}), "cToF(): needs a number, got empty at 0");
  EXPECT_EQ(eval_error_of("scale(1, 5, 5, 0, 1)"), "scale(): the source range is empty (srcLo == srcHi) at 0");
  EXPECT_EQ(eval_error_of("round_n(1.5, 16)"), "round_n(): decimals must be 0 to 15, got 16 at 0");
  EXPECT_EQ(eval_error_of("round_n(1.5, -1)"), "round_n(): decimals must be 0 to 15, got -1 at 0");
  EXPECT_EQ(eval_error_of("round_n(1.5, 1.0)"), "round_n(): needs an int, got float at 0");
  EXPECT_EQ(eval_error_of("len(5)"), "len(): needs a string or a tuple, got int at 0");
  EXPECT_EQ(eval_error_of("str::to_uppercase(5)"), "str::to_uppercase(): needs a string, got int at 0");
  EXPECT_EQ(eval_error_of("str::substring('abc', 2, 1)"), "str::substring(): range 2..1 is outside 0..3 at 0");
  EXPECT_EQ(eval_error_of("str::substring('abc', 0, 4)"), "str::substring(): range 0..4 is outside 0..3 at 0");
  EXPECT_EQ(eval_error_of("str::substring('abc', -1, 2)"), "str::substring(): range -1..2 is outside 0..3 at 0");
  EXPECT_EQ(eval_error_of("min($1)", {value::array()}), "min(): needs at least one number at 0");
  EXPECT_EQ(eval_error_of("max(1, 'a')"), "max(): needs numbers, got string at 0");
  EXPECT_EQ(eval_error_of("avg($1)", {value::array()}), "avg(): needs at least one number at 0");
  EXPECT_EQ(eval_error_of("take(1, 1)"), "take(): needs a tuple, got int at 0");
  EXPECT_EQ(eval_error_of("take((1, 2), -1)"), "take(): needs a count >= 0 at 0");
  EXPECT_EQ(eval_error_of("contains('abc', 'b')"), "contains(): needs a tuple, got string at 0");
  EXPECT_EQ(eval_error_of("contains_any((1), (1))"), "contains_any(): needs a tuple, got int at 0");
  EXPECT_EQ(eval_error_of("math::pow('a', 2)"), "math::pow(): needs a number, got string at 0");
  // The innermost failing node is named.
  EXPECT_EQ(eval_error_of("1 + cToF(1 / 0)"), "'/': division by zero at 11");
}

TEST(ExprEvaluationErrors, FewerInputsThanCompiledFor) {
  compile_error err;
  const auto e = expression::compile("$1 + $2", 2, err);
  ASSERT_TRUE(e);
  const std::vector<value> one{value(1)};
  try {
    e->evaluate(one);
    FAIL() << "no error";
  } catch (const evaluation_error& x) {
    EXPECT_STREQ(x.what(), "$2 but only 1 inputs given at 5");
  }
}

TEST(ExprLimits, LengthIsBounded) {
  std::string ok(max_expression_length - 1, ' ');
  ok += "1";
  EXPECT_EQ(compile_error_of(ok), "");
  EXPECT_EQ(compile_error_of(ok + " "), "expression longer than 4096 bytes at 4096");
}

TEST(ExprLimits, NestingIsBoundedWithoutOverflowingTheStack) {
  const auto nested = [](std::size_t n, std::string_view open, std::string_view mid, std::string_view close) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += open;
    s += mid;
    for (std::size_t i = 0; i < n; ++i) s += close;
    return s;
  };
  EXPECT_EQ(eval(nested(64, "(", "1", ")")), 1);
  EXPECT_EQ(compile_error_of(nested(65, "(", "1", ")")), "expression nested deeper than 64 levels at 65");
  EXPECT_NE(compile_error_of(nested(2000, "(", "1", ")")), "");  // "((((..." from an API user
  EXPECT_NE(compile_error_of(nested(2000, "(", "1", "")), "");
  EXPECT_NE(compile_error_of(nested(2000, "-", "1", "")), "");
  EXPECT_NE(compile_error_of(nested(2000, "!", "true", "")), "");
  EXPECT_NE(compile_error_of(nested(2000, "2^", "1", "")), "");
  EXPECT_NE(compile_error_of(nested(1000, "min(", "1", ")")), "");
  EXPECT_EQ(eval(nested(30, "math::abs(", "-1", ")")), 1);
  // Operator chains build tree height, not parser depth: bounded the same way.
  std::string chain = "1";
  for (int i = 0; i < 62; ++i) chain += "+1";
  expect_int(eval(chain), 63);
  for (int i = 0; i < 200; ++i) chain += "+1";
  EXPECT_EQ(compile_error_of(chain), "expression nested deeper than 64 levels at 127");
}

TEST(ExprLimits, InputsAreBounded) {
  EXPECT_EQ(compile_error_of("1", max_inputs), "");
  EXPECT_EQ(compile_error_of("1", max_inputs + 1), "more than 255 inputs at 0");
}

}  // namespace
}  // namespace edgemq::dataflow::expr::test
