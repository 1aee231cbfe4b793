// The endpoint types a DataflowEndpoint's `endpointType` names (Mqtt, Kafka, Http, File,
// LocalStorage), each with its validation and its factories. endpoint_kinds.cpp lists them; an
// endpoint type adds itself there with one line.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "dataflow/endpoint.hpp"
#include "dataflow/problems.hpp"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}
namespace edgemq::broker {
class broker;
}

namespace edgemq::dataflow {

// What a factory gets to build an end of one dataflow.
struct endpoint_args {
  std::string dataflow;             // the dataflow's name (client ids, file names, log lines)
  std::string endpoint;             // the endpoint's name
  const nlohmann::json& spec;       // the DataflowEndpoint's `spec`, already validated
  std::string data_destination;     // sink: destinationSettings.dataDestination (topic, path, ...)
  std::vector<std::string> topics;  // source: sourceSettings.dataSources (topic filters)
  boost::asio::io_context& io;      // the runtime's I/O thread
  std::shared_ptr<spdlog::logger> log;
  broker::broker& core;  // the local broker (the `default` endpoint, events)
  std::string data_dir;  // the daemon's data directory (file sinks write relative to it)
};

struct endpoint_kind {
  std::string type;  // endpointType as written in the document ("Mqtt", "Kafka", ...)
  // Checks spec's settings for this type; appends problems with pointers under `path` (the spec's own).
  std::function<void(const nlohmann::json& spec, const std::string& path, problems& out)> validate;
  std::function<std::unique_ptr<sink>(const endpoint_args&)> make_sink;      // null: not a destination
  std::function<std::unique_ptr<source>(const endpoint_args&)> make_source;  // null: not a source
};

// Every endpoint type edgemq knows (endpoint_kinds.cpp).
const std::vector<endpoint_kind>& endpoint_kinds();
const endpoint_kind* find_endpoint_kind(const std::string& type);

}  // namespace edgemq::dataflow
