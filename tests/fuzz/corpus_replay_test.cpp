// Replays every fuzz body over its committed seed corpus (tests/fuzz/corpus/<target>/), then over
// deterministic mutations of those seeds and some noise, on every build and with any compiler.
// The bodies abort() on a broken property, which fails the test.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz_bodies.hpp"
#include "mutation.hpp"

namespace {

using body = void (*)(const std::uint8_t*, std::size_t);

std::vector<std::string> corpus(const std::string& target) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(EDGEMQ_FUZZ_CORPUS) + "/" + target)) {
    std::ifstream f(e.path(), std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  return out;
}

void run(body fn, const std::string& s) {
  fn(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// Seeds must exist (a handful per target), each passes, and so do 2,000 mutations and some noise.
void replay(const std::string& target, body fn) {
  const auto seeds = corpus(target);
  ASSERT_GE(seeds.size(), 3u) << target;
  for (const auto& s : seeds) run(fn, s);
  std::mt19937 rng(20261203);
  for (int i = 0; i < 2000; ++i) run(fn, edgemq::fuzz::mutate(seeds[rng() % seeds.size()], rng, seeds));
  for (int i = 0; i < 200; ++i) run(fn, edgemq::fuzz::noise(rng, 300));
}

TEST(FuzzCorpus, Decode) {
  replay("decode", edgemq::fuzz::decode_one_input);
}
TEST(FuzzCorpus, Channel) {
  replay("channel", edgemq::fuzz::channel_one_input);
}
TEST(FuzzCorpus, Resp3) {
  replay("resp3", edgemq::fuzz::resp3_one_input);
}
TEST(FuzzCorpus, Config) {
  replay("config", edgemq::fuzz::config_one_input);
}
TEST(FuzzCorpus, Records) {
  replay("records", edgemq::fuzz::records_one_input);
}
TEST(FuzzCorpus, Topic) {
  replay("topic", edgemq::fuzz::topic_one_input);
}
TEST(FuzzCorpus, WebSocket) {
  replay("ws", edgemq::fuzz::ws_one_input);
}
TEST(FuzzCorpus, Authz) {
  replay("authz", edgemq::fuzz::authz_one_input);
}
TEST(FuzzCorpus, Expr) {
  replay("expr", edgemq::fuzz::expr_one_input);
}

}  // namespace
