// What a client_channel has written, decoded: the test side of the net layer (pull when the
// session notified the link, take the output, parse every frame in it); and a client made of a
// channel on a fake link, for the tests that only need to send packets and read the answers.
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

// Counts notifications (a wake-up the net layer would act on); kicks are ignored.
struct quiet_link : link {
  int notified = 0;
  void notify() override { ++notified; }
  void kick(mqtt::reason_code) override {}
};

// A client on listener `listener`: sends packets to its channel and reads what it wrote back.
struct channel_client {
  std::shared_ptr<quiet_link> l = std::make_shared<quiet_link>();
  client_channel ch;
  mqtt::protocol_version v;

  channel_client(broker& b, mqtt::protocol_version ver = mqtt::protocol_version::v5, std::uint32_t listener = 0)
      : ch(b, l, nullptr), v(ver) {
    ch.set_listener(listener);
  }
  void send(const mqtt::packet& p) {
    std::string bytes;
    mqtt::encode(p, v, bytes);
    ch.on_data({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, clock::now());
  }
  std::vector<mqtt::packet> received() { return take_packets(ch, l->notified, v); }
  // The one packet written since the last read, of type T (a test failure otherwise).
  template <class T>
  T one() {
    auto ps = received();
    if (ps.size() != 1 || !std::holds_alternative<T>(ps[0])) {
      ADD_FAILURE() << "expected one packet of the type asked for, got " << ps.size();
      return T{};
    }
    return std::get<T>(ps[0]);
  }
  // CONNECT with a clean start; the CONNACK.
  mqtt::connack connect(std::string id, std::optional<std::string> user = std::nullopt,
                        std::optional<std::string> password = std::nullopt) {
    mqtt::connect c;
    c.version = v;
    c.client_id = std::move(id);
    c.clean_start = true;
    c.username = std::move(user);
    c.password = std::move(password);
    send(c);
    return one<mqtt::connack>();
  }
};

}  // namespace edgemq::broker::testing
