#include "net/ws_frame.hpp"

#include <algorithm>
#include <cstring>

#include "edgemq/mqtt/utf8.hpp"

namespace edgemq::net::ws {
namespace {

bool is_control(std::uint8_t op) {
  return (op & 0x08) != 0;
}

// Close codes a peer may send (RFC 6455 7.4.1/7.4.2, with the IANA registry's 1012-1014).
bool valid_close_code(std::uint16_t c) {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

// Unmasks `len` bytes from `src` to `dst` (dst <= src: in place, moving towards the front),
// eight at a time: masking costs about a copy.
void unmask_move(std::uint8_t* dst, const std::uint8_t* src, std::size_t len, const std::array<std::uint8_t, 4>& mask,
                 std::uint8_t& pos) {
  std::uint8_t m8[8];
  for (int i = 0; i < 8; ++i) m8[i] = mask[(pos + i) & 3];
  std::uint64_t m;
  std::memcpy(&m, m8, 8);
  std::size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, src + i, 8);  // read before write: the chunks overlap at most where we already read
    v ^= m;
    std::memcpy(dst + i, &v, 8);
  }
  for (; i < len; ++i) dst[i] = src[i] ^ m8[i & 7];
  pos = static_cast<std::uint8_t>((pos + len) & 3);
}

}  // namespace

void append_header(std::string& out, opcode op, std::uint64_t length) {
  out.push_back(static_cast<char>(0x80 | static_cast<std::uint8_t>(op)));
  if (length < 126) {
    out.push_back(static_cast<char>(length));
  } else if (length <= 0xffff) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(length >> 8));
    out.push_back(static_cast<char>(length & 0xff));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((length >> shift) & 0xff));
  }
}

void append_close(std::string& out, close_code code, std::string_view reason) {
  reason = reason.substr(0, 123);
  append_header(out, opcode::close, 2 + reason.size());
  const auto c = static_cast<std::uint16_t>(code);
  out.push_back(static_cast<char>(c >> 8));
  out.push_back(static_cast<char>(c & 0xff));
  out.append(reason);
}

std::string_view last_control_frame(std::string_view frames) noexcept {
  std::string_view last;
  std::size_t at = 0;
  while (frames.size() - at >= 2) {
    const std::size_t len = 2 + (static_cast<std::uint8_t>(frames[at + 1]) & 0x7f);  // control: <= 125, no mask
    if (frames.size() - at < len) break;
    last = frames.substr(at, len);
    at += len;
  }
  return last;
}

std::size_t frame_decoder::header_need() const noexcept {
  if (header_len_ < 2) return 2;
  const std::uint8_t len7 = header_[1] & 0x7f;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;  // client frames are always masked
}

void frame_decoder::fail(close_code code, std::string_view why, std::string& replies) {
  state_ = state::failed;
  error_ = code;
  error_text_ = why;
  if (!muted_) append_close(replies, code, why);
}

bool frame_decoder::parse_header(std::string& replies) {
  const std::uint8_t b0 = header_[0];
  const std::uint8_t b1 = header_[1];
  const std::uint8_t op = b0 & 0x0f;
  const std::uint8_t len7 = b1 & 0x7f;
  fin_ = (b0 & 0x80) != 0;
  std::uint64_t len = len7;
  std::size_t at = 2;
  if (len7 == 126) {
    len = (std::uint64_t{header_[2]} << 8) | header_[3];
    if (len < 126) return fail(close_code::protocol_error, "length not in its shortest form", replies), false;
    at = 4;
  } else if (len7 == 127) {
    len = 0;
    for (int i = 2; i < 10; ++i) len = (len << 8) | header_[i];
    if (len >> 63) return fail(close_code::protocol_error, "length with its top bit set", replies), false;
    if (len <= 0xffff) return fail(close_code::protocol_error, "length not in its shortest form", replies), false;
    at = 10;
  }
  std::memcpy(mask_.data(), header_.data() + at, 4);
  mask_pos_ = 0;
  header_len_ = 0;
  left_ = len;
  op_ = static_cast<opcode>(op);
  if (is_control(op)) {
    control_len_ = 0;
    state_ = state::control;
    if (len == 0) finish_control(replies);
    return state_ != state::failed;
  }
  if (len > max_frame_size_) return fail(close_code::too_big, "frame larger than max_frame_size", replies), false;
  if (op == static_cast<std::uint8_t>(opcode::binary)) in_message_ = !fin_;
  if (op == static_cast<std::uint8_t>(opcode::continuation) && fin_) in_message_ = false;
  state_ = len ? state::payload : state::header;
  return true;
}

// Checks what the first two bytes already tell, so a bad frame is refused before its length
// and mask arrive.
static std::string_view check_start(std::uint8_t b0, std::uint8_t b1, bool in_message, close_code& code) {
  const std::uint8_t op = b0 & 0x0f;
  code = close_code::protocol_error;
  if (b0 & 0x70) return "reserved bits set (no extension was negotiated)";
  if (op == static_cast<std::uint8_t>(opcode::text)) {
    code = close_code::unsupported_data;
    return "text frame: MQTT needs binary frames";
  }
  const bool known = op == 0 || op == 2 || op == 8 || op == 9 || op == 10;
  if (!known) return "unknown opcode";
  if (!(b1 & 0x80)) return "unmasked frame: client frames must be masked";
  if (is_control(op)) {
    if (!(b0 & 0x80)) return "fragmented control frame";
    if ((b1 & 0x7f) > 125) return "control frame longer than 125 bytes";
    return {};
  }
  if (op == 0 && !in_message) return "continuation frame without a message to continue";
  if (op == 2 && in_message) return "new message before the fragmented one ended";
  return {};
}

void frame_decoder::finish_control(std::string& replies) {
  state_ = state::header;
  if (op_ == opcode::ping) {
    if (!muted_) {
      append_header(replies, opcode::pong, control_len_);
      replies.append(reinterpret_cast<const char*>(control_.data()), control_len_);
    }
    return;
  }
  if (op_ != opcode::close) return;  // a pong: nothing to do
  if (control_len_ == 1) return fail(close_code::protocol_error, "close frame with a 1-byte payload", replies);
  close_code echo = close_code::normal;
  if (control_len_ >= 2) {
    const auto c = static_cast<std::uint16_t>((control_[0] << 8) | control_[1]);
    if (!valid_close_code(c)) return fail(close_code::protocol_error, "invalid close code", replies);
    const std::string_view reason(reinterpret_cast<const char*>(control_.data()) + 2, control_len_ - 2);
    if (!reason.empty() && !mqtt::is_valid_mqtt_utf8(reason))
      return fail(close_code::invalid_payload, "close reason is not UTF-8", replies);
    echo = static_cast<close_code>(c);
  }
  state_ = state::closed;
  if (!muted_) append_close(replies, echo);
}

std::size_t frame_decoder::decode(std::span<std::uint8_t> buf, std::string& replies) {
  std::uint8_t* p = buf.data();
  const std::size_t n = buf.size();
  std::size_t in = 0;
  std::size_t out = 0;
  while (in < n) {
    switch (state_) {
      case state::closed:
      case state::failed:
        return out;
      case state::header: {
        while (header_len_ < header_need() && in < n) {
          header_[header_len_++] = p[in++];
          if (header_len_ == 2) {
            close_code code;
            const auto why = check_start(header_[0], header_[1], in_message_, code);
            if (!why.empty()) {
              fail(code, why, replies);
              return out;
            }
          }
        }
        if (header_len_ < header_need()) return out;
        if (!parse_header(replies)) return out;
        break;
      }
      case state::payload: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, n - in));
        unmask_move(p + out, p + in, take, mask_, mask_pos_);
        out += take;
        in += take;
        left_ -= take;
        if (left_ == 0) state_ = state::header;
        break;
      }
      case state::control: {
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, n - in));
        for (std::size_t i = 0; i < take; ++i) control_[control_len_++] = p[in + i] ^ mask_[mask_pos_++ & 3];
        in += take;
        left_ -= take;
        if (left_ == 0) finish_control(replies);
        break;
      }
    }
  }
  return out;
}

}  // namespace edgemq::net::ws
