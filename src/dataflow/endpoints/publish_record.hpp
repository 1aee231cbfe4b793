// A received MQTT PUBLISH as a dataflow record: what both MQTT sources (the local broker's
// in-process client and a remote broker's client) hand to the runtime.
#pragma once

#include "dataflow/record.hpp"
#include "edgemq/mqtt/packet.hpp"

namespace edgemq::dataflow {

// Moves the topic, payload and properties out of `p`; the timestamp is the wall clock now.
record record_from_publish(mqtt::publish&& p);

}  // namespace edgemq::dataflow
