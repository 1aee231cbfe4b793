#include "edgemq/mqtt/frame_parser.hpp"

namespace edgemq::mqtt {

frame_result parse_frame(std::span<const std::uint8_t> data, std::uint32_t max_packet_size) noexcept {
  frame_result r;
  if (data.empty()) {
    r.bytes_needed = 2;
    return r;
  }
  std::uint32_t remaining = 0;
  std::size_t pos = 1;
  for (int shift = 0;; shift += 7) {
    if (pos >= data.size()) {
      r.bytes_needed = 1;
      return r;
    }
    const std::uint8_t b = data[pos++];
    remaining |= static_cast<std::uint32_t>(b & 0x7F) << shift;
    // A fourth byte that continues, or a last byte of 0 after the first (not the shortest
    // encoding, MQTT 1.5.5): malformed.
    if ((shift == 21 && (b & 0x80)) || (shift > 0 && b == 0)) {
      r.status = frame_status::error;
      r.error = reason_code::malformed_packet;
      return r;
    }
    if ((b & 0x80) == 0) break;
  }
  const std::size_t total = pos + remaining;
  if (total > max_packet_size) {
    r.status = frame_status::error;
    r.error = reason_code::packet_too_large;
    return r;
  }
  if (data.size() < total) {
    r.bytes_needed = total - data.size();
    return r;
  }
  r.status = frame_status::complete;
  r.value.header = data[0];
  r.value.body = data.subspan(pos, remaining);
  r.value.size = total;
  return r;
}

}  // namespace edgemq::mqtt
