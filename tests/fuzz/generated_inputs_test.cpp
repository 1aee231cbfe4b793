// Runs the fuzz bodies over generated inputs on every build: valid packets of every type with
// random mutations (bit flips, truncation, splices) plus pure noise. Deterministic seed.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "edgemq/mqtt/codec.hpp"
#include "fuzz_bodies.hpp"
#include "mutation.hpp"

namespace {

namespace m = edgemq::mqtt;

std::vector<std::string> seeds() {
  std::vector<m::packet> ps;
  m::connect c;
  c.client_id = "c";
  c.will = m::will_message{"w/t", "bye", m::qos::at_least_once, true, {}};
  c.username = "u";
  c.password = "p";
  c.props.session_expiry_interval = 10;
  ps.push_back(c);
  m::publish p{"a/b", "payload", m::qos::exactly_once, true, false, 7, {}};
  p.props.user_properties = {{"k", "v"}};
  p.props.content_type = "text/plain";
  ps.push_back(p);
  ps.push_back(m::puback{1, m::reason_code::success, {}});
  ps.push_back(m::pubrec{2, m::reason_code::no_matching_subscribers, {}});
  ps.push_back(m::pubrel{3, m::reason_code::success, {}});
  ps.push_back(m::pubcomp{4, m::reason_code::success, {}});
  ps.push_back(m::subscribe{5, {{"a/+", {m::qos::at_least_once, true, true, m::retain_handling::send_if_new}}}, {}});
  ps.push_back(m::unsubscribe{6, {"a/+", "#"}, {}});
  ps.push_back(m::pingreq{});
  ps.push_back(m::disconnect{m::reason_code::disconnect_with_will, {}});
  ps.push_back(m::auth{m::reason_code::continue_authentication, {}});
  ps.push_back(m::connack{true, m::reason_code::success, {}});
  ps.push_back(m::suback{5, {m::reason_code::granted_qos_1}, {}});
  std::vector<std::string> out;
  for (auto v : {m::protocol_version::v5, m::protocol_version::v311}) {
    for (auto& pk : ps) {
      if (auto* cn = std::get_if<m::connect>(&pk)) cn->version = v;
      std::string s;
      m::encode(pk, v, s);
      out.push_back(s);
    }
  }
  return out;
}

TEST(GeneratedInputs, DecoderAndChannelSurviveMutatedAndRandomInput) {
  std::mt19937 rng(20261126);
  const auto base = seeds();
  std::size_t runs = 0;
  for (int round = 0; round < 300; ++round) {
    for (const auto& s : base) {
      std::string in = edgemq::fuzz::mutate(s, rng, {});
      if (rng() % 3 == 0) in += base[rng() % base.size()];  // a valid packet after a broken one
      auto* d = reinterpret_cast<const std::uint8_t*>(in.data());
      edgemq::fuzz::decode_one_input(d, in.size());
      edgemq::fuzz::channel_one_input(d, in.size());
      ++runs;
    }
    const auto noise = edgemq::fuzz::noise(rng, 200);
    edgemq::fuzz::decode_one_input(reinterpret_cast<const std::uint8_t*>(noise.data()), noise.size());
    edgemq::fuzz::channel_one_input(reinterpret_cast<const std::uint8_t*>(noise.data()), noise.size());
    ++runs;
  }
  EXPECT_GT(runs, 7000u);  // the bodies abort() on any broken invariant
}

}  // namespace
