// Topic names and filters: the validators and the matcher agree with a plain reference written
// from the MQTT 5 text (1.5.4 UTF-8, 4.7 topics), which favours clarity over speed.
#include <string>
#include <vector>

#include "edgemq/mqtt/topic.hpp"
#include "fuzz_bodies.hpp"
#include "fuzz_support.hpp"

namespace edgemq::fuzz {
namespace {

namespace m = mqtt;

// RFC 3629 well-formed, and no U+0000 (MQTT-1.5.4-2).
bool ref_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(s[k])); };
    const unsigned c = b(i);
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c == 0) return false;
    if (c < 0x80)
      n = 0;
    else if (c >= 0xC2 && c <= 0xDF)
      n = 1;
    else if (c == 0xE0)
      n = 2, lo = 0xA0;
    else if (c == 0xED)
      n = 2, hi = 0x9F;  // no surrogates
    else if (c >= 0xE1 && c <= 0xEF)
      n = 2;
    else if (c == 0xF0)
      n = 3, lo = 0x90;
    else if (c == 0xF4)
      n = 3, hi = 0x8F;  // nothing above U+10FFFF
    else if (c >= 0xF1 && c <= 0xF3)
      n = 3;
    else
      return false;
    if (s.size() - i - 1 < n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const unsigned x = b(i + k);
      if (k == 1 ? (x < lo || x > hi) : (x < 0x80 || x > 0xBF)) return false;
    }
    i += n + 1;
  }
  return true;
}

std::vector<std::string_view> levels(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    const auto slash = s.find('/');
    out.push_back(s.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    s.remove_prefix(slash + 1);
  }
}

m::reason_code ref_name(std::string_view s) {
  if (!ref_utf8(s)) return m::reason_code::malformed_packet;
  if (s.empty()) return m::reason_code::protocol_error;
  if (s.find_first_of("+#") != std::string_view::npos) return m::reason_code::topic_name_invalid;
  return m::reason_code::success;
}

m::reason_code ref_filter(std::string_view s) {
  if (!ref_utf8(s)) return m::reason_code::malformed_packet;
  if (s.empty()) return m::reason_code::topic_filter_invalid;
  const auto ls = levels(s);
  for (std::size_t i = 0; i < ls.size(); ++i) {
    const bool wild = ls[i].find_first_of("+#") != std::string_view::npos;
    if (wild && ls[i] != "+" && ls[i] != "#") return m::reason_code::topic_filter_invalid;
    if (ls[i] == "#" && i + 1 != ls.size()) return m::reason_code::topic_filter_invalid;
  }
  return m::reason_code::success;
}

bool ref_match_levels(const std::vector<std::string_view>& f, std::size_t fi, const std::vector<std::string_view>& n,
                      std::size_t ni) {
  if (fi == f.size()) return ni == n.size();
  if (f[fi] == "#") return true;  // this level and below, including none ("a/#" matches "a")
  if (ni == n.size()) return false;
  return (f[fi] == "+" || f[fi] == n[ni]) && ref_match_levels(f, fi + 1, n, ni + 1);
}

bool ref_match(std::string_view filter, std::string_view name) {
  if (name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#'))) return false;  // MQTT-4.7.2-1
  return ref_match_levels(levels(filter), 0, levels(name), 0);
}

}  // namespace

void topic_one_input(const std::uint8_t* data, std::size_t size) {
  const auto in = as_text(data, size);
  const auto cut = in.find('\xff');  // never valid UTF-8, so it splits without limiting valid inputs
  const auto filter = in.substr(0, cut);
  const auto name = cut == std::string_view::npos ? filter : in.substr(cut + 1);
  for (auto s : {in, filter, name}) {
    check(m::validate_topic_name(s) == ref_name(s));
    check(m::validate_topic_filter(s) == ref_filter(s));
    check(m::is_shared_filter(s) == s.starts_with("$share/"));
  }
  if (ref_filter(filter) == m::reason_code::success && ref_name(name) == m::reason_code::success) {
    check(m::topic_matches(filter, name) == ref_match(filter, name));
    check(m::topic_matches(name, name));  // a valid name is a filter that matches exactly itself
  }
}

}  // namespace edgemq::fuzz
