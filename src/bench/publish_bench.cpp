// edgemq-publish-bench: acknowledged QoS 1/2 publishes per second, optionally routed to
// persistent (offline) subscribers so every message is journaled before its PUBACK. Used to
// measure the persistence policies; works against any MQTT 5 broker.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/mqtt_socket_client.hpp"

namespace {

using namespace edgemq;
using clk = std::chrono::steady_clock;

struct result {
  std::uint64_t acked = 0;
  std::vector<double> latencies_us;
  std::string error;
};

void publisher(const std::string& host, std::uint16_t port, int index, const std::string& topic, mqtt::qos q,
               std::size_t payload_size, clk::time_point until, result& out) {
  try {
    bench::mqtt_socket_client c(host, port);
    c.connect("pubbench-" + std::to_string(index));
    const std::string payload(payload_size, 'p');
    std::uint16_t pid = 0;
    while (clk::now() < until) {
      pid = static_cast<std::uint16_t>(pid == 65535 ? 1 : pid + 1);
      const auto t0 = clk::now();
      c.send(mqtt::publish{topic, payload, q, false, false, pid, {}});
      for (bool done = false; !done;) {
        auto in = c.receive();
        if (std::holds_alternative<mqtt::puback>(in)) done = true;
        if (auto* rec = std::get_if<mqtt::pubrec>(&in))
          c.send(mqtt::pubrel{rec->packet_id, mqtt::reason_code::success, {}});
        if (std::holds_alternative<mqtt::pubcomp>(in)) done = true;
      }
      out.latencies_us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
      ++out.acked;
    }
  } catch (const std::exception& e) {
    out.error = e.what();
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"edgemq-publish-bench: acknowledged publishes per second"};
  std::string host = "127.0.0.1", topic = "bench/persist";
  std::uint16_t port = 1883;
  int clients = 1, qos = 1, persistent = 1;
  double seconds = 5;
  std::size_t payload = 64;
  app.add_option("--host", host);
  app.add_option("--port", port);
  app.add_option("-c,--clients", clients)->check(CLI::Range(1, 1000));
  app.add_option("-q,--qos", qos)->check(CLI::Range(1, 2));
  app.add_option("-s,--seconds", seconds);
  app.add_option("--payload", payload);
  app.add_option("--topic", topic);
  app.add_option("--persistent-subscribers", persistent, "offline sessions (expiry 1 h) subscribed to the topic");
  CLI11_PARSE(app, argc, argv);
  try {
    for (int i = 0; i < persistent; ++i) {
      bench::mqtt_socket_client s(host, port);
      mqtt::connect c;
      c.client_id = "pubbench-sub-" + std::to_string(i);
      c.clean_start = true;
      c.props.session_expiry_interval = 3600;
      s.send(c);
      s.receive();
      s.send(mqtt::subscribe{1, {{topic, {mqtt::qos::at_least_once}}}, {}});
      while (!std::holds_alternative<mqtt::suback>(s.receive())) {
      }
      s.send(mqtt::disconnect{});
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "setting up subscribers: %s\n", e.what());
    return 1;
  }
  std::vector<result> results(static_cast<std::size_t>(clients));
  std::vector<std::thread> threads;
  const auto start = clk::now();
  const auto until = start + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(seconds));
  for (int i = 0; i < clients; ++i)
    threads.emplace_back(publisher, host, port, i, topic, static_cast<mqtt::qos>(qos), payload, until,
                         std::ref(results[static_cast<std::size_t>(i)]));
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(clk::now() - start).count();
  std::uint64_t acked = 0;
  std::vector<double> lat;
  for (auto& r : results) {
    if (!r.error.empty()) {
      std::fprintf(stderr, "publisher failed: %s\n", r.error.c_str());
      return 1;
    }
    acked += r.acked;
    lat.insert(lat.end(), r.latencies_us.begin(), r.latencies_us.end());
  }
  std::sort(lat.begin(), lat.end());
  const auto pct = [&](double p) { return lat.empty() ? 0.0 : lat[static_cast<std::size_t>(p * (lat.size() - 1))]; };
  std::printf("qos=%d clients=%d persistent_subscribers=%d acked=%llu msgs_per_sec=%.0f p50_us=%.0f p99_us=%.0f\n", qos,
              clients, persistent, static_cast<unsigned long long>(acked), acked / elapsed, pct(0.5), pct(0.99));
  return 0;
}
