// A stored key: value, version, the fencing token protecting it, and its expiry deadline in
// wall-clock milliseconds (so a deadline that passes while the daemon is down still counts).
// Persisted with a leading format version byte; decode() reads every version written so far.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "edgemq/statestore/hlc.hpp"

namespace edgemq::statestore {

struct key_record {
  std::string value;
  hlc version;
  std::optional<hlc> fencing_token;
  std::optional<std::uint64_t> expires_at_ms;
  bool operator==(const key_record&) const = default;
};

constexpr std::uint8_t record_format_version = 1;

std::string encode(const key_record& r);
std::optional<key_record> decode(std::string_view bytes);

}  // namespace edgemq::statestore
