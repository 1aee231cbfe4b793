// An asynchronous MQTT 5 client over TCP or TLS for the Mqtt endpoint (mqtt_sink, mqtt_source),
// built on the project's codec. It connects, reconnects with a doubling backoff, keeps the
// connection alive with PINGREQ, subscribes its filters again after every CONNACK, and
// completes each QoS 1 publish on its PUBACK (QoS 0: once written). Every callback runs on the
// io_context's thread, never from inside the call that caused it. Asio stays in the .cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dataflow/endpoints/mqtt_settings.hpp"
#include "edgemq/mqtt/packet.hpp"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace edgemq::dataflow {

class mqtt_client {
 public:
  struct options {
    mqtt_settings settings;
    std::string client_id;
    bool clean_start = true;
    std::uint32_t session_expiry_s = 0;
    std::vector<std::string> subscriptions;  // subscribed at settings.qos after every CONNACK
    std::chrono::milliseconds backoff_min{250};
    std::chrono::milliseconds backoff_max{10000};
  };
  // ok: PUBACK with a reason code below 0x80 (QoS 1), or written (QoS 0). !ok: why.
  using publish_done = std::function<void(bool ok, const std::string& error)>;
  // An incoming PUBLISH and the function that acknowledges it (PUBACK for QoS 1; nothing for QoS
  // 0; nothing either once the connection it came on is gone: the broker sends it again).
  using message_handler = std::function<void(mqtt::publish p, std::function<void()> ack)>;

  mqtt_client(boost::asio::io_context& io, options o, std::shared_ptr<spdlog::logger> log);
  ~mqtt_client();  // stops
  mqtt_client(const mqtt_client&) = delete;
  mqtt_client& operator=(const mqtt_client&) = delete;

  void on_message(message_handler h);
  // Called on each connection (true) and loss of it (false, with why).
  void on_state(std::function<void(bool up, const std::string& why)> f);

  void start();
  // Closes the connection; pending publishes are dropped without their callbacks.
  void stop();

  bool connected() const;
  // A connection attempt is under way (started, or retried after the backoff).
  bool connecting() const;
  // Runs `f` once the current attempt has an outcome (connected or failed); at once (posted) when
  // none is under way. Dropped by stop().
  void when_settled(std::function<void()> f);
  // The publishes this client keeps in flight at most: maxInflightMessages, or the server's
  // Receive Maximum when lower. More wait in the client until acknowledgements free a slot.
  std::size_t send_quota() const;
  // The last connection error ("connection refused", "CONNACK: not authorized"), for status.
  std::string last_error() const;

  // Sends `p` (its packet id is assigned here). Not connected: fails at once (asynchronously);
  // the connection lost before the PUBACK: fails.
  void publish(mqtt::publish p, publish_done done);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace edgemq::dataflow
