#include "edgemq/statestore/resp3.hpp"

#include <charconv>

namespace edgemq::statestore::resp3 {
namespace {

// Reads "<digits>\r\n" (optionally "-1") at `pos`.
std::optional<std::int64_t> read_number(std::string_view s, std::size_t& pos) {
  const auto end = s.find("\r\n", pos);
  if (end == std::string_view::npos || end == pos || end - pos > 20) return std::nullopt;
  std::int64_t n = 0;
  const auto* first = s.data() + pos;
  const auto* last = s.data() + end;
  auto [p, ec] = std::from_chars(first, last, n);
  if (ec != std::errc() || p != last) return std::nullopt;
  pos = end + 2;
  return n;
}

}  // namespace

std::optional<std::vector<std::string_view>> parse_request(std::string_view s) {
  std::size_t pos = 0;
  if (s.empty() || s[pos++] != '*') return std::nullopt;
  const auto count = read_number(s, pos);
  if (!count || *count < 1 || *count > static_cast<std::int64_t>(max_request_elements)) return std::nullopt;
  std::vector<std::string_view> parts;
  parts.reserve(static_cast<std::size_t>(*count));
  for (std::int64_t i = 0; i < *count; ++i) {
    if (pos >= s.size() || s[pos++] != '$') return std::nullopt;
    const auto len = read_number(s, pos);
    if (!len || *len < 0 || static_cast<std::size_t>(*len) > s.size() - pos) return std::nullopt;
    const auto n = static_cast<std::size_t>(*len);
    if (s.size() - pos < n + 2 || s.substr(pos + n, 2) != "\r\n") return std::nullopt;
    parts.push_back(s.substr(pos, n));
    pos += n + 2;
  }
  if (pos != s.size()) return std::nullopt;  // trailing bytes
  return parts;
}

std::string request(const std::vector<std::string_view>& parts) {
  std::string out = "*" + std::to_string(parts.size()) + "\r\n";
  for (auto p : parts) out += bulk(p);
  return out;
}

std::string ok() {
  return "+OK\r\n";
}
std::string integer(std::int64_t n) {
  return ":" + std::to_string(n) + "\r\n";
}
std::string bulk(std::string_view v) {
  std::string out = "$" + std::to_string(v.size()) + "\r\n";
  out.append(v);
  out += "\r\n";
  return out;
}
std::string null_bulk() {
  return "$-1\r\n";
}
std::string error(std::string_view text) {
  return "-ERR " + std::string(text) + "\r\n";
}

std::optional<reply> parse_reply(std::string_view s) {
  if (s.size() < 3 || s.substr(s.size() - 2) != "\r\n") return std::nullopt;
  reply r;
  std::size_t pos = 1;
  switch (s[0]) {
    case '+':
      r.type = reply::kind::simple;
      r.text = std::string(s.substr(1, s.size() - 3));
      return r;
    case '-': {
      r.type = reply::kind::error;
      auto t = s.substr(1, s.size() - 3);
      if (t.starts_with("ERR ")) t.remove_prefix(4);
      r.text = std::string(t);
      return r;
    }
    case ':': {
      const auto n = read_number(s, pos);
      if (!n || pos != s.size()) return std::nullopt;
      r.type = reply::kind::integer;
      r.number = *n;
      return r;
    }
    case '$': {
      const auto n = read_number(s, pos);
      if (!n) return std::nullopt;
      if (*n == -1) {
        if (pos != s.size()) return std::nullopt;
        r.type = reply::kind::null;
        return r;
      }
      if (*n < 0 || static_cast<std::size_t>(*n) + 2 != s.size() - pos) return std::nullopt;
      r.type = reply::kind::bulk;
      r.text = std::string(s.substr(pos, static_cast<std::size_t>(*n)));
      return r;
    }
    case '*': {
      auto parts = parse_request(s);
      if (!parts) return std::nullopt;
      r.type = reply::kind::array;
      for (auto p : *parts) r.items.emplace_back(p);
      return r;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace edgemq::statestore::resp3
