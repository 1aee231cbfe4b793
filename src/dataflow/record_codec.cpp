#include "dataflow/record_codec.hpp"

#include <cstdint>

namespace edgemq::dataflow {
namespace {

constexpr std::uint8_t format_v1 = 1;
// Which optional fields follow (one byte, so absent ones cost nothing).
constexpr std::uint8_t has_content_type = 1;
constexpr std::uint8_t has_response_topic = 2;
constexpr std::uint8_t has_correlation_data = 4;
constexpr std::uint8_t has_expiry = 8;
constexpr std::uint8_t is_retain = 16;

void put_varint(std::uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_string(std::string_view s, std::string& out) {
  put_varint(s.size(), out);
  out.append(s);
}

class reader {
 public:
  explicit reader(std::string_view b) : b_(b) {}
  bool byte(std::uint8_t& v) {
    if (b_.empty()) return false;
    v = static_cast<std::uint8_t>(b_.front());
    b_.remove_prefix(1);
    return true;
  }
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t c = 0;
      if (!byte(c)) return false;
      v |= static_cast<std::uint64_t>(c & 0x7F) << shift;
      if (!(c & 0x80)) return true;
    }
    return false;
  }
  bool string(std::string& s) {
    std::uint64_t n = 0;
    if (!varint(n) || n > b_.size()) return false;
    s.assign(b_.substr(0, n));
    b_.remove_prefix(n);
    return true;
  }
  bool done() const { return b_.empty(); }

 private:
  std::string_view b_;
};

}  // namespace

void encode_record(const record& r, std::string& out) {
  std::uint8_t flags = 0;
  if (r.content_type) flags |= has_content_type;
  if (r.response_topic) flags |= has_response_topic;
  if (r.correlation_data) flags |= has_correlation_data;
  if (r.message_expiry_s) flags |= has_expiry;
  if (r.retain) flags |= is_retain;
  out.push_back(static_cast<char>(format_v1));
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(r.qos));
  put_varint(r.timestamp_ms, out);
  put_string(r.topic, out);
  put_string(r.payload, out);
  put_varint(r.properties.size(), out);
  for (const auto& [k, v] : r.properties) {
    put_string(k, out);
    put_string(v, out);
  }
  if (r.content_type) put_string(*r.content_type, out);
  if (r.response_topic) put_string(*r.response_topic, out);
  if (r.correlation_data) put_string(*r.correlation_data, out);
  if (r.message_expiry_s) put_varint(*r.message_expiry_s, out);
}

std::optional<record> decode_record(std::string_view bytes) {
  reader in(bytes);
  record r;
  std::uint8_t version = 0, flags = 0;
  std::uint64_t n = 0;
  if (!in.byte(version) || version != format_v1 || !in.byte(flags) || !in.byte(r.qos)) return std::nullopt;
  if (!in.varint(r.timestamp_ms) || !in.string(r.topic) || !in.string(r.payload) || !in.varint(n)) return std::nullopt;
  if (n > bytes.size()) return std::nullopt;
  r.properties.resize(n);
  for (auto& [k, v] : r.properties)
    if (!in.string(k) || !in.string(v)) return std::nullopt;
  const auto opt = [&](std::uint8_t bit, std::optional<std::string>& f) {
    if (!(flags & bit)) return true;
    f.emplace();
    return in.string(*f);
  };
  if (!opt(has_content_type, r.content_type) || !opt(has_response_topic, r.response_topic) ||
      !opt(has_correlation_data, r.correlation_data))
    return std::nullopt;
  if (flags & has_expiry) {
    if (!in.varint(n) || n > 0xFFFFFFFFu) return std::nullopt;
    r.message_expiry_s = static_cast<std::uint32_t>(n);
  }
  r.retain = (flags & is_retain) != 0;
  if (!in.done()) return std::nullopt;
  return r;
}

}  // namespace edgemq::dataflow
