// WebSocket (RFC 6455) framing for MQTT over WebSocket, server side and sans-I/O: the decoder
// turns the client's frames into the MQTT byte stream in place, answers control frames, and
// reports protocol errors with their close code; the encoder writes our (unmasked) frame
// headers and control frames. MQTT is a byte stream here: an MQTT packet may span frames and a
// frame may hold several packets, so message boundaries only matter for the fragmentation rules.
// No Asio, no Beast: used by ws_transport and tested byte by byte (ADR 0013).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace edgemq::net::ws {

enum class opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// RFC 6455 section 7.4.1.
enum class close_code : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,  // a text frame: MQTT travels in binary frames only [MQTT-6.0.0-1]
  invalid_payload = 1007,   // a close reason that is not UTF-8
  too_big = 1009,           // a frame over the listener's max_frame_size
};

// Appends a frame header for a server frame (FIN set, never masked) of `length` payload bytes.
void append_header(std::string& out, opcode op, std::uint64_t length);
// Appends a whole close frame; `reason` is cut to fit a control frame (123 bytes).
void append_close(std::string& out, close_code code, std::string_view reason = {});

// The last of the whole server control frames in `frames` (what append_header/append_close and the
// decoder's replies produce); empty when there is none.
std::string_view last_control_frame(std::string_view frames) noexcept;

// Decodes the frames a client sends. Memory is bounded whatever the input: data frame payloads
// are streamed (unmasked where they lie), only a frame header (14 bytes) and a control frame's
// payload (125 bytes) are kept between calls.
class frame_decoder {
 public:
  explicit frame_decoder(std::uint64_t max_frame_size) : max_frame_size_(max_frame_size) {}

  // Decodes `buf` in place: the payload of binary and continuation frames is unmasked and moved
  // to the front of `buf`; returns its length. Control frames are consumed; what we must send
  // back (a pong for a ping, our close frame) is appended to `replies`. After a close frame or a
  // protocol error (our close frame with its code is then in `replies`) decoding stops for good
  // and the rest of the input is ignored.
  std::size_t decode(std::span<std::uint8_t> buf, std::string& replies);

  // The client sent a close frame (and we answered it).
  bool closed() const noexcept { return state_ == state::closed; }
  // The client broke the protocol; error() is the close code we sent.
  bool failed() const noexcept { return state_ == state::failed; }
  close_code error() const noexcept { return error_; }
  // Why it failed, for the log.
  std::string_view error_text() const noexcept { return error_text_; }
  // Stops answering control frames: we sent our close frame, nothing may follow it.
  void mute() noexcept { muted_ = true; }

 private:
  enum class state { header, payload, control, closed, failed };
  bool parse_header(std::string& replies);  // header_[0..header_len_) complete: checks and starts the frame
  void fail(close_code code, std::string_view why, std::string& replies);
  void finish_control(std::string& replies);
  std::size_t header_need() const noexcept;  // header bytes needed so far (2, then the full size)

  std::uint64_t max_frame_size_;
  state state_ = state::header;
  std::array<std::uint8_t, 14> header_{};
  std::size_t header_len_ = 0;
  std::uint64_t left_ = 0;  // payload bytes of the current frame still to come
  std::array<std::uint8_t, 4> mask_{};
  std::uint8_t mask_pos_ = 0;   // offset into mask_ of the next payload byte
  opcode op_ = opcode::binary;  // the current frame's opcode
  bool fin_ = true;
  bool in_message_ = false;  // a fragmented binary message is open: continuation frames expected
  bool muted_ = false;
  std::array<std::uint8_t, 125> control_{};
  std::size_t control_len_ = 0;
  close_code error_ = close_code::normal;
  std::string_view error_text_;
};

}  // namespace edgemq::net::ws
