// The endpoint types, one function each, implemented in endpoints/<type>_endpoint.cpp and listed
// in endpoint_kinds.cpp.
#pragma once

#include "dataflow/endpoint_kind.hpp"

namespace edgemq::dataflow {

endpoint_kind mqtt_endpoint_kind();           // Mqtt: a remote broker, or `default` (the local one)
endpoint_kind http_endpoint_kind();           // Http (ours): webhook
endpoint_kind file_endpoint_kind();           // File (ours): JSON Lines files
endpoint_kind local_storage_endpoint_kind();  // LocalStorage (AIO): the same, in the claim's directory
endpoint_kind kafka_endpoint_kind();          // Kafka (librdkafka)

}  // namespace edgemq::dataflow

namespace edgemq::dataflow {

// The `default` endpoint (always defined, never stored): the local broker, in process.
std::unique_ptr<source> make_local_source(const endpoint_args& a);  // subscribes a.topics
std::unique_ptr<sink> make_local_sink(const endpoint_args& a);      // republishes to a.data_destination

}  // namespace edgemq::dataflow
