// Byte-text helpers every layer needs (the admin API's JSON values, dataflow records, SCRAM,
// IoT Hub SAS keys, the etcd gateway's base64 keys): one implementation, strict on input.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace edgemq::text {

// RFC 3629 UTF-8: no overlong forms, surrogates or code points beyond U+10FFFF.
bool valid_utf8(std::string_view s);

// RFC 4648 base64, standard alphabet, padded.
std::string base64_encode(std::string_view bytes);
// Strict: length a multiple of 4, only alphabet characters, at most two '=' and only at the end
// (nullopt otherwise). Empty text decodes to empty bytes.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace edgemq::text
