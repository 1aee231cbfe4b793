// edgemq-store-fill: writes N persistent sessions (each with one subscription) and M retained
// messages straight into a broker database, to measure how long the daemon takes to start on a
// large store (src/bench/bench-restart.sh) and what sessions and retained messages cost in memory
// (src/bench/bench-memory.py). A benchmark helper, not a test.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "broker/broker.hpp"
#include "persistence/durable_broker_store.hpp"

int main(int argc, char** argv) {
  CLI::App app{"edgemq-store-fill: fill a broker database for start-up measurements"};
  std::string data_dir;
  std::size_t sessions = 100000, retained = 1000000, payload = 64, subscriptions = 1;
  app.add_option("--data-dir", data_dir)->required();
  app.add_option("--sessions", sessions);
  app.add_option("--retained", retained);
  app.add_option("--payload", payload);
  app.add_option("--subscriptions", subscriptions, "subscriptions per session (memory per subscription)");
  CLI11_PARSE(app, argc, argv);
  using namespace edgemq;
  const auto path = (std::filesystem::path(data_dir) / "broker").string();
  std::filesystem::create_directories(data_dir);
  persistence::durable_broker_store store(path, persistence::durability::none, std::chrono::milliseconds(5), nullptr);
  store.start();
  const auto t0 = std::chrono::steady_clock::now();
  const auto wall = broker::wall_now_ms();
  for (std::size_t i = 0; i < sessions; ++i) {
    broker::session_image s;
    s.client_id = "device-" + std::to_string(i);
    s.expiry_interval = 86400;
    s.disconnected_wall_ms = wall;
    for (std::size_t k = 0; k < subscriptions; ++k)
      s.subscriptions.push_back(
          {"devices/" + std::to_string(i) + (k ? "/" + std::to_string(k) : std::string()) + "/cmd/#",
           {mqtt::qos::at_least_once},
           0});
    store.save_session(s);
  }
  const std::string body(payload, 'r');
  for (std::size_t i = 0; i < retained; ++i) {
    broker::message m;
    m.topic = "state/" + std::to_string(i % 1000) + "/" + std::to_string(i);
    m.payload = body;
    m.retain = true;
    store.put_retained(m);
  }
  store.stop();
  std::printf("wrote %zu sessions and %zu retained messages in %.1f s\n", sessions, retained,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}
