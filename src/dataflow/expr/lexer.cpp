#include "dataflow/expr/lexer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace edgemq::dataflow::expr {

void set_error(compile_error& err, std::size_t offset, std::string message) {
  err.offset = offset;
  err.message = std::move(message) + " at " + std::to_string(offset);
}

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

// A character for an error message: printable ASCII as itself, anything else as a byte value, so
// client-supplied text never puts control characters into messages.
std::string shown(char c) {
  if (c >= 0x20 && c < 0x7F) return std::string("'") + c + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02X", static_cast<unsigned>(static_cast<unsigned char>(c)));
  return buf;
}

class lexer {
 public:
  lexer(std::string_view text, compile_error& err) : s_(text), err_(err) {}

  std::optional<std::vector<token>> run() {
    std::vector<token> out;
    while (true) {
      while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
      token t;
      t.offset = i_;
      if (i_ == s_.size()) {
        out.push_back(std::move(t));
        return out;
      }
      if (!next(t)) return std::nullopt;
      t.text = s_.substr(t.offset, i_ - t.offset);
      out.push_back(std::move(t));
    }
  }

 private:
  bool fail(std::size_t at, std::string message) {
    set_error(err_, at, std::move(message));
    return false;
  }

  bool next(token& t) {
    const char c = s_[i_];
    if (is_digit(c)) return number(t);
    if (c == '"' || c == '\'') return string(t);
    if (c == '$') return input(t);
    if (is_name_start(c)) return name(t);
    const auto two = s_.substr(i_, 2);
    struct pair_op {
      std::string_view text;
      tok kind;
    };
    static constexpr pair_op pairs[] = {{"==", tok::eq}, {"!=", tok::ne},   {"<=", tok::le},
                                        {">=", tok::ge}, {"&&", tok::and_}, {"||", tok::or_}};
    for (const auto& p : pairs)
      if (two == p.text) {
        t.kind = p.kind;
        i_ += 2;
        return true;
      }
    switch (c) {
      case '(':
        t.kind = tok::lparen;
        break;
      case ')':
        t.kind = tok::rparen;
        break;
      case ',':
        t.kind = tok::comma;
        break;
      case '+':
        t.kind = tok::plus;
        break;
      case '-':
        t.kind = tok::minus;
        break;
      case '*':
        t.kind = tok::star;
        break;
      case '/':
        t.kind = tok::slash;
        break;
      case '%':
        t.kind = tok::percent;
        break;
      case '^':
        t.kind = tok::caret;
        break;
      case '!':
        t.kind = tok::bang;
        break;
      case '<':
        t.kind = tok::lt;
        break;
      case '>':
        t.kind = tok::gt;
        break;
      case '=':
        return fail(i_, "'=' is not an operator (comparison is '==')");
      case '&':
        return fail(i_, "'&' is not an operator (logical AND is '&&')");
      case '|':
        return fail(i_, "'|' is not an operator (logical OR is '||')");
      default:
        return fail(i_, "unexpected " + shown(c));
    }
    ++i_;
    return true;
  }

  bool number(token& t) {
    const auto start = i_;
    bool is_float = false;
    while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    if (i_ + 1 < s_.size() && s_[i_] == '.' && is_digit(s_[i_ + 1])) {
      is_float = true;
      ++i_;
      while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      auto j = i_ + 1;
      if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) ++j;
      if (j < s_.size() && is_digit(s_[j])) {
        is_float = true;
        i_ = j;
        while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
      }
    }
    if (i_ < s_.size() && (is_name_char(s_[i_]) || s_[i_] == '.'))
      return fail(i_, "unexpected " + shown(s_[i_]) + " after a number");
    const char* b = s_.data() + start;
    const char* e = s_.data() + i_;
    if (is_float) {
      t.kind = tok::floating;
      const auto r = std::from_chars(b, e, t.floating);
      if (r.ec != std::errc{} || !std::isfinite(t.floating)) return fail(start, "number out of range");
    } else {
      t.kind = tok::integer;
      const auto r = std::from_chars(b, e, t.integer);
      if (r.ec != std::errc{}) return fail(start, "integer out of range (64-bit)");
    }
    return true;
  }

  bool string(token& t) {
    const auto start = i_;
    const char quote = s_[i_++];
    t.kind = tok::string;
    while (true) {
      if (i_ >= s_.size()) return fail(start, "unterminated string");
      const char c = s_[i_++];
      if (c == quote) return true;
      if (c != '\\') {
        t.string += c;
        continue;
      }
      if (i_ >= s_.size()) return fail(start, "unterminated string");
      const char x = s_[i_++];
      switch (x) {
        case '\\':
          t.string += '\\';
          break;
        case '"':
          t.string += '"';
          break;
        case '\'':
          t.string += '\'';
          break;
        case 'n':
          t.string += '\n';
          break;
        case 't':
          t.string += '\t';
          break;
        case 'r':
          t.string += '\r';
          break;
        default:
          return fail(i_ - 2, "unknown escape \\ followed by " + shown(x) + " (known: \\\\ \\\" \\' \\n \\t \\r)");
      }
    }
  }

  bool input(token& t) {
    const auto start = i_++;
    if (i_ < s_.size() && is_name_start(s_[i_])) {
      while (i_ < s_.size() && is_name_char(s_[i_])) ++i_;
      return fail(start, "'" + std::string(s_.substr(start, i_ - start)) +
                             "' belongs in the rule's inputs, not in its expression (use $1..$n)");
    }
    if (i_ >= s_.size() || !is_digit(s_[i_])) return fail(start, "'$' must be followed by an input number ($1..$n)");
    while (i_ < s_.size() && is_digit(s_[i_])) ++i_;
    t.kind = tok::input;
    const auto r = std::from_chars(s_.data() + start + 1, s_.data() + i_, t.integer);
    if (r.ec != std::errc{}) t.integer = INT64_MAX;  // far beyond any rule's inputs: reported by the parser
    return true;
  }

  bool name(token& t) {
    t.kind = tok::name;
    while (true) {
      while (i_ < s_.size() && is_name_char(s_[i_])) ++i_;
      if (s_.substr(i_, 2) == "::" && i_ + 2 < s_.size() && is_name_start(s_[i_ + 2])) {
        i_ += 2;
        continue;
      }
      return true;
    }
  }

  std::string_view s_;
  compile_error& err_;
  std::size_t i_ = 0;
};

}  // namespace

std::optional<std::vector<token>> tokenize(std::string_view text, compile_error& err) {
  return lexer(text, err).run();
}

}  // namespace edgemq::dataflow::expr
