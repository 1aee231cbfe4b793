// WebSocket input (ADR 0013): the frame decoder and the upgrade request parser. Whatever the
// bytes, memory stays bounded, the decoded stream never grows, our replies are well-formed server
// control frames, nothing comes after the end, and how the bytes are split across reads changes
// nothing.
#include <string>
#include <vector>

#include "fuzz_bodies.hpp"
#include "fuzz_support.hpp"
#include "net/ws_frame.hpp"
#include "net/ws_handshake.hpp"

namespace edgemq::fuzz {
namespace {

namespace ws = net::ws;

struct decoded {
  std::string stream;
  std::string replies;
  bool closed = false;
  bool failed = false;
  ws::close_code code = ws::close_code::normal;
};

decoded decode_in_chunks(std::string_view in, std::size_t chunk) {
  ws::frame_decoder d(4096);
  decoded out;
  std::vector<std::uint8_t> buf;
  for (std::size_t at = 0; at < in.size(); at += chunk) {
    const std::size_t n = std::min(chunk, in.size() - at);
    buf.assign(in.begin() + static_cast<std::ptrdiff_t>(at), in.begin() + static_cast<std::ptrdiff_t>(at + n));
    const bool ended = d.closed() || d.failed();
    const std::size_t before = out.replies.size();
    const std::size_t got = d.decode(buf, out.replies);
    check(got <= n);
    if (ended) check(got == 0 && out.replies.size() == before);  // nothing after the end
    out.stream.append(reinterpret_cast<const char*>(buf.data()), got);
  }
  out.closed = d.closed();
  out.failed = d.failed();
  if (out.failed) out.code = d.error();
  return out;
}

// Our replies: unmasked, final control frames (pong or close) of at most 125 bytes, a close last.
void check_replies(const std::string& r) {
  std::size_t at = 0;
  while (at < r.size()) {
    check(r.size() - at >= 2);
    const auto b0 = static_cast<std::uint8_t>(r[at]);
    const auto b1 = static_cast<std::uint8_t>(r[at + 1]);
    check(b0 == 0x8a || b0 == 0x88);
    check(b1 <= 125);  // no mask bit, a control frame's length
    check(r.size() - at - 2 >= b1);
    if (b0 == 0x88) check(at + 2 + b1 == r.size());
    at += 2 + b1;
  }
}

}  // namespace

void ws_one_input(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const std::size_t chunk = 1 + data[0] % 17;
  const auto in = as_text(data + 1, size - 1);

  const auto whole = decode_in_chunks(in, in.size() ? in.size() : 1);
  const auto split = decode_in_chunks(in, chunk);
  check(whole.stream.size() <= in.size());
  check(whole.stream == split.stream);
  check(whole.replies == split.replies);
  check(whole.closed == split.closed && whole.failed == split.failed && whole.code == split.code);
  check_replies(whole.replies);

  ws::upgrade_request one("/mqtt", 1024);
  const auto s1 = one.feed({data + 1, size - 1});
  ws::upgrade_request pieces("/mqtt", 1024);
  auto s2 = ws::upgrade_request::status::need_more;
  for (std::size_t at = 1; at < size && s2 == ws::upgrade_request::status::need_more; at += chunk)
    s2 = pieces.feed({data + at, std::min(chunk, size - at)});
  check(s1 == s2);
  if (s1 != ws::upgrade_request::status::need_more) {
    check(one.response().rfind("HTTP/1.1 ", 0) == 0);
    check(one.response() == pieces.response());
    if (s1 == ws::upgrade_request::status::refused)
      check(one.response().find("Connection: close\r\n") != std::string::npos);
    else
      check(one.response().rfind("HTTP/1.1 101 ", 0) == 0);
  }
}

}  // namespace edgemq::fuzz
