// A broker message as one NATS payload: a compact binary envelope, then the MQTT payload
// (docs/cluster.md "Routing between nodes", ADR 0028). The envelope carries what NATS headers
// carried before (no natsMsg header table to build or parse per message: that allocation was ~30 %
// of the publishing node's time): the origin (node instance, sequence number, publishing client for
// no-local), QoS and retain flag, the MQTT 5 properties a subscriber sees (user properties in
// order, content type, response topic, correlation data, payload format, the expiry left), the
// topic on subjects that are not the topic's (retained copies, catch-up replies) and the catch-up's
// end marker. libnats-free: unit-tested in tests/unit/cluster/bus_codec_test.cpp.
//
// Layout (integers are LEB128 varints, strings a varint length then the bytes):
//   0xEB, version 1, flags (bits 0-1 QoS, 2 retain, 3 client, 4 payload format, 5 content type,
//   6 response topic, 7 correlation data), flags2 (bit 0 expiry, 1 user properties, 2 topic,
//   3 end, 4 confirm; others must be 0), seq, origin, then in flag order: client, format (one byte),
//   content type, response topic, correlation data, expiry, user property count and key/value
//   pairs, topic; the rest is the MQTT payload.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/message.hpp"

namespace edgemq::cluster {

constexpr std::uint8_t envelope_magic = 0xEB;
constexpr std::uint8_t envelope_version = 1;

// Appends `m` (envelope then payload) to `out` (cleared first; its capacity is reused).
// with_topic: also carry m.topic (for subjects that do not spell it). confirm: the nodes holding
// matching persistent sessions answer on `edgemq.confirm.<origin>` once they have it durably
// (nats_bus.hpp, "Cluster-wide QoS 1/2").
void encode_envelope(std::string& out, const broker::message& m, std::string_view origin, std::uint64_t seq,
                     broker::clock::time_point now, bool with_topic, bool confirm = false);
// The catch-up's last reply: no message.
std::string encode_end_marker(std::string_view origin);

struct decoded {
  broker::message_ptr msg;  // null: malformed (or the end marker)
  std::string origin;
  std::uint64_t seq = 0;
  bool end = false;      // the catch-up's end marker
  bool confirm = false;  // the origin waits for a confirmation (encode_envelope)
};
// `subject_topic`: the topic the subject spells (nullopt: the envelope must carry it).
decoded decode_envelope(std::optional<std::string> subject_topic, std::string_view data, broker::clock::time_point now);

}  // namespace edgemq::cluster
