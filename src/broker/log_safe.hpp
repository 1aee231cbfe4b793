// Client-supplied text (client ids, usernames, topics, reason strings, state store keys) in log
// lines: wrapped in log_safe() it is written escaped, so a client cannot forge a log line or
// drive the operator's terminal. Control characters, DEL, C1 controls, invalid UTF-8 and the
// backslash come out as \n, \r, \t, \\ or \xNN; valid UTF-8 text stays readable; values longer
// than `max_bytes` are cut with a marker telling the full length.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace edgemq {

struct log_safe {
  explicit log_safe(std::string_view text, std::size_t max_bytes = 256) noexcept : text(text), max_bytes(max_bytes) {}
  std::string_view text;
  std::size_t max_bytes;
};

// Appends the escaped form of `s` to `out` (what formatting a log_safe writes).
void append_log_safe(std::string& out, const log_safe& s);

inline std::string to_string(const log_safe& s) {
  std::string out;
  append_log_safe(out, s);
  return out;
}

}  // namespace edgemq

template <>
struct fmt::formatter<edgemq::log_safe> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const edgemq::log_safe& s, FormatContext& ctx) const -> decltype(ctx.out()) {
    thread_local std::string buf;
    buf.clear();
    edgemq::append_log_safe(buf, s);
    return fmt::formatter<std::string_view>::format(std::string_view(buf), ctx);
  }
};
