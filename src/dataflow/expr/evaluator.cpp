// Evaluation of the compiled tree: operators on AIO's types (ints stay ints, checked for
// overflow; a float anywhere makes a float; '+' concatenates when either side is a string), lazy
// && || and if(), and errors that name the operator or function and the offset.
#include <array>
#include <cmath>
#include <string>

#include "dataflow/expr/expression.hpp"
#include "dataflow/expr/functions.hpp"
#include "dataflow/expr/program.hpp"
#include "dataflow/expr/values.hpp"

namespace edgemq::dataflow::expr {
namespace {

std::string_view symbol(op o) {
  switch (o) {
    case op::neg:
      return "-";
    case op::not_:
      return "!";
    case op::pow:
      return "^";
    case op::mul:
      return "*";
    case op::div:
      return "/";
    case op::mod:
      return "%";
    case op::add:
      return "+";
    case op::sub:
      return "-";
    case op::lt:
      return "<";
    case op::le:
      return "<=";
    case op::gt:
      return ">";
    case op::ge:
      return ">=";
    case op::eq:
      return "==";
    case op::ne:
      return "!=";
    case op::and_:
      return "&&";
    case op::or_:
      return "||";
    default:
      return "?";
  }
}

[[noreturn]] void operands_fault(const value& a, const value& b, std::string_view need) {
  throw fault{std::string(need) + ", got " + std::string(type_name(a)) + " and " + std::string(type_name(b))};
}

bool concatenable(const value& v) {
  const auto k = kind_of(v);
  return k == kind::string || k == kind::integer || k == kind::floating || k == kind::boolean;
}

value arithmetic(op o, const value& a, const value& b) {
  if (o == op::add && (kind_of(a) == kind::string || kind_of(b) == kind::string)) {
    if (!concatenable(a) || !concatenable(b)) operands_fault(a, b, "concatenates strings, numbers and booleans");
    return value(to_text(a) + to_text(b));
  }
  if (!is_number(a) || !is_number(b)) operands_fault(a, b, "needs numbers");
  if (o == op::pow) return make_float(std::pow(as_double(a), as_double(b)));  // always a float
  if (kind_of(a) == kind::integer && kind_of(b) == kind::integer) {
    const auto x = a.get<std::int64_t>(), y = b.get<std::int64_t>();
    std::int64_t r = 0;
    bool overflow = false;
    switch (o) {
      case op::add:
        overflow = __builtin_add_overflow(x, y, &r);
        break;
      case op::sub:
        overflow = __builtin_sub_overflow(x, y, &r);
        break;
      case op::mul:
        overflow = __builtin_mul_overflow(x, y, &r);
        break;
      case op::div:
      case op::mod:
        if (y == 0) throw fault{"division by zero"};
        if (x == INT64_MIN && y == -1) throw fault{"integer overflow"};
        r = o == op::div ? x / y : x % y;  // truncated toward zero, as AIO (Rust) does
        break;
      default:
        break;
    }
    if (overflow) throw fault{"integer overflow"};
    return value(r);
  }
  const double x = as_double(a), y = as_double(b);
  switch (o) {
    case op::add:
      return make_float(x + y);
    case op::sub:
      return make_float(x - y);
    case op::mul:
      return make_float(x * y);
    case op::div:
      if (y == 0) throw fault{"division by zero"};
      return make_float(x / y);
    case op::mod:
      if (y == 0) throw fault{"division by zero"};
      return make_float(std::fmod(x, y));
    default:
      return {};
  }
}

// <0, 0, >0 for two numbers, two strings or two booleans.
int order(const value& a, const value& b) {
  const auto ka = kind_of(a), kb = kind_of(b);
  if (ka == kind::integer && kb == kind::integer) {
    const auto x = a.get<std::int64_t>(), y = b.get<std::int64_t>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (is_number(a) && is_number(b)) {
    const double x = as_double(a), y = as_double(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (ka == kind::string && kb == kind::string)
    return a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
  if (ka == kind::boolean && kb == kind::boolean)
    return static_cast<int>(a.get<bool>()) - static_cast<int>(b.get<bool>());
  operands_fault(a, b, "compares two numbers, two strings or two booleans");
}

bool truth(const value& v, std::string_view what) {
  if (kind_of(v) != kind::boolean) type_fault(what, v);
  return v.get<bool>();
}

[[noreturn]] void rethrow(const node& n, const fault& f, std::string_view name) {
  throw evaluation_error(std::string(name) + ": " + f.what + " at " + std::to_string(n.offset));
}

}  // namespace

const value& program::operand(std::uint32_t i, std::span<const value> in, value& tmp) const {
  const node& n = nodes[i];
  if (n.kind == op::literal) return literals[n.a];
  if (n.kind == op::input && n.a < in.size()) return in[n.a];
  tmp = eval(i, in);
  return tmp;
}

value program::eval(std::uint32_t i, std::span<const value> in) const {
  const node& n = nodes[i];
  switch (n.kind) {
    case op::literal:
      return literals[n.a];
    case op::input:
      if (n.a >= in.size())
        throw evaluation_error("$" + std::to_string(n.a + 1) + " but only " + std::to_string(in.size()) +
                               " inputs given at " + std::to_string(n.offset));
      return in[n.a];
    case op::neg: {
      value tmp;
      const auto& v = operand(n.a, in, tmp);
      try {
        if (kind_of(v) == kind::integer) {
          const auto x = v.get<std::int64_t>();
          if (x == INT64_MIN) throw fault{"integer overflow"};
          return value(-x);
        }
        if (kind_of(v) != kind::floating) type_fault("needs a number", v);
        return value(-v.get<double>());
      } catch (const fault& f) {
        rethrow(n, f, "'-'");
      }
    }
    case op::not_: {
      value tmp;
      const auto& v = operand(n.a, in, tmp);
      try {
        return value(!truth(v, "needs a boolean"));
      } catch (const fault& f) {
        rethrow(n, f, "'!'");
      }
    }
    case op::and_:
    case op::or_: {
      const bool is_and = n.kind == op::and_;
      try {
        const bool l = truth(eval(n.a, in), "needs booleans");
        if (l != is_and) return value(l);  // false && ..., true || ...: the right side is not evaluated
        return value(truth(eval(n.b, in), "needs booleans"));
      } catch (const fault& f) {
        rethrow(n, f, is_and ? "'&&'" : "'||'");
      }
    }
    case op::eq:
    case op::ne: {
      value ta, tb;
      const auto& a = operand(n.a, in, ta);
      const auto& b = operand(n.b, in, tb);
      return value(equal(a, b) == (n.kind == op::eq));
    }
    case op::lt:
    case op::le:
    case op::gt:
    case op::ge: {
      value ta, tb;
      const auto& a = operand(n.a, in, ta);
      const auto& b = operand(n.b, in, tb);
      try {
        const int c = order(a, b);
        return value(n.kind == op::lt ? c < 0 : n.kind == op::le ? c <= 0 : n.kind == op::gt ? c > 0 : c >= 0);
      } catch (const fault& f) {
        rethrow(n, f, "'" + std::string(symbol(n.kind)) + "'");
      }
    }
    case op::pow:
    case op::mul:
    case op::div:
    case op::mod:
    case op::add:
    case op::sub: {
      value ta, tb;
      const auto& a = operand(n.a, in, ta);
      const auto& b = operand(n.b, in, tb);
      try {
        return arithmetic(n.kind, a, b);
      } catch (const fault& f) {
        rethrow(n, f, "'" + std::string(symbol(n.kind)) + "'");
      }
    }
    case op::cond: {
      const auto c = eval(args[n.b], in);
      bool pick = false;
      try {
        pick = truth(c, "needs a boolean condition");
      } catch (const fault& f) {
        rethrow(n, f, "if()");
      }
      return eval(args[n.b + (pick ? 1 : 2)], in);
    }
    case op::tuple: {
      value out = value::array();
      out.get_ref<value::array_t&>().reserve(n.count);
      for (std::uint32_t k = 0; k < n.count; ++k) out.push_back(eval(args[n.b + k], in));
      return out;
    }
    case op::call: {
      const auto& f = functions()[n.a];
      std::array<value, 5> small;  // most calls take one to five arguments: no allocation for them
      std::vector<value> big;
      std::span<value> a;
      if (n.count <= small.size()) {
        a = std::span<value>(small.data(), n.count);
      } else {
        big.resize(n.count);
        a = big;
      }
      for (std::uint32_t k = 0; k < n.count; ++k) a[k] = eval(args[n.b + k], in);
      try {
        return f.call(a);
      } catch (const fault& e) {
        rethrow(n, e, std::string(f.name) + "()");
      }
    }
  }
  return {};
}

value expression::evaluate(std::span<const value> inputs) const {
  return program_->eval(program_->root, inputs);
}

}  // namespace edgemq::dataflow::expr
