#include "dataflow/endpoints/mqtt_ws.hpp"

#include <cctype>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "text/text.hpp"

namespace edgemq::dataflow::ws_client {
namespace {

std::string base64(const unsigned char* data, std::size_t n) {
  return text::base64_encode(std::string_view(reinterpret_cast<const char*>(data), n));
}

}  // namespace

std::string make_key() {
  unsigned char key[16];
  RAND_bytes(key, sizeof key);
  return base64(key, sizeof key);
}

std::string upgrade_request(std::string_view host_port, std::string_view path, std::string_view key) {
  std::string r = "GET ";
  r.append(path).append(" HTTP/1.1\r\nHost: ").append(host_port);
  r.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ").append(key);
  r.append("\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n");
  return r;
}

std::string check_upgrade_response(std::string_view head, std::string_view key) {
  if (!head.starts_with("HTTP/1.1 101"))
    return "WebSocket upgrade refused: " + std::string(head.substr(0, head.find("\r\n")));
  // Sec-WebSocket-Accept = base64(SHA-1(key + GUID)) (RFC 6455 4.2.2); header names are case-insensitive.
  const std::string magic = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(magic.data()), magic.size(), digest);
  std::string lower(head);
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  constexpr std::string_view name = "\r\nsec-websocket-accept:";
  const auto at = lower.find(name);
  if (at == std::string::npos) return "WebSocket upgrade without Sec-WebSocket-Accept";
  const auto end = head.find("\r\n", at + 2);
  std::string v(
      head.substr(at + name.size(), end == std::string_view::npos ? std::string_view::npos : end - at - name.size()));
  v.erase(0, v.find_first_not_of(" \t"));
  v.erase(v.find_last_not_of(" \t") + 1);
  if (v != base64(digest, SHA_DIGEST_LENGTH)) return "WebSocket upgrade with a wrong Sec-WebSocket-Accept";
  return {};
}

void append_frame(std::string& out, std::uint8_t opcode, std::string_view payload) {
  out += static_cast<char>(0x80 | opcode);
  const auto n = static_cast<std::uint64_t>(payload.size());
  if (n < 126) {
    out += static_cast<char>(0x80 | n);
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
  }
  unsigned char mask[4];
  RAND_bytes(mask, sizeof mask);  // a client masks every frame (RFC 6455 5.3)
  out.append(reinterpret_cast<const char*>(mask), sizeof mask);
  const auto start = out.size();
  out.append(payload);
  for (std::size_t i = 0; i < payload.size(); ++i) out[start + i] = static_cast<char>(out[start + i] ^ mask[i % 4]);
}

std::string unframe(std::string& in, std::string& data, std::string& replies, std::uint64_t max_frame) {
  std::size_t pos = 0;
  std::string error;
  while (error.empty() && in.size() - pos >= 2) {
    const auto b0 = static_cast<std::uint8_t>(in[pos]);
    const auto b1 = static_cast<std::uint8_t>(in[pos + 1]);
    std::uint64_t len = b1 & 0x7F;
    const std::size_t hdr = len == 126 ? 4 : len == 127 ? 10 : 2;
    if (in.size() - pos < hdr) break;
    if (len >= 126) {
      len = 0;
      for (std::size_t i = 2; i < hdr; ++i) len = (len << 8) | static_cast<std::uint8_t>(in[pos + i]);
    }
    if (b1 & 0x80) {
      error = "WebSocket: a masked frame from the server";
      break;
    }
    if (len > max_frame) {
      error = "WebSocket: a frame larger than " + std::to_string(max_frame) + " bytes";
      break;
    }
    if (in.size() - pos - hdr < len) break;
    const std::string_view payload(in.data() + pos + hdr, static_cast<std::size_t>(len));
    switch (b0 & 0x0F) {
      case 0:
      case 2:
        data.append(payload);
        break;
      case 9:
        append_frame(replies, 10, payload);
        break;
      case 10:
        break;
      case 8:
        error = "WebSocket closed by the server";
        break;
      default:
        error = "WebSocket: a frame that is not binary (MQTT travels in binary frames)";
    }
    pos += hdr + static_cast<std::size_t>(len);
  }
  in.erase(0, pos);
  return error;
}

}  // namespace edgemq::dataflow::ws_client
