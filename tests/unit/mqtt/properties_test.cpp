// property_allowed: the allow-list of MQTT 5.0 section 2.2.2.2 (property id x packet).
#include "edgemq/mqtt/properties.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>

#include <gtest/gtest.h>

namespace {

using namespace edgemq::mqtt;
using ctx = property_context;
using pid = property_id;

constexpr ctx all_contexts[] = {ctx::connect,  ctx::connack,    ctx::publish, ctx::will,
                                ctx::puback,   ctx::subscribe,  ctx::suback,  ctx::unsubscribe,
                                ctx::unsuback, ctx::disconnect, ctx::auth};

struct row {
  pid id;
  std::initializer_list<ctx> allowed;
};

std::string name(ctx c) {
  switch (c) {
    case ctx::connect:
      return "CONNECT";
    case ctx::connack:
      return "CONNACK";
    case ctx::publish:
      return "PUBLISH";
    case ctx::will:
      return "Will";
    case ctx::puback:
      return "PUBACK";
    case ctx::subscribe:
      return "SUBSCRIBE";
    case ctx::suback:
      return "SUBACK";
    case ctx::unsubscribe:
      return "UNSUBSCRIBE";
    case ctx::unsuback:
      return "UNSUBACK";
    case ctx::disconnect:
      return "DISCONNECT";
    case ctx::auth:
      return "AUTH";
  }
  return "?";
}

TEST(PropertyAllowed, MatchesSpecTable) {
  const row table[] = {
      {pid::payload_format_indicator, {ctx::publish, ctx::will}},
      {pid::message_expiry_interval, {ctx::publish, ctx::will}},
      {pid::content_type, {ctx::publish, ctx::will}},
      {pid::response_topic, {ctx::publish, ctx::will}},
      {pid::correlation_data, {ctx::publish, ctx::will}},
      {pid::subscription_identifier, {ctx::publish, ctx::subscribe}},
      {pid::session_expiry_interval, {ctx::connect, ctx::connack, ctx::disconnect}},
      {pid::assigned_client_identifier, {ctx::connack}},
      {pid::server_keep_alive, {ctx::connack}},
      {pid::authentication_method, {ctx::connect, ctx::connack, ctx::auth}},
      {pid::authentication_data, {ctx::connect, ctx::connack, ctx::auth}},
      {pid::request_problem_information, {ctx::connect}},
      {pid::will_delay_interval, {ctx::will}},
      {pid::request_response_information, {ctx::connect}},
      {pid::response_information, {ctx::connack}},
      {pid::server_reference, {ctx::connack, ctx::disconnect}},
      {pid::reason_string, {ctx::connack, ctx::puback, ctx::suback, ctx::unsuback, ctx::disconnect, ctx::auth}},
      {pid::receive_maximum, {ctx::connect, ctx::connack}},
      {pid::topic_alias_maximum, {ctx::connect, ctx::connack}},
      {pid::topic_alias, {ctx::publish}},
      {pid::maximum_qos, {ctx::connack}},
      {pid::retain_available, {ctx::connack}},
      {pid::user_property,
       {ctx::connect, ctx::connack, ctx::publish, ctx::will, ctx::puback, ctx::subscribe, ctx::suback, ctx::unsubscribe,
        ctx::unsuback, ctx::disconnect, ctx::auth}},
      {pid::maximum_packet_size, {ctx::connect, ctx::connack}},
      {pid::wildcard_subscription_available, {ctx::connack}},
      {pid::subscription_identifier_available, {ctx::connack}},
      {pid::shared_subscription_available, {ctx::connack}},
  };
  for (const auto& r : table) {
    for (ctx c : all_contexts) {
      bool expected = false;
      for (ctx a : r.allowed) expected = expected || a == c;
      EXPECT_EQ(property_allowed(r.id, c), expected)
          << "property 0x" << std::hex << static_cast<int>(r.id) << std::dec << " in " << name(c);
    }
  }
}

TEST(PropertyAllowed, UnknownIdsAreNeverAllowed) {
  for (int id : {0x00, 0x04, 0x05, 0x0A, 0x0C, 0x10, 0x14, 0x1B, 0x1D, 0x1E, 0x20, 0x2B, 0x7F, 0x80, 0xFF}) {
    for (ctx c : all_contexts) {
      EXPECT_FALSE(property_allowed(static_cast<pid>(id), c))
          << "id 0x" << std::hex << id << std::dec << " in " << name(c);
    }
  }
}

}  // namespace
