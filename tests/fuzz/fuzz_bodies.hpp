// The bodies of the fuzz targets, shared by the libFuzzer binaries (clang, EDGEMQ_FUZZ=ON) and by
// a deterministic GoogleTest run over generated inputs that CI executes with any compiler.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgemq::fuzz {

// Frames and decodes `data` as both protocol versions; every packet that decodes must re-encode
// and decode to the same value. Aborts on a violated invariant.
void decode_one_input(const std::uint8_t* data, std::size_t size);

// Feeds `data` to a connected client channel (MQTT 5 and 3.1.1) in pieces; must never crash,
// and the channel's buffered partial frame stays within the maximum packet size.
void channel_one_input(const std::uint8_t* data, std::size_t size);

// RESP3 requests and replies: accepted input re-encodes canonically; encoders round-trip.
void resp3_one_input(const std::uint8_t* data, std::size_t size);

// The JSON config loader and listener addresses: errors, never exceptions; accepted configs are
// within range and stable.
void config_one_input(const std::uint8_t* data, std::size_t size);

// The broker's durable record decoders: accepted records and generated records round-trip.
void records_one_input(const std::uint8_t* data, std::size_t size);

// Topic name/filter validation and matching agree with a reference implementation.
void topic_one_input(const std::uint8_t* data, std::size_t size);

// WebSocket frames and upgrade requests: bounded, well-formed replies, split-invariant.
void ws_one_input(const std::uint8_t* data, std::size_t size);

// The authorization policy parser (errors, never exceptions) and its checks: a covered filter only
// matches what its grant matches; escaped glob text matches itself.
void authz_one_input(const std::uint8_t* data, std::size_t size);

// The dataflow expression language: compile errors (never exceptions) carry an offset inside the
// text; evaluation is deterministic and yields JSON values or evaluation_error.
void expr_one_input(const std::uint8_t* data, std::size_t size);

}  // namespace edgemq::fuzz
