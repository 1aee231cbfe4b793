// The operators, their types and their precedence (docs/dataflows.md "Operators").
#include "expr_test_support.hpp"

namespace edgemq::dataflow::expr::test {
namespace {

TEST(ExprLiterals, NumbersStringsBooleansEmpty) {
  expect_int(eval("42"), 42);
  expect_float(eval("2.5"), 2.5);
  expect_float(eval("1.5e3"), 1500.0);
  expect_float(eval("2E-1"), 0.2);
  expect_float(eval("10e0"), 10.0);
  EXPECT_EQ(eval(R"("hello")"), "hello");
  EXPECT_EQ(eval("'single'"), "single");
  EXPECT_EQ(eval(R"("a\"b\\c\n\t\r'")"), "a\"b\\c\n\t\r'");
  EXPECT_EQ(eval(R"('it\'s')"), "it's");
  EXPECT_EQ(eval("true"), true);
  EXPECT_EQ(eval("false"), false);
  EXPECT_TRUE(eval("()").is_null());
  expect_int(eval("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(eval("  \t\n 7 \r\n"), 7);
}

TEST(ExprInputs, DollarNIsTheNthInputAndPassesAnyJsonThrough) {
  EXPECT_EQ(eval("$1", {value(5)}), 5);
  EXPECT_EQ(eval("$2", {value(5), value("x")}), "x");
  const auto obj = value::parse(R"({"a":{"b":[1,2]}})");
  EXPECT_EQ(eval("$1", {obj}), obj);
  EXPECT_EQ(eval("$1", {value::array({1, 2})}), value::array({1, 2}));
  EXPECT_TRUE(eval("$1", {value()}).is_null());
  // An unsigned JSON number beyond int64 is a float, as AIO's int is 64-bit signed.
  expect_float(eval("$1 + 0", {value(std::uint64_t{18446744073709551615ULL})}), 18446744073709551615.0);
  expect_int(eval("$1 + 1", {value(std::uint64_t{41})}), 42);
}

TEST(ExprArithmetic, IntsStayIntsAndAFloatMakesAFloat) {
  expect_int(eval("1 + 2"), 3);
  expect_int(eval("5 - 7"), -2);
  expect_int(eval("6 * 7"), 42);
  expect_int(eval("7 / 2"), 3);  // "Result is an integer if both arguments are integers"
  expect_int(eval("-7 / 2"), -3);
  expect_int(eval("7 % 3"), 1);
  expect_int(eval("-7 % 3"), -1);
  expect_float(eval("7.0 / 2"), 3.5);
  expect_float(eval("7 / 2.0"), 3.5);
  expect_float(eval("1 + 0.5"), 1.5);
  expect_float(eval("0.5 * 4"), 2.0);
  expect_float(eval("3.5 - 1"), 2.5);
  expect_float(eval("7.5 % 2"), 1.5);
  expect_float(eval("2 ^ 3"), 8.0);  // exponentiation gives a float
  expect_float(eval("2 ^ -1"), 0.5);
  expect_float(eval("4 ^ 0.5"), 2.0);
  expect_float(eval("($1 + $2) / 2", {value(0.42), value(0.67)}), (0.42 + 0.67) / 2);
  expect_float(eval("$1 * 9/5 + 32", {value(20.0)}), 68.0);
  expect_int(eval("$1 * 9/5 + 32", {value(20)}), 68);
}

TEST(ExprArithmetic, UnaryMinus) {
  expect_int(eval("-5"), -5);
  expect_int(eval("--5"), 5);
  expect_float(eval("-2.5"), -2.5);
  expect_int(eval("-$1", {value(3)}), -3);
  expect_int(eval("-9223372036854775807 - 1"), INT64_MIN);
}

TEST(ExprArithmetic, PlusConcatenatesWhenEitherSideIsAString) {
  EXPECT_EQ(eval(R"($1 + ", " + $2)", {value("Analyst"), value("Kent, WA")}), "Analyst, Kent, WA");
  EXPECT_EQ(eval(R"("n=" + 5)"), "n=5");
  EXPECT_EQ(eval(R"(2.5 + "x")"), "2.5x");
  EXPECT_EQ(eval(R"("t" + true)"), "ttrue");
  EXPECT_EQ(eval(R"("" + "")"), "");
  EXPECT_EQ(eval(R"(1 + 2 + "a")"), "3a");  // left to right
}

TEST(ExprComparison, NumbersStringsBooleans) {
  EXPECT_EQ(eval("1 < 2"), true);
  EXPECT_EQ(eval("2 < 1"), false);
  EXPECT_EQ(eval("2 <= 2"), true);
  EXPECT_EQ(eval("3 <= 2"), false);
  EXPECT_EQ(eval("3 > 2"), true);
  EXPECT_EQ(eval("2 > 2"), false);
  EXPECT_EQ(eval("2 >= 2"), true);
  EXPECT_EQ(eval("1 >= 2"), false);
  EXPECT_EQ(eval("1 < 1.5"), true);
  EXPECT_EQ(eval("1.5 > 1"), true);
  EXPECT_EQ(eval(R"("abc" < "abd")"), true);
  EXPECT_EQ(eval(R"("b" >= "a")"), true);
  EXPECT_EQ(eval("false < true"), true);
  EXPECT_EQ(eval("$1 <= 20", {value(20)}), true);
  EXPECT_EQ(eval("$1 <= 20", {value(20.5)}), false);
}

TEST(ExprComparison, EqualityAcrossTypes) {
  EXPECT_EQ(eval("1 == 1"), true);
  EXPECT_EQ(eval("1 == 1.0"), true);  // JSON does not say whether 20 or 20.0 was meant
  EXPECT_EQ(eval("1 != 2"), true);
  EXPECT_EQ(eval("1 != 1"), false);
  EXPECT_EQ(eval(R"("a" == "a")"), true);
  EXPECT_EQ(eval(R"("1" == 1)"), false);
  EXPECT_EQ(eval(R"("1" != 1)"), true);
  EXPECT_EQ(eval("true == true"), true);
  EXPECT_EQ(eval("() == ()"), true);
  EXPECT_EQ(eval("$1 == ()", {value()}), true);
  EXPECT_EQ(eval("$1 == ()", {value(0)}), false);
  EXPECT_EQ(eval("$1 != ()", {value("x")}), true);
  EXPECT_EQ(eval("(1, 2) == (1, 2.0)"), true);
  EXPECT_EQ(eval("(1, 2) == (1, 2, 3)"), false);
  EXPECT_EQ(eval("$1 == (1, \"a\")", {value::array({1, "a"})}), true);
  EXPECT_EQ(eval("$1 == $2", {value::parse(R"({"a":1})"), value::parse(R"({"a":1})")}), true);
}

TEST(ExprLogic, AndOrNotShortCircuit) {
  EXPECT_EQ(eval("true && true"), true);
  EXPECT_EQ(eval("true && false"), false);
  EXPECT_EQ(eval("false || true"), true);
  EXPECT_EQ(eval("false || false"), false);
  EXPECT_EQ(eval("!true"), false);
  EXPECT_EQ(eval("!!true"), true);
  EXPECT_EQ(eval("$1 > 100 && $2 > 200", {value(101), value(201)}), true);
  // The right side is not evaluated when the left decides.
  EXPECT_EQ(eval("false && 1 / 0 == 1"), false);
  EXPECT_EQ(eval("true || 1 / 0 == 1"), true);
  EXPECT_EQ(eval(R"($1 == "a" || $1 == "b")", {value("b")}), true);
}

TEST(ExprTuples, ParenthesisedListIsAnArray) {
  EXPECT_EQ(eval("($1, $2, $3, $4)", {value(1), value(2.5), value("x"), value()}),
            value::parse(R"([1, 2.5, "x", null])"));
  EXPECT_EQ(eval("(1, (2, 3))"), value::parse("[1, [2, 3]]"));
  EXPECT_EQ(eval("(1 + 1)"), 2);  // one item in parentheses is just that item
}

TEST(ExprPrecedence, AsAioDocumentsIt) {
  expect_float(eval("$1 * 2 ^ 3", {value(2)}), 16.0);    // exponent first: $1 * 8
  expect_float(eval("($1 * 2) ^ 3", {value(2)}), 64.0);  // parentheses override
  expect_int(eval("-$1 * 2", {value(3)}), -6);           // negation, then multiply
  expect_int(eval("-($1 * 2)", {value(3)}), -6);
  expect_float(eval("-2 ^ 2"), -4.0);      // ^ binds tighter than unary minus
  expect_float(eval("2 ^ 3 ^ 2"), 512.0);  // right associative
  expect_int(eval("$1 + 2 * 3", {value(1)}), 7);
  expect_int(eval("($1 + 2) * 3", {value(1)}), 9);
  expect_int(eval("10 - 4 - 3"), 3);  // left associative
  expect_int(eval("100 / 10 / 5"), 2);
  expect_int(eval("7 % 4 * 2"), 6);
  EXPECT_EQ(eval("$1 * 2 <= $2", {value(5), value(10)}), true);
  EXPECT_EQ(eval("1 < 2 == 2 < 3"), true);          // relational before equality
  EXPECT_EQ(eval("true || false && false"), true);  // && before ||
  EXPECT_EQ(eval("(true || false) && false"), false);
  EXPECT_EQ(eval("!true == false"), true);  // ! before ==
  EXPECT_EQ(eval("1 + 1 == 2 && 3 > 2"), true);
  EXPECT_EQ(eval(R"("a" + 1 + 2)"), "a12");
}

TEST(ExprCompiled, EvaluatesManyTimesWithDifferentInputs) {
  compile_error err;
  const auto e = expression::compile("cToF($1) > $2", 2, err);
  ASSERT_TRUE(e) << err.message;
  for (int c = -40; c <= 100; c += 10) {
    const std::vector<value> in{value(c), value(50)};
    EXPECT_EQ(e->evaluate(in), c * 9.0 / 5 + 32 > 50) << c;
  }
}

}  // namespace
}  // namespace edgemq::dataflow::expr::test
