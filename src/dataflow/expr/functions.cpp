#include "dataflow/expr/functions.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "dataflow/expr/values.hpp"

namespace edgemq::dataflow::expr {
namespace {

using args_t = std::span<const value>;
constexpr std::uint8_t any = 255;

// --- unit conversions: one number in, a float out (AIO: "accept a single numeric value and
// return a float"); the factors are AIO's.
value c_to_f(args_t a) {
  return make_float(as_double(a[0]) * 9.0 / 5.0 + 32.0);
}
value f_to_c(args_t a) {
  return make_float((as_double(a[0]) - 32.0) * 5.0 / 9.0);
}
value psi_to_bar(args_t a) {
  return make_float(as_double(a[0]) * 0.0689476);
}
value bar_to_psi(args_t a) {
  return make_float(as_double(a[0]) / 0.0689476);
}
value in_to_cm(args_t a) {
  return make_float(as_double(a[0]) * 2.54);
}
value cm_to_in(args_t a) {
  return make_float(as_double(a[0]) / 2.54);
}
value ft_to_m(args_t a) {
  return make_float(as_double(a[0]) * 0.3048);
}
value m_to_ft(args_t a) {
  return make_float(as_double(a[0]) / 0.3048);
}
value lb_to_kg(args_t a) {
  return make_float(as_double(a[0]) * 0.453592);
}
value kg_to_lb(args_t a) {
  return make_float(as_double(a[0]) / 0.453592);
}
value gal_to_l(args_t a) {
  return make_float(as_double(a[0]) * 3.78541);
}
value l_to_gal(args_t a) {
  return make_float(as_double(a[0]) / 3.78541);
}

// --- scaling and rounding
value scale(args_t a) {
  const double v = as_double(a[0]), sl = as_double(a[1]), sh = as_double(a[2]), dl = as_double(a[3]),
               dh = as_double(a[4]);
  if (sh == sl) throw fault{"the source range is empty (srcLo == srcHi)"};
  return make_float((v - sl) * (dh - dl) / (sh - sl) + dl);
}

value round_n(args_t a) {
  const double v = as_double(a[0]);
  const auto n = as_int(a[1]);
  if (n < 0 || n > 15) throw fault{"decimals must be 0 to 15, got " + std::to_string(n)};
  const double f = std::pow(10.0, static_cast<double>(n));
  const double r = std::round(v * f) / f;
  return make_float(std::isfinite(r) ? r : v);  // v * f beyond double range: v has no more decimals
}

// floor/round/ceil: an int stays the same int; a float gives a float (as the math library does).
template <double (*F)(double)>
value integral(args_t a) {
  if (kind_of(a[0]) == kind::integer) return a[0];
  return make_float(F(as_double(a[0])));
}

// --- math::
template <double (*F)(double)>
value math1(args_t a) {
  return make_float(F(as_double(a[0])));
}
template <double (*F)(double, double)>
value math2(args_t a) {
  return make_float(F(as_double(a[0]), as_double(a[1])));
}
double ln(double x) {
  return std::log(x);
}
double log_base(double x, double base) {
  return std::log(x) / std::log(base);
}
double exp2(double x) {
  return std::exp2(x);
}

value abs(args_t a) {
  if (kind_of(a[0]) == kind::integer) {
    const auto i = a[0].get<std::int64_t>();
    if (i == INT64_MIN) throw fault{"integer overflow"};
    return value(i < 0 ? -i : i);
  }
  return make_float(std::fabs(as_double(a[0])));
}

// --- strings
const std::string& text_arg(const value& v) {
  if (kind_of(v) != kind::string) type_fault("needs a string", v);
  return v.get_ref<const std::string&>();
}

value len(args_t a) {
  if (a.size() > 1) return value(static_cast<std::int64_t>(a.size()));  // len(1, 2, 3): a tuple of 3
  switch (kind_of(a[0])) {
    case kind::string:
      return value(static_cast<std::int64_t>(char_count(a[0].get_ref<const std::string&>())));
    case kind::tuple:
      return value(static_cast<std::int64_t>(a[0].size()));
    default:
      type_fault("needs a string or a tuple", a[0]);
  }
}

// ASCII case mapping only (no Unicode tables in a pure, dependency-free library): other
// characters are kept as they are.
value to_lowercase(args_t a) {
  auto s = text_arg(a[0]);
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return value(std::move(s));
}
value to_uppercase(args_t a) {
  auto s = text_arg(a[0]);
  for (auto& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return value(std::move(s));
}

value trim(args_t a) {
  const auto& s = text_arg(a[0]);
  constexpr std::string_view ws = " \t\n\r\f\v";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return value("");
  return value(s.substr(b, s.find_last_not_of(ws) - b + 1));
}

value from(args_t a) {
  return value(to_text(a[0]));
}

value substring(args_t a) {
  const auto& s = text_arg(a[0]);
  const auto start = as_int(a[1]), end = as_int(a[2]);
  const auto n = static_cast<std::int64_t>(char_count(s));
  if (start < 0 || start > end || end > n)
    throw fault{"range " + std::to_string(start) + ".." + std::to_string(end) + " is outside 0.." + std::to_string(n)};
  const auto b = char_offset(s, static_cast<std::size_t>(start));
  const auto e = char_offset(s, static_cast<std::size_t>(end));
  return value(s.substr(b, e - b));
}

// --- collections
// min(2, 3, 1) and min($1) with $1 = [2, 3, 1] both mean the elements.
args_t elements(args_t a) {
  if (a.size() == 1 && kind_of(a[0]) == kind::tuple) return a[0].get_ref<const value::array_t&>();
  return a;
}

template <bool Max>
value extreme(args_t a) {
  const auto e = elements(a);
  if (e.empty()) throw fault{"needs at least one number"};
  const value* best = nullptr;
  for (const auto& v : e) {
    if (!is_number(v)) type_fault("needs numbers", v);
    if (!best) {
      best = &v;
      continue;
    }
    const bool both_int = kind_of(v) == kind::integer && kind_of(*best) == kind::integer;
    const bool better = both_int ? (Max ? v.get<std::int64_t>() > best->get<std::int64_t>()
                                        : v.get<std::int64_t>() < best->get<std::int64_t>())
                                 : (Max ? as_double(v) > as_double(*best) : as_double(v) < as_double(*best));
    if (better) best = &v;
  }
  return *best;
}

value avg(args_t a) {
  const auto e = elements(a);
  if (e.empty()) throw fault{"needs at least one number"};
  double sum = 0;
  for (const auto& v : e) sum += as_double(v);
  return make_float(sum / static_cast<double>(e.size()));
}

const value::array_t& tuple_arg(const value& v) {
  if (kind_of(v) != kind::tuple) type_fault("needs a tuple", v);
  return v.get_ref<const value::array_t&>();
}

value take(args_t a) {
  const auto& t = tuple_arg(a[0]);
  const auto n = as_int(a[1]);
  if (n < 0) throw fault{"needs a count >= 0"};
  const auto k = std::min<std::size_t>(t.size(), static_cast<std::size_t>(n));
  return value(value::array_t(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(k)));
}

value contains(args_t a) {
  const auto& t = tuple_arg(a[0]);
  return value(std::any_of(t.begin(), t.end(), [&](const value& e) { return equal(e, a[1]); }));
}

value contains_any(args_t a) {
  const auto& t = tuple_arg(a[0]);
  const auto& c = tuple_arg(a[1]);
  return value(std::any_of(c.begin(), c.end(), [&](const value& x) {
    return std::any_of(t.begin(), t.end(), [&](const value& e) { return equal(e, x); });
  }));
}

value type_of(args_t a) {
  return value(std::string(type_name(a[0])));
}

constexpr std::array table = std::to_array<function_def>({
    {"abs", 1, 1, abs},    // older AIO pages: abs($1 - $2)
    {"avg", 1, any, avg},  // older AIO pages: "Aggregation (for example, avg())"
    {"barToPsi", 1, 1, bar_to_psi},
    {"cToF", 1, 1, c_to_f},
    {"ceil", 1, 1, integral<std::ceil>},
    {"cmToIn", 1, 1, cm_to_in},
    {"contains", 2, 2, contains},
    {"contains_any", 2, 2, contains_any},
    {"fToC", 1, 1, f_to_c},
    {"floor", 1, 1, integral<std::floor>},
    {"ftToM", 1, 1, ft_to_m},
    {"galToL", 1, 1, gal_to_l},
    {"inToCm", 1, 1, in_to_cm},
    {"kgToLb", 1, 1, kg_to_lb},
    {"lToGal", 1, 1, l_to_gal},
    {"lbToKg", 1, 1, lb_to_kg},
    {"len", 1, any, len},
    {"mToFt", 1, 1, m_to_ft},
    {"math::abs", 1, 1, abs},
    {"math::acos", 1, 1, math1<std::acos>},
    {"math::asin", 1, 1, math1<std::asin>},
    {"math::atan", 1, 1, math1<std::atan>},
    {"math::atan2", 2, 2, math2<std::atan2>},
    {"math::cbrt", 1, 1, math1<std::cbrt>},
    {"math::cos", 1, 1, math1<std::cos>},
    {"math::exp", 1, 1, math1<std::exp>},
    {"math::exp2", 1, 1, math1<exp2>},
    {"math::hypot", 2, 2, math2<std::hypot>},
    {"math::ln", 1, 1, math1<ln>},
    {"math::log", 2, 2, math2<log_base>},
    {"math::log10", 1, 1, math1<std::log10>},
    {"math::log2", 1, 1, math1<std::log2>},
    {"math::pow", 2, 2, math2<std::pow>},
    {"math::sin", 1, 1, math1<std::sin>},
    {"math::sqrt", 1, 1, math1<std::sqrt>},
    {"math::tan", 1, 1, math1<std::tan>},
    {"max", 1, any, extreme<true>},
    {"min", 1, any, extreme<false>},
    {"psiToBar", 1, 1, psi_to_bar},
    {"round", 1, 1, integral<std::round>},
    {"round_n", 2, 2, round_n},
    {"scale", 5, 5, scale},
    {"sqrt", 1, 1, math1<std::sqrt>},  // older AIO pages: "functions like sqrt"
    {"str::from", 1, 1, from},
    {"str::substring", 3, 3, substring},
    {"str::to_lowercase", 1, 1, to_lowercase},
    {"str::to_uppercase", 1, 1, to_uppercase},
    {"str::trim", 1, 1, trim},
    {"take", 2, 2, take},  // older AIO pages: take($1, 10)
    {"typeof", 1, 1, type_of},
    {"uppercase", 1, 1, to_uppercase},  // older AIO pages: "for example, uppercase()"
});

}  // namespace

std::span<const function_def> functions() {
  return table;
}

int find_function(std::string_view name) {
  const auto it = std::lower_bound(table.begin(), table.end(), name,
                                   [](const function_def& f, std::string_view n) { return f.name < n; });
  return it != table.end() && it->name == name ? static_cast<int>(it - table.begin()) : -1;
}

std::string_view unsupported_function(std::string_view name) {
  if (name == "str::regex_matches" || name == "str::regex_replace")
    return "is available in AIO data flow graphs only, not in a Dataflow's builtInTransformation";
  if (name == "average" || name == "sum" || name == "count" || name == "first" || name == "last")
    return "is an aggregation of AIO data flow graph window transforms, not available in a Dataflow";
  return {};
}

}  // namespace edgemq::dataflow::expr
