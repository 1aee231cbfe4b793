// The two ends of a dataflow, as the runtime sees them. Implementations live in endpoints/
// (one file pair per endpoint type) and are made by their endpoint_kind (endpoint_kind.hpp).
//
// Threads: every method is called on the dataflow runtime's I/O thread (one boost::asio::io_context
// run by one thread for all dataflows), and every callback must be invoked on that same thread
// (an implementation with threads of its own, such as librdkafka's, posts its completions there).
// So neither side takes a lock for the other.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>

#include "dataflow/record.hpp"

namespace edgemq::dataflow {

struct send_result {
  bool ok = true;
  std::string error;  // !ok: why, for the dataflow's status (last error) and the log
  // !ok: how many leading records of the batch the destination did take (they leave the buffer;
  // the rest is sent again after a backoff).
  std::size_t accepted = 0;
};

// A destination. The runtime sends batches in buffer order and waits for each one's result
// before sending the next (at most max_batch() records, at most one batch in flight), so order
// per source topic is kept. A record leaves the disk buffer only after a send_result said the
// destination acknowledged it (at least once: after a failure or a restart it is sent again).
class sink {
 public:
  virtual ~sink() = default;
  // Connects (or opens files). Failures show up as failed sends, never as exceptions.
  virtual void start() = 0;
  // `done` is called exactly once, on the I/O thread, never from inside send() itself.
  virtual void send(std::span<const record> batch, std::function<void(send_result)> done) = 0;
  // The largest batch this sink takes at once (its batching settings).
  virtual std::size_t max_batch() const { return 1; }
  // Closes connections; a send in flight completes with !ok (or not at all after stop()).
  virtual void stop() = 0;
};

// A source of records (the local broker's topics, or a remote MQTT/Kafka endpoint).
class source {
 public:
  // Receives each record; the runtime calls `ack` (on the I/O thread) once the record is in the
  // disk buffer (or was dropped by the buffer's policy), and only then may the source acknowledge
  // it upstream (MQTT PUBACK, Kafka offset commit).
  using handler = std::function<void(record r, std::function<void()> ack)>;
  virtual ~source() = default;
  virtual void start(handler on_record) = 0;
  // Stop consuming (buffer full under the stop policy, mode Disabled); resume() continues.
  virtual void pause() {}
  virtual void resume() {}
  virtual void stop() = 0;
};

}  // namespace edgemq::dataflow
