// expression::compile: precedence climbing over the tokens into the flat tree of program.hpp.
// Precedence, loosest first: || , && , == != , < <= > >= , + - , * / % , unary - ! , ^ (right
// associative, and tighter than unary minus: -2^2 is -4, as AIO documents).
#include <algorithm>
#include <array>
#include <string>

#include "dataflow/expr/expression.hpp"
#include "dataflow/expr/functions.hpp"
#include "dataflow/expr/lexer.hpp"
#include "dataflow/expr/program.hpp"

namespace edgemq::dataflow::expr {
namespace {

constexpr std::uint32_t none = UINT32_MAX;  // a failed parse step; err_ says why

class parser {
 public:
  parser(std::vector<token> toks, std::size_t inputs, compile_error& err)
      : t_(std::move(toks)), err_(err), p_(std::make_shared<program>()) {
    p_->inputs = inputs;
  }

  std::shared_ptr<program> run() {
    const auto root = expression();
    if (root == none) return nullptr;
    if (peek().kind != tok::end) return fail(peek().offset, "unexpected " + describe(peek())), nullptr;
    p_->root = root;
    return std::move(p_);
  }

 private:
  const token& peek() const { return t_[i_]; }
  const token& take() { return t_[i_++]; }  // never past tok::end: callers check it first
  bool accept(tok k) {
    if (peek().kind != k) return false;
    ++i_;
    return true;
  }

  std::uint32_t fail(std::size_t at, std::string message) {
    if (err_.message.empty()) set_error(err_, at, std::move(message));
    return none;
  }

  // A token for an error message: at most 40 bytes, anything but printable ASCII as '?', so the
  // message is safe in logs and in JSON (no control characters, no cut UTF-8 sequence).
  static std::string describe(const token& t) {
    if (t.kind == tok::end) return "end of expression";
    std::string out(t.text.substr(0, 40));
    for (auto& c : out)
      if (c < 0x20 || c > 0x7E) c = '?';
    return "'" + out + "'";
  }

  // Recursion guard: parentheses, arguments, unary operators and exponents each go one level
  // deeper (the whole expression is level 0).
  struct level {
    explicit level(parser& p) : p_(p) { ++p_.depth_; }
    ~level() { --p_.depth_; }
    parser& p_;
  };
  bool too_deep(std::size_t at) {
    if (depth_ <= max_nesting_depth + 1) return false;
    fail(at, "expression nested deeper than " + std::to_string(max_nesting_depth) + " levels");
    return true;
  }

  // Appends a node whose children are `kids`; refuses a tree taller than max_nesting_depth (which
  // bounds the evaluator's recursion: "1+1+1+..." builds height, not parser depth).
  std::uint32_t add(node n, std::initializer_list<std::uint32_t> kids, std::span<const std::uint32_t> more = {}) {
    std::size_t h = 0;
    for (const auto k : kids) h = std::max(h, height_[k]);
    for (const auto k : more) h = std::max(h, height_[k]);
    if (h + 1 > max_nesting_depth)
      return fail(n.offset, "expression nested deeper than " + std::to_string(max_nesting_depth) + " levels");
    p_->nodes.push_back(n);
    height_.push_back(h + 1);
    return static_cast<std::uint32_t>(p_->nodes.size() - 1);
  }

  std::uint32_t literal(std::size_t offset, value v) {
    p_->literals.push_back(std::move(v));
    return add({op::literal, static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(p_->literals.size() - 1)},
               {});
  }

  std::uint32_t binary(op kind, std::size_t offset, std::uint32_t l, std::uint32_t r) {
    return add({kind, static_cast<std::uint32_t>(offset), l, r}, {l, r});
  }

  std::uint32_t with_args(op kind, std::size_t offset, std::uint32_t a, const std::vector<std::uint32_t>& args) {
    node n{kind, static_cast<std::uint32_t>(offset), a, static_cast<std::uint32_t>(p_->args.size()),
           static_cast<std::uint32_t>(args.size())};
    const auto id = add(n, {}, args);
    if (id != none) p_->args.insert(p_->args.end(), args.begin(), args.end());
    return id;
  }

  struct binop {
    tok t;
    op o;
  };

  // One left-associative level: next (op next)*.
  template <std::size_t N>
  std::uint32_t level_of(const std::array<binop, N>& ops, std::uint32_t (parser::*next)()) {
    auto l = (this->*next)();
    while (l != none) {
      const auto it = std::find_if(ops.begin(), ops.end(), [&](const binop& b) { return b.t == peek().kind; });
      if (it == ops.end()) return l;
      const auto at = take().offset;
      const auto r = (this->*next)();
      if (r == none) return none;
      l = binary(it->o, at, l, r);
    }
    return l;
  }

  std::uint32_t expression() {
    level guard(*this);
    if (too_deep(peek().offset)) return none;
    return logical_or();
  }
  std::uint32_t logical_or() { return level_of(std::array{binop{tok::or_, op::or_}}, &parser::logical_and); }
  std::uint32_t logical_and() { return level_of(std::array{binop{tok::and_, op::and_}}, &parser::equality); }
  std::uint32_t equality() {
    return level_of(std::array{binop{tok::eq, op::eq}, binop{tok::ne, op::ne}}, &parser::relational);
  }
  std::uint32_t relational() {
    return level_of(
        std::array{binop{tok::lt, op::lt}, binop{tok::le, op::le}, binop{tok::gt, op::gt}, binop{tok::ge, op::ge}},
        &parser::additive);
  }
  std::uint32_t additive() {
    return level_of(std::array{binop{tok::plus, op::add}, binop{tok::minus, op::sub}}, &parser::multiplicative);
  }
  std::uint32_t multiplicative() {
    return level_of(std::array{binop{tok::star, op::mul}, binop{tok::slash, op::div}, binop{tok::percent, op::mod}},
                    &parser::unary);
  }

  std::uint32_t unary() {
    if (peek().kind == tok::minus || peek().kind == tok::bang) {
      level guard(*this);
      if (too_deep(peek().offset)) return none;
      const auto& t = take();
      const auto kind = t.kind == tok::minus ? op::neg : op::not_;
      const auto at = t.offset;
      const auto operand = unary();
      if (operand == none) return none;
      return add({kind, static_cast<std::uint32_t>(at), operand}, {operand});
    }
    return power();
  }

  std::uint32_t power() {
    const auto base = primary();
    if (base == none || peek().kind != tok::caret) return base;
    const auto at = take().offset;
    level guard(*this);
    if (too_deep(at)) return none;
    const auto exponent = unary();  // right associative; 2 ^ -1 allowed
    if (exponent == none) return none;
    return binary(op::pow, at, base, exponent);
  }

  // `(` already taken: `)` or `expr (, expr)* )`.
  bool list(std::vector<std::uint32_t>& out, std::size_t open) {
    if (accept(tok::rparen)) return true;
    while (true) {
      const auto e = expression();
      if (e == none) return false;
      out.push_back(e);
      if (accept(tok::comma)) continue;
      if (accept(tok::rparen)) return true;
      fail(peek().offset, peek().kind == tok::end ? "missing ')' for '(' at " + std::to_string(open)
                                                  : "expected ',' or ')', got " + describe(peek()));
      return false;
    }
  }

  std::uint32_t primary() {
    const auto& t = peek();
    const auto at = t.offset;
    switch (t.kind) {
      case tok::integer:
        return literal(at, value(take().integer));
      case tok::floating:
        return literal(at, value(take().floating));
      case tok::string:
        return literal(at, value(take().string));
      case tok::input: {
        const auto n = take().integer;
        if (n < 1) return fail(at, "inputs are numbered from $1");
        if (static_cast<std::uint64_t>(n) > p_->inputs)
          return fail(at, "$" + std::to_string(n) + " but only " + std::to_string(p_->inputs) +
                              (p_->inputs == 1 ? " input" : " inputs"));
        return add({op::input, static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(n - 1)}, {});
      }
      case tok::lparen: {
        take();
        std::vector<std::uint32_t> items;
        if (!list(items, at)) return none;
        if (items.empty()) return literal(at, value());  // () : the empty value
        if (items.size() == 1) return items[0];
        return with_args(op::tuple, at, 0, items);
      }
      case tok::name:
        return name();
      case tok::end:
        return fail(at, "expected a value, got end of expression");
      default:
        return fail(at, "expected a value, got " + describe(t));
    }
  }

  std::uint32_t name() {
    const auto& t = take();
    const auto at = t.offset;
    const std::string text(t.text);
    if (text == "true" || text == "false") return literal(at, value(text == "true"));
    const bool is_if = text == "if";
    const int f = is_if ? -1 : find_function(text);
    if (!is_if && f < 0) {
      if (const auto why = unsupported_function(text); !why.empty())
        return fail(at, "function '" + text + "' " + std::string(why));
      if (peek().kind != tok::lparen) return fail(at, "unknown name '" + text.substr(0, 40) + "'");
      return fail(at, "unknown function '" + text.substr(0, 40) + "'");
    }
    if (!accept(tok::lparen)) return fail(at, "function '" + text + "' needs its arguments in parentheses");
    std::vector<std::uint32_t> args;
    if (!list(args, at + text.size())) return none;
    const std::size_t lo = is_if ? 3 : functions()[f].min_args;
    const std::size_t hi = is_if ? 3 : functions()[f].max_args;
    if (args.size() < lo || (hi != 255 && args.size() > hi)) {
      const auto want = lo == hi    ? std::to_string(lo)
                        : hi == 255 ? "at least " + std::to_string(lo)
                                    : std::to_string(lo) + " to " + std::to_string(hi);
      return fail(at, "function '" + text + "' takes " + want +
                          (lo == 1 && (hi == 1 || hi == 255) ? " argument" : " arguments") + ", got " +
                          std::to_string(args.size()));
    }
    if (is_if) return with_args(op::cond, at, 0, args);
    return with_args(op::call, at, static_cast<std::uint32_t>(f), args);
  }

  std::vector<token> t_;
  compile_error& err_;
  std::shared_ptr<program> p_;
  std::vector<std::size_t> height_;
  std::size_t i_ = 0;
  std::size_t depth_ = 0;  // the top-level expression() makes it 1
};

}  // namespace

std::shared_ptr<const expression> expression::compile(std::string_view text, std::size_t inputs, compile_error& err) {
  err = {};
  if (text.size() > max_expression_length) {
    set_error(err, max_expression_length, "expression longer than " + std::to_string(max_expression_length) + " bytes");
    return nullptr;
  }
  if (inputs > max_inputs) {
    set_error(err, 0, "more than " + std::to_string(max_inputs) + " inputs");
    return nullptr;
  }
  auto toks = tokenize(text, err);
  if (!toks) return nullptr;
  if (toks->size() == 1) {
    set_error(err, 0, "empty expression");
    return nullptr;
  }
  auto p = parser(std::move(*toks), inputs, err).run();
  if (!p) return nullptr;
  return std::make_shared<const expression>(std::move(p));
}

std::span<const std::string_view> expression::function_names() {
  static const auto names = [] {
    std::vector<std::string_view> out{"if"};
    for (const auto& f : functions()) out.push_back(f.name);
    std::sort(out.begin(), out.end());
    return out;
  }();
  return names;
}

}  // namespace edgemq::dataflow::expr
