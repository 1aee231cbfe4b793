// Sans-I/O MQTT encoder and decoder: bytes of one complete frame in, a validated packet value
// out (or the reason code that tells why not); packet values in, bytes out. No sockets, no
// allocation beyond what the packet value itself owns.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <boost/system/result.hpp>

#include "edgemq/mqtt/packet.hpp"

namespace edgemq::mqtt {

template <class T>
using result = boost::system::result<T, std::error_code>;

// Decodes one frame as split by frame_parser: `header` is the first byte (type and flags),
// `body` the variable header and payload. CONNECT determines the version itself; every other
// packet is decoded for `version`. Errors are reason codes (see to_reason_code):
// malformed_packet, protocol_error, topic_name_invalid, topic_filter_invalid,
// unsupported_protocol_version, ...
result<packet> decode(std::uint8_t header, std::span<const std::uint8_t> body, protocol_version version);

// Decodes a PUBLISH frame into `out`, reusing the capacity of its strings (the hot path keeps
// one per thread). Same validation and reason codes as decode(). `props_set` says whether
// out.props may hold a property (pass what the previous call left, false for a fresh value) and
// is updated: most PUBLISH packets have none, and then no property is touched.
reason_code decode_publish(std::uint8_t header, std::span<const std::uint8_t> body, protocol_version version,
                           publish& out, bool& props_set);

// The acknowledgement hot path (PUBACK, PUBREC, PUBREL, PUBCOMP without properties, which is
// almost every one): no packet value, no properties object. decode_plain_ack returns false when
// the frame is not such a plain, valid acknowledgement; decode() then gives the verdict.
bool decode_plain_ack(std::uint8_t header, std::span<const std::uint8_t> body, protocol_version version,
                      std::uint16_t& packet_id, reason_code& code) noexcept;
void encode_plain_ack(packet_type type, std::uint16_t packet_id, reason_code code, protocol_version version,
                      std::string& out);

// The largest remaining length a fixed header can carry (four varint bytes, MQTT 1.5.5) and the
// largest string, binary data or topic behind a two-byte length (MQTT 1.5.4, 1.5.6).
inline constexpr std::uint32_t max_remaining_length = 268'435'455;
inline constexpr std::size_t max_field_length = 65'535;

// Appends the encoded packet to `out`. Fields that the version cannot carry are dropped
// (properties and reason codes for 3.1.1). A packet that cannot be encoded is refused, never
// wrapped: `out` is left as it was and the error is malformed_packet when a string, binary
// data, topic, filter or property does not fit its field (or a subscription identifier its
// varint), packet_too_large when the remaining length would exceed max_remaining_length.
// The caller decides what a refused packet means (a delivery is dropped, a reply closes).
std::error_code encode(const packet& p, protocol_version version, std::string& out);

// The per-subscriber part of an outgoing PUBLISH: everything but the payload, which is shared
// across subscribers on fan-out and written separately. Views only; nothing is copied.
struct publish_head {
  std::string_view topic;
  mqtt::qos qos = qos::at_most_once;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;
  const properties* props = nullptr;                // message properties, may be null
  std::span<const std::uint32_t> subscription_ids;  // appended after props (MQTT 5 only)
  std::optional<std::uint32_t> message_expiry;      // replaces props->message_expiry_interval
  std::uint16_t topic_alias = 0;                    // 0: none (MQTT 5 only)
  std::size_t payload_size = 0;
};

// Appends the fixed header, variable header and properties of `h` (the payload follows).
// Refuses what encoded_size refuses, leaving `out` as it was.
std::error_code encode_publish_head(const publish_head& h, protocol_version version, std::string& out);

// Size of the complete PUBLISH that encode_publish_head + payload would produce, or the reason
// it cannot be encoded (see encode()).
result<std::size_t> encoded_size(const publish_head& h, protocol_version version);

// Appends a variable byte integer (value < 268,435,456).
void write_varint(std::uint32_t value, std::string& out);
std::size_t varint_size(std::uint32_t value) noexcept;

}  // namespace edgemq::mqtt
