// The client side of MQTT over WebSocket (RFC 6455) for the Mqtt endpoint's `protocol:
// WebSockets`, sans-I/O: the upgrade request and the check of its response, our (masked) frames,
// and the unwrapping of the server's frames into the MQTT byte stream. (net/ws_frame is the
// server side: it requires masked frames.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace edgemq::dataflow::ws_client {

// A fresh Sec-WebSocket-Key (16 random bytes, base64).
std::string make_key();
std::string upgrade_request(std::string_view host_port, std::string_view path, std::string_view key);
// `head`: the response up to its blank line. Empty when it is a 101 with the right
// Sec-WebSocket-Accept; otherwise why not.
std::string check_upgrade_response(std::string_view head, std::string_view key);
// Appends one client frame (FIN, masked) of `opcode` (2: binary, 10: pong) around `payload`.
void append_frame(std::string& out, std::uint8_t opcode, std::string_view payload);
// Unwraps the complete server frames at the front of `in` (erased from it): binary and
// continuation payloads are appended to `data`, pings answered with pongs appended to `replies`.
// Empty, or why the connection must end (a close frame, a masked or text frame, one larger
// than `max_frame`).
std::string unframe(std::string& in, std::string& data, std::string& replies, std::uint64_t max_frame);

}  // namespace edgemq::dataflow::ws_client
