// Glob patterns over state store keys and client ids, as AIO's `keyType: Pattern` and the
// `clientIds` of a Connect resource use them (docs/security.md, "Authorization"): `*` any run
// of bytes (also none), `?` one byte, `[abc]`, `[a-z]`, `[!a]`/`[^a]` one byte of (or not of) a
// set, `\x` the byte x itself. Keys are bytes, not text: nothing here assumes UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace edgemq::auth {

// Whether `text` matches `pattern` as a whole. A malformed class (no closing `]`) matches
// nothing past the point where it starts (validate with valid_glob).
bool glob_matches(std::string_view pattern, std::string_view text) noexcept;

// False when `pattern` has a `[` without its `]` or ends in a lone `\`.
bool valid_glob(std::string_view pattern) noexcept;

// `text` with every glob metacharacter escaped, so that it matches only itself (substituted
// principal values are literal text inside a pattern).
std::string glob_escape(std::string_view text);

}  // namespace edgemq::auth
