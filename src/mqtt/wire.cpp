#include "wire.hpp"

#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/utf8.hpp"

namespace edgemq::mqtt {

void write_varint(std::uint32_t value, std::string& out) {
  do {
    std::uint8_t b = value & 0x7F;
    value >>= 7;
    if (value) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (value);
}

std::size_t varint_size(std::uint32_t value) noexcept {
  return value < 128 ? 1 : value < 16384 ? 2 : value < 2097152 ? 3 : 4;
}

namespace detail {

std::uint8_t reader::u8() noexcept {
  if (remaining() < 1) {
    fail(reason_code::malformed_packet);
    return 0;
  }
  return data_[pos_++];
}

std::uint16_t reader::u16() noexcept {
  if (remaining() < 2) {
    fail(reason_code::malformed_packet);
    return 0;
  }
  const std::uint16_t v = static_cast<std::uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
  pos_ += 2;
  return v;
}

std::uint32_t reader::u32() noexcept {
  const std::uint32_t hi = u16();
  return hi << 16 | u16();
}

std::uint32_t reader::varint() noexcept {
  std::uint32_t v = 0;
  for (int shift = 0; shift < 28; shift += 7) {
    if (remaining() < 1) {
      fail(reason_code::malformed_packet);
      return 0;
    }
    const std::uint8_t b = data_[pos_++];
    v |= static_cast<std::uint32_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return v;
  }
  fail(reason_code::malformed_packet);
  return 0;
}

std::span<const std::uint8_t> reader::bytes(std::size_t n) noexcept {
  if (remaining() < n) {
    fail(reason_code::malformed_packet);
    return {};
  }
  auto s = data_.subspan(pos_, n);
  pos_ += n;
  return s;
}

std::string_view reader::binary() noexcept {
  const std::uint16_t n = u16();
  auto b = bytes(n);
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string_view reader::utf8() noexcept {
  const auto s = binary();
  if (!is_valid_mqtt_utf8(s)) fail(reason_code::malformed_packet);
  return s;
}

std::string_view reader::rest() noexcept {
  auto b = bytes(remaining());
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace detail
}  // namespace edgemq::mqtt
