// A QoS 1 delivery of a small message, as the cluster tests journal and decode them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broker/message.hpp"

namespace edgemq::cluster::testing {

inline broker::delivery qos1_delivery(std::string topic, std::string payload, std::uint64_t seq = 0) {
  auto m = std::make_shared<broker::message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = mqtt::qos::at_least_once;
  broker::delivery d;
  d.msg = m;
  d.qos = mqtt::qos::at_least_once;
  d.seq = seq;
  return d;
}

}  // namespace edgemq::cluster::testing
