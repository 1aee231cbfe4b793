// Splits expression text into tokens (docs/dataflows.md "Grammar"): numbers, "..." or '...'
// strings, $n inputs, names (with :: as in math::abs), operators and punctuation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataflow/expr/expression.hpp"

namespace edgemq::dataflow::expr {

enum class tok : std::uint8_t {
  integer,
  floating,
  string,
  input,
  name,
  lparen,
  rparen,
  comma,
  plus,
  minus,
  star,
  slash,
  percent,
  caret,
  bang,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  and_,
  or_,
  end,
};

struct token {
  tok kind = tok::end;
  std::size_t offset = 0;
  std::string_view text;     // the token as written
  std::int64_t integer = 0;  // integer literals; input number for $n
  double floating = 0;       // float literals
  std::string string;        // string literals, escapes resolved
};

// All tokens of `text`, ending with tok::end; nullopt and `err` on the first bad character.
std::optional<std::vector<token>> tokenize(std::string_view text, compile_error& err);

// Sets `err` to `message` " at " `offset`.
void set_error(compile_error& err, std::size_t offset, std::string message);

}  // namespace edgemq::dataflow::expr
