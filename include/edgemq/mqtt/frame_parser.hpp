// Incremental framing: splits a byte stream into MQTT frames without allocating. The caller
// keeps the bytes; a frame's body is a view into them. The claimed remaining length is
// checked against the maximum packet size as soon as the length field is complete, before any
// of the body is buffered, so a peer cannot make us reserve memory it never sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "edgemq/mqtt/types.hpp"

namespace edgemq::mqtt {

struct frame {
  std::uint8_t header = 0;             // packet type << 4 | flags
  std::span<const std::uint8_t> body;  // variable header + payload
  std::size_t size = 0;                // whole frame, fixed header included
  packet_type type() const noexcept { return static_cast<packet_type>(header >> 4); }
};

enum class frame_status : std::uint8_t { need_more, complete, error };

struct frame_result {
  frame_status status = frame_status::need_more;
  frame value{};                             // valid when complete
  reason_code error = reason_code::success;  // valid when error
  std::size_t bytes_needed = 0;              // when need_more: at least this many more bytes, if known
};

// Looks for one frame at the start of `data`. `max_packet_size` counts the whole packet
// (fixed header included), as MQTT 5's Maximum Packet Size does.
frame_result parse_frame(std::span<const std::uint8_t> data, std::uint32_t max_packet_size) noexcept;

}  // namespace edgemq::mqtt
