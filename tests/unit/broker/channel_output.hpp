// What a client_channel has written, decoded: the test side of the net layer (pull when the
// session notified the link, take the output, parse every frame in it).
#pragma once

#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "broker/client_channel.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace edgemq::broker::testing {

// `notified`: the fake link's notification count, reset here as the net layer would on a wake.
inline std::vector<mqtt::packet> take_packets(client_channel& ch, int& notified, mqtt::protocol_version v) {
  if (notified) {
    notified = 0;
    ch.pull();
  }
  std::string wire, heads;
  std::vector<out_chunk> chunks;
  ch.take_output(heads, chunks);
  for (auto& c : chunks) {
    wire += heads.substr(c.head_begin, c.head_end - c.head_begin);
    if (c.body) wire += c.body->payload;
  }
  std::vector<mqtt::packet> out;
  std::span<const std::uint8_t> rest(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size());
  while (!rest.empty()) {
    auto f = mqtt::parse_frame(rest, 1 << 20);
    EXPECT_EQ(f.status, mqtt::frame_status::complete);
    if (f.status != mqtt::frame_status::complete) break;
    auto p = mqtt::decode(f.value.header, f.value.body, v);
    EXPECT_TRUE(p.has_value());
    if (!p) break;
    out.push_back(*p);
    rest = rest.subspan(f.value.size);
  }
  return out;
}

}  // namespace edgemq::broker::testing
