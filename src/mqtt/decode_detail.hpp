// Internal: per-packet-family decoders behind mqtt::decode.
#pragma once

#include "edgemq/mqtt/codec.hpp"
#include "wire.hpp"

namespace edgemq::mqtt::detail {

result<packet> decode_connect(std::uint8_t flags, reader& in);
result<packet> decode_connack(std::uint8_t flags, reader& in, protocol_version v);
result<packet> decode_publish(std::uint8_t flags, reader& in, protocol_version v);
reason_code decode_publish_into(std::uint8_t flags, reader& in, protocol_version v, publish& p, bool& props_set);
result<packet> decode_subscribe(std::uint8_t flags, reader& in, protocol_version v);
result<packet> decode_suback(std::uint8_t flags, reader& in, protocol_version v);
result<packet> decode_unsubscribe(std::uint8_t flags, reader& in, protocol_version v);
result<packet> decode_unsuback(std::uint8_t flags, reader& in, protocol_version v);

// Whether `rc` may appear in a packet of type `t` (MQTT 5, 2.4 and each packet's reason table).
bool valid_reason(packet_type t, reason_code rc) noexcept;

}  // namespace edgemq::mqtt::detail
