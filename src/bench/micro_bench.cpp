// Google Benchmark micro-benchmarks of the hot path: codec, topic match, and the fan-out of one
// PUBLISH through the broker core to online subscribers' output buffers. A counting allocator
// reports heap allocations per message (the "allocs/msg" counter). BM_FanoutQoS0Authorized is the
// same fan-out with the publisher under an authorization policy (its cost on the publish path).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include <benchmark/benchmark.h>

#include "auth/aio_policy.hpp"
#include "broker/broker.hpp"
#include "broker/client_channel.hpp"
#include "dataflow/expr/expression.hpp"
#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/frame_parser.hpp"
#include "net/ws_frame.hpp"

namespace {
std::atomic<std::uint64_t> allocations{0};
}

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using namespace edgemq;

std::string encoded_publish(std::size_t payload, mqtt::qos q) {
  std::string out;
  mqtt::encode(mqtt::publish{"sensors/site-1/line-4/temperature",
                             std::string(payload, 'x'),
                             q,
                             false,
                             false,
                             static_cast<std::uint16_t>(q == mqtt::qos::at_most_once ? 0 : 7),
                             {}},
               mqtt::protocol_version::v5, out);
  return out;
}

void BM_DecodePublish(benchmark::State& state) {
  const auto bytes = encoded_publish(static_cast<std::size_t>(state.range(0)), mqtt::qos::at_least_once);
  for (auto _ : state) {
    auto f = mqtt::parse_frame({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, 1u << 20);
    auto p = mqtt::decode(f.value.header, f.value.body, mqtt::protocol_version::v5);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodePublish)->Arg(64)->Arg(1024);

// WebSocket: one socket read (about 64 KiB) of masked binary frames of range(0) payload bytes,
// copied into the read buffer and decoded in place (ADR 0013).
void BM_WsDecodeRead(benchmark::State& state) {
  const auto frame_payload = static_cast<std::size_t>(state.range(0));
  std::vector<std::uint8_t> wire;
  const std::uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
  while (wire.size() < 60 * 1024) {
    wire.push_back(0x82);
    if (frame_payload < 126) {
      wire.push_back(static_cast<std::uint8_t>(0x80 | frame_payload));
    } else {
      wire.push_back(0x80 | 126);
      wire.push_back(static_cast<std::uint8_t>(frame_payload >> 8));
      wire.push_back(static_cast<std::uint8_t>(frame_payload));
    }
    wire.insert(wire.end(), mask, mask + 4);
    for (std::size_t i = 0; i < frame_payload; ++i) wire.push_back(static_cast<std::uint8_t>('x' ^ mask[i % 4]));
  }
  net::ws::frame_decoder d(1u << 20);
  std::string replies;
  std::vector<std::uint8_t> buf(wire.size());
  std::size_t payload = 0;
  for (auto _ : state) {
    std::copy(wire.begin(), wire.end(), buf.begin());
    payload += d.decode(buf, replies);
    benchmark::DoNotOptimize(buf.data());
  }
  if (d.failed()) state.SkipWithError("decode failed");
  state.SetBytesProcessed(static_cast<std::int64_t>(payload));
}
BENCHMARK(BM_WsDecodeRead)->Arg(64)->Arg(4096);

void BM_EncodePublishHead(benchmark::State& state) {
  mqtt::properties props;
  mqtt::publish_head h;
  h.topic = "sensors/site-1/line-4/temperature";
  h.qos = mqtt::qos::at_least_once;
  h.packet_id = 42;
  h.props = &props;
  h.payload_size = 64;
  std::string out;
  out.reserve(256);
  for (auto _ : state) {
    out.clear();
    mqtt::encode_publish_head(h, mqtt::protocol_version::v5, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodePublishHead);

void BM_TopicMatch(benchmark::State& state) {
  broker::limits lim;
  broker::counters stats;
  broker::session_env env{lim, stats};
  const int n = static_cast<int>(state.range(0));
  std::vector<std::unique_ptr<broker::session>> sessions;
  broker::topic_tree tree;
  for (int i = 0; i < n; ++i) {
    sessions.push_back(std::make_unique<broker::session>("s" + std::to_string(i), env));
    tree.subscribe("sensors/site-" + std::to_string(i % 100) + "/line-" + std::to_string(i) + "/+",
                   broker::subscriber{sessions.back().get(), {}, 0});
  }
  tree.subscribe("sensors/#", broker::subscriber{sessions.front().get(), {}, 0});
  std::size_t hits = 0;
  for (auto _ : state) {
    tree.match("sensors/site-7/line-7/temperature", [&](const broker::subscriber&) { ++hits; });
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TopicMatch)->Arg(1000)->Arg(100000);

// One evaluation of a compiled dataflow expression (the per-message cost of a map or filter rule):
// arg 0 "cToF($1)", arg 1 five operators.
void BM_ExprEvaluate(benchmark::State& state) {
  namespace x = dataflow::expr;
  const char* text = state.range(0) == 0 ? "cToF($1)" : "($1 * 9 / 5 + 32) % $2 > 0";
  x::compile_error err;
  const auto e = x::expression::compile(text, 2, err);
  if (!e) std::abort();
  const std::vector<x::value> in{x::value(21.5), x::value(7)};
  for (auto _ : state) {
    auto v = e->evaluate(in);
    benchmark::DoNotOptimize(v);
  }
  state.SetLabel(text);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ExprEvaluate)->Arg(0)->Arg(1);

struct null_link : broker::link {
  void notify() override {}
  void kick(mqtt::reason_code) override {}
};

// One QoS 0 PUBLISH routed to N online subscribers and pulled into their output buffers, as the
// connection threads do after a wake-up.
void fanout_qos0(benchmark::State& state, bool authorized) {
  const int n = static_cast<int>(state.range(0));
  broker::broker b{broker::limits{}};
  if (authorized) {
    // A realistic policy: the grant that matches is the last of four, three of them wildcards.
    std::string why;
    auto policy = auth::aio_policy::parse(R"({"rules": [{"principals": {"clientIds": ["pub"]},
        "brokerResources": [{"method": "Connect"}, {"method": "Publish", "topics": [
          "clients/{principal.clientId}/#", "alerts/+/critical", "status/{principal.clientId}",
          "sensors/site-1/+/temperature"]}]}]})",
                                          why);
    if (!policy) throw std::runtime_error(why);
    auto s = std::make_shared<broker::listener_security>();
    s->authz = policy;
    b.set_listener_security(1, std::move(s));
  }
  std::vector<std::unique_ptr<broker::client_channel>> subs;
  for (int i = 0; i < n; ++i) {
    subs.push_back(std::make_unique<broker::client_channel>(b, std::make_shared<null_link>(), nullptr));
    std::string bytes;
    mqtt::connect c;
    c.client_id = "sub" + std::to_string(i);
    mqtt::encode(c, mqtt::protocol_version::v5, bytes);
    mqtt::encode(mqtt::subscribe{1, {{"sensors/site-1/line-4/temperature", {}}}, {}}, mqtt::protocol_version::v5,
                 bytes);
    subs.back()->on_data({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, broker::clock::now());
    std::string heads;
    std::vector<broker::out_chunk> chunks;
    subs.back()->take_output(heads, chunks);
  }
  broker::client_channel pub(b, std::make_shared<null_link>(), nullptr);
  pub.set_listener(1);  // the subscribers' listener 0 has no policy
  {
    std::string bytes;
    mqtt::connect c;
    c.client_id = "pub";
    mqtt::encode(c, mqtt::protocol_version::v5, bytes);
    pub.on_data({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, broker::clock::now());
  }
  const auto msg = encoded_publish(64, mqtt::qos::at_most_once);
  std::uint64_t allocs = 0;
  // The writer's side of the double buffer: swapped with each channel's output, then cleared
  // (as the connection does once the bytes are on the wire), so capacity is reused.
  std::vector<std::string> heads(subs.size());
  std::vector<std::vector<broker::out_chunk>> chunks(subs.size());
  for (auto _ : state) {
    const auto before = allocations.load(std::memory_order_relaxed);
    pub.on_data({reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size()}, broker::clock::now());
    for (std::size_t i = 0; i < subs.size(); ++i) {
      subs[i]->pull();
      subs[i]->take_output(heads[i], chunks[i]);
      heads[i].clear();
      chunks[i].clear();
    }
    allocs += allocations.load(std::memory_order_relaxed) - before;
  }
  if (b.stats().publish_denied.load() != 0) state.SkipWithError("the policy denied the benchmark's PUBLISH");
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["allocs/msg"] = benchmark::Counter(static_cast<double>(allocs) / state.iterations());
  state.counters["allocs/delivery"] = benchmark::Counter(static_cast<double>(allocs) / (state.iterations() * n));
}
void BM_FanoutQoS0(benchmark::State& state) {
  fanout_qos0(state, false);
}
void BM_FanoutQoS0Authorized(benchmark::State& state) {
  fanout_qos0(state, true);
}
BENCHMARK(BM_FanoutQoS0)->Arg(1)->Arg(100)->Arg(1000);
BENCHMARK(BM_FanoutQoS0Authorized)->Arg(1)->Arg(100);

}  // namespace

BENCHMARK_MAIN();
