// The Kafka endpoint as a destination: a librdkafka producer per dataflow, configured from AIO's
// kafkaSettings (batching, compression, kafkaAcks, partitionStrategy, copyMqttProperties, SASL,
// TLS as Event Hubs needs). dataDestination is the Kafka topic. A batch is acknowledged when every
// one of its records got a successful delivery report (acknowledged as kafkaAcks asks). The
// reports come out of librdkafka's queue on the runtime's I/O thread: librdkafka signals a pipe
// the I/O thread waits on, so there is no thread of ours and no polling timer. rdkafka.h is
// included by the .cpp files only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "dataflow/endpoint.hpp"
#include "dataflow/problems.hpp"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace edgemq::dataflow {

enum class kafka_partitioning { by_default, fixed, by_topic, by_property };

struct kafka_settings {
  std::string host;  // bootstrap servers, host:port[,host:port...]
  bool batching = true;
  std::int64_t latency_ms = 5;
  std::int64_t max_messages = 100000;
  std::int64_t max_bytes = 1000000;
  std::string compression = "none";  // librdkafka's names: none, gzip, snappy, lz4
  std::string acks = "all";          // "0", "1", "all"
  kafka_partitioning partitioning = kafka_partitioning::by_default;
  bool copy_mqtt_properties = false;
  std::string sasl_mechanism;         // "" (none), PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
  std::string sasl_secret;            // directory holding the files `username` and `password`
  bool tls = true;                    // tls.mode (AIO's default: Enabled)
  std::string ca_location;            // tls.trustedCaCertificateConfigMapRef as a file or directory; "": system
  std::int64_t timeout_seconds = 30;  // ours: a record not acknowledged by then fails its batch
};

// spec.kafkaSettings; problems under `path`. Relative secret/CA references resolve against data_dir.
kafka_settings parse_kafka_settings(const nlohmann::json& spec, const std::string& path, const std::string& data_dir,
                                    problems& out);

// The largest batch the runtime hands over (maxMessages when batching, else 1), capped.
std::size_t kafka_max_batch(const kafka_settings& s);

// `dataflow` keys the Static partition strategy (every record of the dataflow to one partition).
std::unique_ptr<sink> make_kafka_sink(kafka_settings settings, std::string topic, std::string dataflow,
                                      boost::asio::io_context& io, std::shared_ptr<spdlog::logger> log);

}  // namespace edgemq::dataflow
