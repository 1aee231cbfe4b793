// IoT Hub's device-dialect text formats (dialect.hpp).
#include "devices/dialect.hpp"

#include <array>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace edgemq::devices {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::optional<std::string> url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '!' || c == '~' || c == '*' || c == '\'' || c == '(' || c == ')';
    if (keep) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xF]);
    }
  }
  return out;
}

std::optional<property_list> parse_property_bag(std::string_view bag) {
  property_list out;
  while (!bag.empty()) {
    const auto amp = bag.find('&');
    const auto field = bag.substr(0, amp);
    bag = amp == std::string_view::npos ? std::string_view{} : bag.substr(amp + 1);
    if (field.empty()) continue;
    const auto eq = field.find('=');
    auto k = url_decode(field.substr(0, eq));
    auto v = url_decode(eq == std::string_view::npos ? std::string_view{} : field.substr(eq + 1));
    if (!k || !v || k->empty()) return std::nullopt;
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

std::string make_property_bag(const property_list& props) {
  std::string out;
  for (const auto& [k, v] : props) {
    if (!out.empty()) out.push_back('&');
    out += url_encode(k);
    out.push_back('=');
    out += url_encode(v);
  }
  return out;
}

std::optional<std::string> query_value(std::string_view query, std::string_view name) {
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto field = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = field.find('=');
    if (field.substr(0, eq) == name) return std::string(eq == std::string_view::npos ? "" : field.substr(eq + 1));
  }
  return std::nullopt;
}

std::optional<device_username> parse_device_username(std::string_view username) {
  // Everything from '?' on is the SDK's parameters (api-version, DeviceClientType): any accepted.
  const auto q = username.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  auto path = username.substr(0, q);
  if (path.empty() || path.back() != '/') return std::nullopt;
  path.remove_suffix(1);
  std::vector<std::string_view> parts;
  while (true) {
    const auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty()) return std::nullopt;
  for (std::size_t i = 1; i < parts.size(); ++i)
    if (!valid_device_id(parts[i])) return std::nullopt;
  device_username u{std::string(parts[0]), std::string(parts[1]), {}};
  if (parts.size() == 3) u.module_id = std::string(parts[2]);
  return u;
}

bool valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    std::string_view("-.%_*?!(),:=@$'").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string random_key() {
  std::array<unsigned char, 32> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  return base64_encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

std::string iso8601(std::uint64_t wall_ms) {
  const std::time_t s = static_cast<std::time_t>(wall_ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03u0000Z", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<unsigned>(wall_ms % 1000));
  return buf;
}

std::string etag_of(std::uint64_t counter) {
  std::string b(8, '\0');
  for (int i = 7; i >= 0; --i, counter >>= 8) b[static_cast<std::size_t>(i)] = static_cast<char>(counter & 0xFF);
  return base64_encode(b);
}

std::string random_etag() {
  std::uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) throw std::runtime_error("RAND_bytes failed");
  return etag_of(v);
}

}  // namespace edgemq::devices
