// Encoding of the broker's durable records (format version byte first; decode reads every
// version written so far). Messages are stored as encoded MQTT 5 PUBLISH packets, so every
// property survives without a second serialization of its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "broker/durable_store.hpp"

namespace edgemq::persistence {

constexpr std::uint8_t broker_record_format = 1;

// Record keys: one letter, then the client id (or topic); per-message keys add '\0' and a
// big-endian number so a session's records sort together and in order.
std::string session_key(std::string_view client_id);
std::string message_key(std::string_view client_id, std::uint64_t seq);
std::string qos2_key(std::string_view client_id, std::uint16_t packet_id);
std::string retained_key(std::string_view topic);
std::string will_key(std::string_view client_id);
std::string client_range_begin(char kind, std::string_view client_id);
std::string client_range_end(char kind, std::string_view client_id);

std::string encode_message(const broker::message& m, std::uint64_t expires_wall_ms);
// Returns the message and its expiry deadline (0: none).
std::optional<std::pair<broker::message, std::uint64_t>> decode_message(std::string_view& in);

std::string encode_session(const broker::session_image& s);
std::optional<broker::session_image> decode_session(std::string_view in);

struct stored_delivery {
  broker::stored_stage stage = broker::stored_stage::queued;
  std::uint16_t packet_id = 0;
  broker::delivery d;
  std::uint64_t expires_wall_ms = 0;
};
std::string encode_delivery(broker::stored_stage stage, std::uint16_t packet_id, const broker::delivery& d,
                            std::uint64_t expires_wall_ms);
std::optional<stored_delivery> decode_delivery(std::string_view in);

}  // namespace edgemq::persistence
