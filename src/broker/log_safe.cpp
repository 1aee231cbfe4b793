#include "broker/log_safe.hpp"

namespace edgemq {
namespace {

void hex_byte(std::string& out, unsigned char c) {
  static constexpr char digits[] = "0123456789ABCDEF";
  out += "\\x";
  out.push_back(digits[c >> 4]);
  out.push_back(digits[c & 0xF]);
}

// Length of the valid UTF-8 sequence starting at `s[i]` (2 to 4), or 0 if it is not one:
// overlong forms, surrogates and code points above U+10FFFF are invalid. A C1 control
// (U+0080..U+009F, which some terminals obey like ESC) counts as invalid too, so it is escaped.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c >= 0xC2 && c <= 0xDF) {
    if (!cont(1)) return 0;
    return c == 0xC2 && b(1) < 0xA0 ? 0 : 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void append_log_safe(std::string& out, const log_safe& s) {
  const std::string_view text = s.text.substr(0, s.max_bytes);
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\\')
        out += "\\\\";
      else
        out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c >= 0x80) {
      // A sequence cut by max_bytes is judged on the text as it is shown: escaped.
      if (const auto n = utf8_sequence(text, i); n != 0) {
        out.append(text.substr(i, n));
        i += n;
        continue;
      }
      hex_byte(out, c);
    } else {
      hex_byte(out, c);  // other C0 controls and DEL
    }
    ++i;
  }
  if (s.text.size() > s.max_bytes) out += "...[" + std::to_string(s.text.size()) + " bytes]";
}

}  // namespace edgemq
