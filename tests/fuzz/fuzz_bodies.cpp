#include "fuzz_bodies.hpp"

#include <cstdlib>
#include <span>
#include <string>

#include "broker/client_channel.hpp"
#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace edgemq::fuzz {
namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

void decode_one_input(const std::uint8_t* data, std::size_t size) {
  for (auto v : {mqtt::protocol_version::v5, mqtt::protocol_version::v311}) {
    std::span<const std::uint8_t> rest(data, size);
    while (!rest.empty()) {
      const auto f = mqtt::parse_frame(rest, 1 << 16);
      if (f.status != mqtt::frame_status::complete) break;
      check(f.value.size <= rest.size());
      auto p = mqtt::decode(f.value.header, f.value.body, v);
      if (p) {
        const auto pv = mqtt::type_of(*p) == mqtt::packet_type::connect ? std::get<mqtt::connect>(*p).version : v;
        std::string again;
        mqtt::encode(*p, pv, again);
        const auto g = mqtt::parse_frame({reinterpret_cast<const std::uint8_t*>(again.data()), again.size()}, 1u << 28);
        check(g.status == mqtt::frame_status::complete);
        auto q = mqtt::decode(g.value.header, g.value.body, pv);
        check(q.has_value() && *q == *p);
      } else {
        check(mqtt::is_error(mqtt::to_reason_code(p.error())));
      }
      rest = rest.subspan(f.value.size);
    }
  }
}

namespace {
struct null_link : broker::link {
  void notify() override {}
  void kick(mqtt::reason_code) override {}
};
}  // namespace

void channel_one_input(const std::uint8_t* data, std::size_t size) {
  broker::limits lim;
  lim.max_packet_size = 4096;
  broker::broker b(lim);
  for (auto v : {mqtt::protocol_version::v5, mqtt::protocol_version::v311}) {
    broker::client_channel ch(b, std::make_shared<null_link>(), nullptr);
    mqtt::connect c;
    c.version = v;
    c.client_id = "fuzz";
    std::string hello;
    mqtt::encode(c, v, hello);
    const auto now = broker::clock::now();
    ch.on_data({reinterpret_cast<const std::uint8_t*>(hello.data()), hello.size()}, now);
    check(ch.connected());
    // Split the input where its first byte says, to exercise frame reassembly.
    const std::size_t cut = size ? data[0] % (size + 1) : 0;
    ch.on_data({data, cut}, now);
    ch.on_data({data + cut, size - cut}, now);
    ch.pull();
    check(ch.output_bytes() <= lim.max_output_bytes + lim.max_packet_size * 4 + size * 4);
    ch.on_close(now);
  }
}

}  // namespace edgemq::fuzz
