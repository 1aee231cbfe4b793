#include "statestore/record.hpp"

#include <cstring>

namespace edgemq::statestore {
namespace {

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xFF));
}
void put_str(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}
void put_hlc(std::string& out, const hlc& h) {
  put_u64(out, h.wall_ms);
  put_u64(out, h.counter);
  put_str(out, h.node);
}

struct in {
  std::string_view s;
  bool ok = true;
  std::uint64_t u64() {
    if (s.size() < 8) return fail();
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(s[i]);
    s.remove_prefix(8);
    return v;
  }
  std::uint8_t u8() {
    if (s.empty()) return static_cast<std::uint8_t>(fail());
    const auto v = static_cast<std::uint8_t>(s[0]);
    s.remove_prefix(1);
    return v;
  }
  std::string str() {
    const auto n = u64();
    if (!ok || n > s.size()) return fail(), std::string();
    std::string v(s.substr(0, n));
    s.remove_prefix(n);
    return v;
  }
  hlc clock() {
    hlc h;
    h.wall_ms = u64();
    h.counter = u64();
    h.node = str();
    return h;
  }
  std::uint64_t fail() {
    ok = false;
    s = {};
    return 0;
  }
};

}  // namespace

std::string encode(const key_record& r) {
  std::string out;
  out.reserve(64 + r.value.size());
  out.push_back(static_cast<char>(record_format_version));
  put_hlc(out, r.version);
  out.push_back(r.fencing_token ? 1 : 0);
  if (r.fencing_token) put_hlc(out, *r.fencing_token);
  out.push_back(r.expires_at_ms ? 1 : 0);
  if (r.expires_at_ms) put_u64(out, *r.expires_at_ms);
  put_str(out, r.value);
  return out;
}

std::optional<key_record> decode(std::string_view bytes) {
  in r{bytes};
  const auto format = r.u8();
  if (!r.ok || format != 1) return std::nullopt;  // only format 1 exists so far
  key_record k;
  k.version = r.clock();
  if (r.u8()) k.fencing_token = r.clock();
  if (r.u8()) k.expires_at_ms = r.u64();
  k.value = r.str();
  if (!r.ok || !r.s.empty()) return std::nullopt;
  return k;
}

}  // namespace edgemq::statestore
