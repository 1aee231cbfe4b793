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

// Nullopt: the message cannot be stored (its MQTT 5 PUBLISH would exceed the largest packet);
// the caller refuses the write rather than storing a record that cannot be read back.
std::optional<std::string> encode_message(const broker::message& m, std::uint64_t expires_wall_ms);
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
std::optional<std::string> encode_delivery(broker::stored_stage stage, std::uint16_t packet_id,
                                           const broker::delivery& d, std::uint64_t expires_wall_ms);
std::optional<stored_delivery> decode_delivery(std::string_view in);

// Whole records (key and value), one pair of functions per kind. The key's first byte is the
// kind; decoders return nullopt for a record they cannot read (corrupt, a malformed key, or a
// format version this build does not know), never throw.
enum class record_kind : char { session = 'S', message = 'M', inbound_qos2 = 'Q', retained = 'R', will = 'W' };
// Nullopt: the key is no broker record (e.g. the writer's probe key), to be skipped.
std::optional<record_kind> record_kind_of(std::string_view key);

// A message with its expiry deadline as wall-clock milliseconds (0: none).
struct timed_message {
  broker::message msg;
  std::uint64_t expires_wall_ms = 0;
};
// The message to publish or queue, its expiry converted against the steady and wall clocks read
// together (`steady_at`, `wall_at`; durable_store.hpp).
broker::message_ptr to_message(timed_message m, broker::clock::time_point steady_at, std::uint64_t wall_at);

// Retained message: key retained_key(topic).
std::optional<std::string> encode_retained_record(const broker::message& m, std::uint64_t expires_wall_ms);
std::optional<timed_message> decode_retained_record(std::string_view value);

// Session: key session_key(client id); value encode_session(). The image's client id comes from the key.
std::optional<broker::session_image> decode_session_record(std::string_view key, std::string_view value);

// Queued or in-flight delivery: key message_key(client id, seq); value encode_delivery().
struct message_record {
  std::string client_id;
  stored_delivery delivery;  // delivery.d.seq is the key's seq
};
std::optional<message_record> decode_message_record(std::string_view key, std::string_view value);

// Inbound QoS 2 packet id awaiting its PUBREL: key qos2_key(client id, packet id).
std::string encode_qos2_record();
struct qos2_record {
  std::string client_id;
  std::uint16_t packet_id = 0;
};
std::optional<qos2_record> decode_qos2_record(std::string_view key, std::string_view value);

// A will waiting for its delay: key will_key(client id); published at `at_wall_ms`.
std::optional<std::string> encode_will_record(const broker::message& will, std::uint64_t at_wall_ms,
                                              std::uint64_t expires_wall_ms);
struct will_record {
  std::string client_id;
  std::uint64_t at_wall_ms = 0;
  timed_message will;
};
std::optional<will_record> decode_will_record(std::string_view key, std::string_view value);

}  // namespace edgemq::persistence
