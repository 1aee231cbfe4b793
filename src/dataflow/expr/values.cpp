#include "dataflow/expr/values.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace edgemq::dataflow::expr {

kind kind_of(const value& v) {
  switch (v.type()) {
    case value::value_t::null:
    case value::value_t::discarded:
      return kind::empty;
    case value::value_t::boolean:
      return kind::boolean;
    case value::value_t::number_integer:
      return kind::integer;
    case value::value_t::number_unsigned:
      // Beyond int64 is beyond AIO's int: such a number is a float.
      return v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                 ? kind::integer
                 : kind::floating;
    case value::value_t::number_float:
      return kind::floating;
    case value::value_t::string:
      return kind::string;
    case value::value_t::array:
      return kind::tuple;
    default:
      return kind::json;  // object, binary
  }
}

std::string_view type_name(const value& v) {
  switch (kind_of(v)) {
    case kind::empty:
      return "empty";
    case kind::boolean:
      return "boolean";
    case kind::integer:
      return "int";
    case kind::floating:
      return "float";
    case kind::string:
      return "string";
    case kind::tuple:
      return "tuple";
    case kind::json:
      break;
  }
  return "json";
}

void type_fault(std::string_view what, const value& got) {
  throw fault{std::string(what) + ", got " + std::string(type_name(got))};
}

double as_double(const value& v) {
  switch (kind_of(v)) {
    case kind::integer:
      return static_cast<double>(v.get<std::int64_t>());
    case kind::floating:
      return v.get<double>();
    default:
      type_fault("needs a number", v);
  }
}

std::int64_t as_int(const value& v) {
  if (kind_of(v) != kind::integer) type_fault("needs an int", v);
  return v.get<std::int64_t>();
}

value make_float(double d) {
  if (!std::isfinite(d)) throw fault{"the result is not a finite number"};
  return value(d);
}

namespace {

void append_text(std::string& out, const value& v, bool quote_strings) {
  switch (kind_of(v)) {
    case kind::empty:
      out += "()";
      return;
    case kind::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case kind::integer:
      out += std::to_string(v.get<std::int64_t>());
      return;
    case kind::floating: {
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, v.get<double>());
      out.append(buf, r.ptr);
      return;
    }
    case kind::string:
      if (quote_strings)
        out += value(v.get_ref<const std::string&>()).dump();  // inside a tuple: "a" with escapes
      else
        out += v.get_ref<const std::string&>();
      return;
    case kind::tuple: {
      out += '(';
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ", ";
        first = false;
        append_text(out, e, true);
      }
      out += ')';
      return;
    }
    case kind::json:
      out += v.dump();
      return;
  }
}

}  // namespace

std::string to_text(const value& v) {
  std::string out;
  append_text(out, v, false);
  return out;
}

bool equal(const value& a, const value& b) {
  const auto ka = kind_of(a), kb = kind_of(b);
  if (is_number(a) && is_number(b)) {
    if (ka == kind::integer && kb == kind::integer) return a.get<std::int64_t>() == b.get<std::int64_t>();
    return as_double(a) == as_double(b);
  }
  if (ka != kb) return false;
  if (ka == kind::tuple) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!equal(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

std::size_t char_count(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;  // not a continuation byte
  return n;
}

std::size_t char_offset(std::string_view s, std::size_t n) {
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (n == 0) return i;
    --n;
  }
  return i;
}

}  // namespace edgemq::dataflow::expr
