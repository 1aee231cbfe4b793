#include "auth/key_glob.hpp"

namespace edgemq::auth {
namespace {

// Matches the class starting at pattern[p] == '[' against byte c; sets `end` past its ']'.
// False for a malformed class (end = npos).
bool class_matches(std::string_view pattern, std::size_t p, unsigned char c, std::size_t& end) noexcept {
  std::size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool hit = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    unsigned char lo = static_cast<unsigned char>(pattern[i]);
    if (lo == '\\' && i + 1 < pattern.size()) lo = static_cast<unsigned char>(pattern[++i]);
    unsigned char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = static_cast<unsigned char>(pattern[i + 2]);
      if (hi == '\\' && i + 3 < pattern.size()) {
        hi = static_cast<unsigned char>(pattern[i + 3]);
        ++i;
      }
      i += 2;
    }
    if (lo <= c && c <= hi) hit = true;
    ++i;
  }
  if (i >= pattern.size()) {
    end = std::string_view::npos;
    return false;
  }
  end = i + 1;
  return hit != negate;
}

}  // namespace

// Iterative matching with one backtrack point (the last `*`): linear in practice, never
// exponential, whatever the pattern.
bool glob_matches(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0, t = 0;
  std::size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        star_p = ++p;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        std::size_t end = 0;
        if (class_matches(pattern, p, static_cast<unsigned char>(text[t]), end)) {
          p = end;
          ++t;
          continue;
        }
        if (end == std::string_view::npos) return false;
      } else {
        char lit = pc;
        std::size_t next = p + 1;
        if (pc == '\\' && p + 1 < pattern.size()) {
          lit = pattern[p + 1];
          next = p + 2;
        }
        if (lit == text[t]) {
          p = next;
          ++t;
          continue;
        }
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool valid_glob(std::string_view pattern) noexcept {
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      if (++i == pattern.size()) return false;
    } else if (pattern[i] == '[') {
      std::size_t end = 0;
      class_matches(pattern, i, 0, end);
      if (end == std::string_view::npos) return false;
      i = end - 1;
    }
  }
  return true;
}

std::string glob_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace edgemq::auth
