#include "edgemq/mqtt/topic.hpp"

#include <cstdint>
#include <cstring>

#include "edgemq/mqtt/utf8.hpp"

namespace edgemq::mqtt {

namespace {

// Per byte of `w`: 0x80 where the byte is zero (the classic haszero; exact when no byte has its
// high bit set, which the caller checks first).
constexpr std::uint64_t zero_bytes(std::uint64_t w) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  return (w - ones) & ~w & highs;
}

// True when any byte of the 8 at `p` is >= 0x80, NUL, '+' or '#': the slow path decides.
inline bool special_word(const char* p) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return (w & highs) || zero_bytes(w) || zero_bytes(w ^ (ones * '+')) || zero_bytes(w ^ (ones * '#'));
}

}  // namespace

reason_code validate_topic_name(std::string_view name) noexcept {
  // Runs on every PUBLISH: 8 bytes at a time while they are plain ASCII without NUL or wildcards
  // (docs/adr/0031-routing-close-to-the-limit.md); the rest, or a word that is not, byte by byte.
  std::size_t i = 0;
  while (i + 8 <= name.size() && !special_word(name.data() + i)) i += 8;
  // The tail: the last 8 bytes (overlapping what was checked) settle it when they are plain.
  if (i >= 8 && i < name.size() && i + 8 > name.size() && !special_word(name.data() + name.size() - 8))
    return reason_code::success;
  // One pass for the usual ASCII name; anything else takes the full UTF-8 check. Invalid UTF-8
  // is reported before a wildcard.
  bool wildcard = false;
  for (const char ch : name.substr(i)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      if (!is_valid_mqtt_utf8(name)) return reason_code::malformed_packet;
      wildcard = name.find_first_of("+#") != std::string_view::npos;
      break;
    }
    if (c == 0) return reason_code::malformed_packet;  // MQTT-1.5.4-2
    wildcard |= c == '+' || c == '#';
  }
  if (name.empty()) return reason_code::protocol_error;
  return wildcard ? reason_code::topic_name_invalid : reason_code::success;
}

reason_code validate_topic_filter(std::string_view filter) noexcept {
  if (!is_valid_mqtt_utf8(filter)) return reason_code::malformed_packet;
  if (filter.empty()) return reason_code::topic_filter_invalid;
  for (std::size_t i = 0; i < filter.size(); ++i) {
    const char c = filter[i];
    if (c != '+' && c != '#') continue;
    const bool level_start = i == 0 || filter[i - 1] == '/';
    const bool level_end = i + 1 == filter.size() || filter[i + 1] == '/';
    if (!level_start || !level_end) return reason_code::topic_filter_invalid;
    if (c == '#' && i + 1 != filter.size()) return reason_code::topic_filter_invalid;
  }
  return reason_code::success;
}

bool topic_matches(std::string_view filter, std::string_view name) noexcept {
  if (!name.empty() && name.front() == '$' && !filter.empty() && (filter.front() == '+' || filter.front() == '#'))
    return false;
  std::size_t f = 0;
  std::size_t n = 0;
  while (true) {
    const std::size_t f_end = filter.find('/', f);
    const std::string_view f_level =
        filter.substr(f, f_end == std::string_view::npos ? std::string_view::npos : f_end - f);
    if (f_level == "#") return true;  // also matches the parent level ("a/#" matches "a")
    if (n > name.size()) return false;
    const std::size_t n_end = name.find('/', n);
    const std::string_view n_level =
        name.substr(n, n_end == std::string_view::npos ? std::string_view::npos : n_end - n);
    if (f_level != "+" && f_level != n_level) return false;
    const bool f_last = f_end == std::string_view::npos;
    const bool n_last = n_end == std::string_view::npos;
    if (f_last || n_last) {
      if (f_last && n_last) return true;
      // name exhausted: only a trailing "/#" can still match
      return n_last && !f_last && filter.substr(f_end + 1) == "#";
    }
    f = f_end + 1;
    n = n_end + 1;
  }
}

bool is_shared_filter(std::string_view filter) noexcept {
  return filter.starts_with("$share/");
}

}  // namespace edgemq::mqtt
