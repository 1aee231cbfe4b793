// Internal: bounds-checked reader and appending writer for MQTT's wire primitives.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "edgemq/mqtt/properties.hpp"
#include "edgemq/mqtt/types.hpp"

namespace edgemq::mqtt::detail {

// The flag bits of the fixed header for every packet but PUBLISH (MQTT 2.1.3): 0010 for PUBREL,
// SUBSCRIBE and UNSUBSCRIBE, 0000 for the rest.
constexpr std::uint8_t fixed_header_flags(packet_type t) noexcept {
  return t == packet_type::pubrel || t == packet_type::subscribe || t == packet_type::unsubscribe ? 0x02 : 0x00;
}

// Reads fail sticky: after the first error every read returns a default value and error()
// keeps the first reason, so decoders can read a whole layout and check once per field group.
class reader {
 public:
  explicit reader(std::span<const std::uint8_t> data) noexcept : data_(data) {}

  std::uint8_t u8() noexcept;
  std::uint16_t u16() noexcept;
  std::uint32_t u32() noexcept;
  std::uint32_t varint() noexcept;
  std::string_view binary() noexcept;  // two-byte length prefix
  std::string_view utf8() noexcept;    // binary() plus MQTT UTF-8 validation
  std::span<const std::uint8_t> bytes(std::size_t n) noexcept;
  std::string_view rest() noexcept;

  // The next byte, if there is one, without consuming it (0xFF past the end).
  std::uint8_t peek() const noexcept { return pos_ < data_.size() ? data_[pos_] : 0xFF; }
  std::size_t remaining() const noexcept { return data_.size() - pos_; }
  bool empty() const noexcept { return pos_ == data_.size(); }
  bool ok() const noexcept { return error_ == reason_code::success; }
  reason_code error() const noexcept { return error_; }
  void fail(reason_code rc) noexcept {
    if (ok()) error_ = rc;
    pos_ = data_.size();
  }

 private:
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
  reason_code error_ = reason_code::success;
};

inline void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}
inline void put_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}
inline void put_u32(std::string& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v & 0xFFFF));
}
inline void put_string(std::string& out, std::string_view s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

// Reads a property block (length + properties) and checks the allow-list for `ctx`, value
// ranges and duplicates.
properties read_properties(reader& in, property_context ctx) noexcept;

// Appends a property block (length + properties) in ascending id order.
void write_properties(std::string& out, const properties& props);
// Without the length prefix; `message_expiry`, when set, replaces or adds that property.
void write_properties_body(std::string& out, const properties& props,
                           std::optional<std::uint32_t> message_expiry = std::nullopt);
std::size_t properties_size(const properties& props) noexcept;  // without the length prefix
// Whether every property fits its field: strings and binary data of at most max_field_length
// bytes, subscription identifiers below 2^28 (a varint of at most four bytes).
bool properties_fit(const properties& props) noexcept;

}  // namespace edgemq::mqtt::detail
