// The Mqtt endpoint type: a remote MQTT broker as a dataflow's destination (mqtt_sink: each
// record published to the topic its dataDestination template gives) and as its source
// (mqtt_source: the dataSources subscribed there). The kind itself (validation, factories) is
// mqtt_endpoint_kind() in kinds.hpp.
#pragma once

#include <memory>
#include <string>

#include "dataflow/endpoint.hpp"
#include "dataflow/endpoint_kind.hpp"
#include "dataflow/endpoints/mqtt_client.hpp"

namespace edgemq::dataflow {

// The client id a dataflow uses on the remote broker: "<clientIdPrefix>-<dataflow>" (AIO:
// "<prefix>-..."), "edgemq-<dataflow>" without a prefix; "-src" is appended for a source, so
// that one dataflow's two ends never take over each other's session.
std::string mqtt_client_id(const mqtt_settings& s, const std::string& dataflow, bool source);

class mqtt_sink final : public sink {
 public:
  mqtt_sink(const endpoint_args& a, mqtt_client::options o);
  void start() override;
  void send(std::span<const record> batch, std::function<void(send_result)> done) override;
  std::size_t max_batch() const override;
  void stop() override;

 private:
  void send_now(std::span<const record> batch, std::function<void(send_result)> done);
  boost::asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  std::string template_;
  mqtt_settings settings_;
  std::unique_ptr<mqtt_client> client_;
  std::string dataflow_;
};

class mqtt_source final : public source {
 public:
  mqtt_source(const endpoint_args& a, mqtt_client::options o);
  void start(handler on_record) override;
  void pause() override;
  void resume() override;
  void stop() override;

 private:
  void deliver(mqtt::publish p, std::function<void()> ack);
  std::unique_ptr<mqtt_client> client_;
  handler on_record_;
  bool paused_ = false;
  // Received while paused; bounded by our Receive Maximum for QoS 1 (unacknowledged).
  std::vector<std::pair<mqtt::publish, std::function<void()>>> held_;
};

}  // namespace edgemq::dataflow
