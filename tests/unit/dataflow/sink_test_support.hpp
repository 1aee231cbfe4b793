// Driving a sink through an io_context in a test: send a batch, run the loop until its result
// arrives (or a deadline passes), and records to send.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "dataflow/endpoint.hpp"

namespace edgemq::dataflow::test {

// Runs `io` until `cond()` holds; false when `limit` passed first.
template <class Cond>
bool run_until(boost::asio::io_context& io, Cond cond, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  auto guard = boost::asio::make_work_guard(io);
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Sends and waits for the result, checking that `done` was not called from inside send().
inline std::optional<send_result> send_and_wait(boost::asio::io_context& io, sink& s, const std::vector<record>& batch,
                                                std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  std::optional<send_result> result;
  bool in_send = true;
  bool called_inside = false;
  s.send(batch, [&](send_result r) {
    called_inside = in_send;
    result = std::move(r);
  });
  in_send = false;
  if (!run_until(
          io, [&] { return result.has_value(); }, limit))
    return std::nullopt;
  if (called_inside) return send_result{false, "done called from inside send()", 0};
  return result;
}

inline record make_record(std::string topic, std::string payload, user_properties props = {}) {
  record r;
  r.topic = std::move(topic);
  r.payload = std::move(payload);
  r.properties = std::move(props);
  r.timestamp_ms = 1700000000000;
  return r;
}

// n records with JSON payloads {"n": first+i} on `topic`.
inline std::vector<record> numbered(int first, int n, const std::string& topic = "factory/1/telemetry") {
  std::vector<record> v;
  for (int i = 0; i < n; ++i) v.push_back(make_record(topic, "{\"n\":" + std::to_string(first + i) + "}"));
  return v;
}

}  // namespace edgemq::dataflow::test
