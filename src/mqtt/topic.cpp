#include "edgemq/mqtt/topic.hpp"

#include "edgemq/mqtt/utf8.hpp"

namespace edgemq::mqtt {

reason_code validate_topic_name(std::string_view name) noexcept {
  // One pass for the usual ASCII name (runs on every PUBLISH); anything else takes the full
  // UTF-8 check. Invalid UTF-8 is reported before a wildcard.
  bool wildcard = false;
  for (const char ch : name) {
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
