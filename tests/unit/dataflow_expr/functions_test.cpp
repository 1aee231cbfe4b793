// Every built-in function (docs/dataflows.md "Functions"), with its result type.
#include <cmath>
#include <numbers>

#include "expr_test_support.hpp"

namespace edgemq::dataflow::expr::test {
namespace {

TEST(ExprFunctions, UnitConversionsReturnFloats) {
  expect_float(eval("cToF($1)", {value(20)}), 68.0);
  expect_float(eval("cToF(-40)"), -40.0);
  expect_float(eval("cToF(36.6)"), 36.6 * 9.0 / 5.0 + 32.0);
  expect_float(eval("fToC(212)"), 100.0);
  expect_float(eval("fToC(-40.0)"), -40.0);
  expect_float(eval("psiToBar(100)"), 6.89476);
  expect_float(eval("barToPsi(1)"), 1 / 0.0689476);
  expect_float(eval("inToCm(10)"), 25.4);
  expect_float(eval("cmToIn(25.4)"), 25.4 / 2.54);
  expect_float(eval("ftToM(10)"), 3.048);
  expect_float(eval("mToFt(3.048)"), 3.048 / 0.3048);
  expect_float(eval("lbToKg(2)"), 0.907184);
  expect_float(eval("kgToLb(1)"), 1 / 0.453592);
  expect_float(eval("galToL(2)"), 7.57082);
  expect_float(eval("lToGal(3.78541)"), 1.0);
  EXPECT_NEAR(eval("fToC(cToF(21.5))").get<double>(), 21.5, 1e-12);
}

TEST(ExprFunctions, ScaleAndRoundN) {
  expect_float(eval("scale($1, 0, 10, 0, 100)", {value(2.5)}), 25.0);
  expect_float(eval("scale(5, 0, 10, 100, 200)"), 150.0);
  expect_float(eval("scale(0, -1, 1, 0, 1)"), 0.5);
  expect_float(eval("round_n(3.14159, 2)"), 3.14);
  expect_float(eval("round_n(2.5, 0)"), 3.0);
  expect_float(eval("round_n(-1.005e3, 1)"), -1005.0);
  expect_float(eval("round_n(7, 3)"), 7.0);
  expect_float(eval("round_n(1e300, 15)"), 1e300);  // no decimals left to round
}

TEST(ExprFunctions, FloorRoundCeilKeepIntsAndRoundFloats) {
  expect_float(eval("floor(2.9)"), 2.0);
  expect_float(eval("floor(-2.1)"), -3.0);
  expect_float(eval("round(2.5)"), 3.0);  // half-way away from zero
  expect_float(eval("round(-2.5)"), -3.0);
  expect_float(eval("round(2.4)"), 2.0);
  expect_float(eval("ceil(2.1)"), 3.0);
  expect_float(eval("ceil(-2.9)"), -2.0);
  expect_int(eval("floor(7)"), 7);
  expect_int(eval("round(7)"), 7);
  expect_int(eval("ceil(-7)"), -7);
}

TEST(ExprFunctions, MathLibrary) {
  expect_int(eval("math::abs(-3)"), 3);
  expect_float(eval("math::abs(-2.5)"), 2.5);
  expect_int(eval("abs($1 - $2)", {value(3), value(10)}), 7);
  expect_float(eval("math::sqrt(16)"), 4.0);
  expect_float(eval("sqrt(2.25)"), 1.5);
  expect_float(eval("math::cbrt(27)"), 3.0);
  expect_float(eval("math::ln(1)"), 0.0);
  expect_float(eval("math::ln(2)"), std::log(2.0));
  expect_float(eval("math::log2(8)"), 3.0);
  expect_float(eval("math::log10(1000)"), 3.0);
  expect_float(eval("math::log(8, 2)"), 3.0);
  expect_float(eval("math::exp(0)"), 1.0);
  expect_float(eval("math::exp(1)"), std::numbers::e);
  expect_float(eval("math::exp2(10)"), 1024.0);
  expect_float(eval("math::pow(2, 10)"), 1024.0);
  expect_float(eval("math::pow(9, 0.5)"), 3.0);
  expect_float(eval("math::cos(0)"), 1.0);
  expect_float(eval("math::sin(0)"), 0.0);
  expect_float(eval("math::tan(0)"), 0.0);
  expect_float(eval("math::acos(1)"), 0.0);
  expect_float(eval("math::asin(1)"), std::numbers::pi / 2);
  expect_float(eval("math::atan(1)"), std::numbers::pi / 4);
  expect_float(eval("math::atan2(1, 1)"), std::numbers::pi / 4);
  expect_float(eval("math::atan2(1, -1)"), 3 * std::numbers::pi / 4);
  expect_float(eval("math::hypot(3, 4)"), 5.0);
}

TEST(ExprFunctions, Strings) {
  expect_int(eval(R"(len("Azure"))"), 5);
  expect_int(eval("len($1)", {value("h\xC3\xA9llo")}), 5);  // characters, not bytes
  expect_int(eval("len(1, 2, 3)"), 3);
  expect_int(eval("len($1)", {value::array({1, 2})}), 2);
  expect_int(eval(R"(len(""))"), 0);
  EXPECT_EQ(eval(R"(str::to_lowercase("MiXeD 1"))"), "mixed 1");
  EXPECT_EQ(eval(R"(str::to_uppercase("MiXeD 1"))"), "MIXED 1");
  EXPECT_EQ(eval(R"(uppercase("abc"))"), "ABC");
  EXPECT_EQ(eval(R"(str::trim("  a b \t\n"))"), "a b");
  EXPECT_EQ(eval(R"(str::trim("   "))"), "");
  EXPECT_EQ(eval("str::from(42)"), "42");
  EXPECT_EQ(eval("str::from(20.5)"), "20.5");
  EXPECT_EQ(eval("str::from(3.0)"), "3");
  EXPECT_EQ(eval("str::from(true)"), "true");
  EXPECT_EQ(eval("str::from(())"), "()");
  EXPECT_EQ(eval(R"(str::from("s"))"), "s");
  EXPECT_EQ(eval(R"(str::from((1, "a", 2.5)))"), R"((1, "a", 2.5))");
  EXPECT_EQ(eval("str::from($1)", {value::parse(R"({"k":1})")}), R"({"k":1})");
  EXPECT_EQ(eval(R"(str::substring("Azure IoT", 0, 5))"), "Azure");
  EXPECT_EQ(eval(R"(str::substring("Azure IoT", 6, 9))"), "IoT");
  EXPECT_EQ(eval(R"(str::substring("abc", 1, 1))"), "");
  EXPECT_EQ(eval("str::substring($1, 1, 3)", {value("h\xC3\xA9llo")}), "\xC3\xA9l");
}

TEST(ExprFunctions, ConditionalAndCollections) {
  EXPECT_EQ(eval("if($1 > 10, 'High', 'Low')", {value(11)}), "High");
  EXPECT_EQ(eval("if($1 > 10, 'High', 'Low')", {value(10)}), "Low");
  EXPECT_EQ(eval("if($1 == (), $2, $1)", {value(), value(70000)}), 70000);
  EXPECT_EQ(eval("if($1 == (), $2, $1)", {value(75000), value(70000)}), 75000);
  EXPECT_EQ(eval("if($2 == (), $1, $1 * $2)", {value(3), value()}), 3);
  EXPECT_EQ(eval("if(true, 1, 1 / 0)"), 1);  // only the chosen branch is evaluated
  EXPECT_EQ(eval("if(false, 1 / 0, 2)"), 2);
  expect_int(eval("min(2, 3, 1)"), 1);
  expect_int(eval("max(2, 3, 1)"), 3);
  expect_float(eval("min($1)", {value::parse("[2.34, 12.3, 32.4]")}), 2.34);
  expect_float(eval("max($1)", {value::parse("[2.34, 12.3, 32.4]")}), 32.4);
  expect_float(eval("min(2, 1.5)"), 1.5);
  expect_int(eval("max(2, 1.5)"), 2);  // the element, with its type
  expect_int(eval("min(5)"), 5);
  expect_float(eval("avg(1, 2)"), 1.5);
  expect_float(eval("avg($1)", {value::array({1, 2, 3, 4})}), 2.5);
  EXPECT_EQ(eval("take($1, 2)", {value::array({1, 2, 3})}), value::array({1, 2}));
  EXPECT_EQ(eval("take($1, 10)", {value::array({1, 2, 3})}), value::array({1, 2, 3}));
  EXPECT_EQ(eval("take((1, 2), 0)"), value::array());
  EXPECT_EQ(eval("contains((1, 2, 3), 2)"), true);
  EXPECT_EQ(eval("contains((1, 2, 3), 2.0)"), true);
  EXPECT_EQ(eval("contains($1, 'b')", {value::array({"a", "b"})}), true);
  EXPECT_EQ(eval("contains((1, 2, 3), 4)"), false);
  EXPECT_EQ(eval("contains_any((1, 2, 3), (9, 3))"), true);
  EXPECT_EQ(eval("contains_any((1, 2, 3), (8, 9))"), false);
  EXPECT_EQ(eval("typeof(1)"), "int");
  EXPECT_EQ(eval("typeof(1.5)"), "float");
  EXPECT_EQ(eval("typeof('s')"), "string");
  EXPECT_EQ(eval("typeof(true)"), "boolean");
  EXPECT_EQ(eval("typeof((1, 2))"), "tuple");
  EXPECT_EQ(eval("typeof(())"), "empty");
  EXPECT_EQ(eval("typeof($1)", {value::parse(R"({"a":1})")}), "json");
}

TEST(ExprFunctions, NamesAreSortedAndKnown) {
  const auto names = expression::function_names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_TRUE(std::adjacent_find(names.begin(), names.end()) == names.end());
  for (std::string_view n :
       {"if", "cToF", "lToGal", "scale", "round_n", "math::atan2", "str::substring", "typeof", "contains_any"})
    EXPECT_TRUE(std::binary_search(names.begin(), names.end(), n)) << n;
  // Each one compiles when called with the right number of arguments (an arity check would
  // refuse a table entry whose name the parser does not find).
  for (const auto name : names) {
    std::string call(name);
    call += "(";
    const std::size_t n = name == "scale" ? 5 : name == "if" || name == "str::substring" ? 3 : 1;
    for (std::size_t i = 0; i < n; ++i) call += i ? ", 1" : "1";
    call += ")";
    const auto err = compile_error_of(call);
    EXPECT_TRUE(err.empty() || err.find("takes") != std::string::npos) << call << ": " << err;
  }
}

}  // namespace
}  // namespace edgemq::dataflow::expr::test
