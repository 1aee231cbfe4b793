// JSON Web Tokens (RFC 7519) signed with RS256 or ES256 (RFC 7518 3.3, 3.4), verified offline
// against public keys from PEM files or a JWKS file (RFC 7517). Nothing else is accepted: no
// "none", no HMAC (a public key must never be usable as a shared secret), no encrypted tokens.
// Checks: the signature, `exp` (required), `nbf` (when present), `iss` and `aud` (when the
// policy names them). No broker types: the K8S-SAT authenticator (sat_authenticator.hpp) uses
// this. See docs/security.md ("JWT and K8S-SAT") and ADR 0012.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::auth {

// A set of public keys, immutable once built (a reload builds a new set). Each key is RSA (for
// RS256) or EC P-256 (for ES256) and may have a key id (`kid`, from a JWKS) that a token's
// header can name.
class jwt_keyset {
 public:
  jwt_keyset();
  ~jwt_keyset();
  jwt_keyset(jwt_keyset&&) noexcept;
  jwt_keyset& operator=(jwt_keyset&&) noexcept;

  // Adds the public key(s) of a PEM file (a PUBLIC KEY or a CERTIFICATE). False, with `why`.
  bool add_pem_file(const std::string& path, std::string& why);
  bool add_pem(std::string_view pem, std::string& why);
  // Adds every RSA and EC P-256 key of a JWKS document ({"keys":[...]}); keys of other types,
  // or with "use" other than "sig", are skipped. False, with `why`, when the document is not a
  // JWKS or a supported key is malformed; a JWKS with no usable key is an error too.
  bool add_jwks(std::string_view json, std::string& why);
  bool add_jwks_file(const std::string& path, std::string& why);

  std::size_t size() const noexcept;

  struct key;  // OpenSSL's EVP_PKEY, its kind and kid (jwt.cpp)
  const std::vector<std::shared_ptr<const key>>& keys() const noexcept { return keys_; }

 private:
  std::vector<std::shared_ptr<const key>> keys_;
};

// What a token must say to be accepted.
struct jwt_policy {
  std::string issuer;                  // empty: any issuer
  std::vector<std::string> audiences;  // empty: any audience; else `aud` must contain one of them
  std::int64_t leeway_seconds = 0;     // clock skew allowed on exp and nbf
};

enum class jwt_error {
  none,
  malformed,        // not three base64url parts, bad JSON, exp missing or not a number
  unsupported_alg,  // not RS256/ES256 (or "none", HS256, ...)
  no_key,           // no configured key of that kind (or with that kid)
  bad_signature,
  expired,
  not_yet_valid,
  wrong_issuer,
  wrong_audience,
};
const char* to_string(jwt_error e) noexcept;

// 9999-12-31T23:59:59Z: NumericDates beyond it (either sign) are taken as it.
inline constexpr std::int64_t max_numeric_date = 253402300799;

struct jwt_claims {
  std::string subject;       // `sub` ("" when absent)
  std::int64_t expires = 0;  // `exp`, seconds since the epoch, within +-max_numeric_date
  // Every claim with a string, number or boolean value, nested objects flattened with '.'
  // ("kubernetes.io.namespace"); arrays of strings joined with ','.
  std::vector<std::pair<std::string, std::string>> flat;
};

struct jwt_result {
  jwt_error error = jwt_error::malformed;
  jwt_claims claims;  // valid when error == none
  explicit operator bool() const noexcept { return error == jwt_error::none; }
};

// Verifies `token` (compact serialization, surrounding whitespace ignored) at time `now`
// (seconds since the epoch).
jwt_result verify_jwt(std::string_view token, const jwt_keyset& keys, const jwt_policy& policy, std::int64_t now);

// base64url without padding (RFC 7515 2), strict; exposed for tests and SCRAM.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace edgemq::auth
