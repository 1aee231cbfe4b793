// The disk buffer's encoding of a record (record.hpp): compact (varint lengths, optional fields
// only when set) and versioned, so a buffer written by one edgemq is read by the next.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dataflow/record.hpp"

namespace edgemq::dataflow {

// Appends r's encoding to `out` (r.seq is not stored: it is the record's key).
void encode_record(const record& r, std::string& out);
// Null when `bytes` is not a record this version can read (corrupt, or from a newer edgemq).
std::optional<record> decode_record(std::string_view bytes);

}  // namespace edgemq::dataflow
