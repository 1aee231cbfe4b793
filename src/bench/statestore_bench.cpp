// edgemq-statestore-bench: SET/GET round trips per second through the broker's state store,
// N concurrent clients each with one request in flight (like redis-benchmark -P 1).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/mqtt_socket_client.hpp"
#include "edgemq/statestore/hlc.hpp"
#include "edgemq/statestore/resp3.hpp"

namespace {

using namespace edgemq;
using clk = std::chrono::steady_clock;
constexpr std::string_view request_topic = "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke";

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

struct result {
  std::uint64_t ops = 0;
  std::vector<double> latencies_us;
  std::string error;
};

void client_loop(const std::string& host, std::uint16_t port, int index, const std::string& op, std::size_t value_size,
                 clk::time_point until, result& out) {
  try {
    bench::mqtt_socket_client c(host, port);
    const std::string id = "ssbench-" + std::to_string(index);
    c.connect(id);
    const std::string response_topic = "clients/" + id + "/statestore/response";
    c.send(mqtt::subscribe{1, {{response_topic, {mqtt::qos::at_least_once}}}, {}});
    while (!std::holds_alternative<mqtt::suback>(c.receive())) {
    }
    const std::string key = "bench/" + std::to_string(index);
    const std::string value(value_size, 'v');
    statestore::hlc_clock clock("bench" + std::to_string(index));
    std::uint16_t pid = 1;
    std::uint64_t n = 0;
    out.latencies_us.reserve(1 << 16);
    while (clk::now() < until) {
      const bool is_set = op == "set" || (op == "mixed" && n % 2 == 0) || n == 0;
      mqtt::publish p;
      p.topic = std::string(request_topic);
      p.qos = mqtt::qos::at_least_once;
      p.packet_id = pid = static_cast<std::uint16_t>(pid == 65535 ? 1 : pid + 1);
      p.payload = is_set ? statestore::resp3::request({"SET", key, value}) : statestore::resp3::request({"GET", key});
      p.props.response_topic = response_topic;
      p.props.correlation_data = std::to_string(n);
      p.props.user_properties.emplace_back("__ts", clock.tick(wall_ms()).to_string());
      const auto t0 = clk::now();
      c.send(p);
      for (bool answered = false; !answered;) {
        auto in = c.receive();
        if (auto* r = std::get_if<mqtt::publish>(&in)) {
          if (r->packet_id) c.send(mqtt::puback{r->packet_id, mqtt::reason_code::success, {}});
          answered = r->props.correlation_data == p.props.correlation_data;
          if (answered && r->payload.starts_with("-")) throw std::runtime_error("store error: " + r->payload);
        }
      }
      out.latencies_us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
      ++n;
    }
    out.ops = n;
  } catch (const std::exception& e) {
    out.error = e.what();
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"edgemq-statestore-bench: state store request/response throughput"};
  std::string host = "127.0.0.1", op = "set";
  std::uint16_t port = 1883;
  int clients = 1;
  double seconds = 5;
  std::size_t value_size = 16;
  app.add_option("--host", host);
  app.add_option("--port", port);
  app.add_option("-c,--clients", clients)->check(CLI::Range(1, 1000));
  app.add_option("-s,--seconds", seconds);
  app.add_option("--op", op)->check(CLI::IsMember({"set", "get", "mixed"}));
  app.add_option("--value-size", value_size);
  CLI11_PARSE(app, argc, argv);

  std::vector<result> results(static_cast<std::size_t>(clients));
  std::vector<std::thread> threads;
  const auto start = clk::now();
  const auto until = start + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(seconds));
  for (int i = 0; i < clients; ++i)
    threads.emplace_back(client_loop, host, port, i, op, value_size, until,
                         std::ref(results[static_cast<std::size_t>(i)]));
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(clk::now() - start).count();
  std::uint64_t ops = 0;
  std::vector<double> lat;
  for (auto& r : results) {
    if (!r.error.empty()) {
      std::fprintf(stderr, "client failed: %s\n", r.error.c_str());
      return 1;
    }
    ops += r.ops;
    lat.insert(lat.end(), r.latencies_us.begin(), r.latencies_us.end());
  }
  std::sort(lat.begin(), lat.end());
  const auto pct = [&](double q) { return lat.empty() ? 0.0 : lat[static_cast<std::size_t>(q * (lat.size() - 1))]; };
  std::printf("op=%s clients=%d ops=%llu seconds=%.2f ops_per_sec=%.0f p50_us=%.0f p99_us=%.0f\n", op.c_str(), clients,
              static_cast<unsigned long long>(ops), elapsed, ops / elapsed, pct(0.5), pct(0.99));
  return 0;
}
