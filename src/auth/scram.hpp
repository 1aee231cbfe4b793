// SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, as MQTT 5 enhanced authentication carries it:
// client-first in the CONNECT's Authentication Data, server-first in AUTH 0x18, client-final in
// AUTH 0x18, server-final in the CONNACK's Authentication Data (docs/security.md, ADR 0012).
// No channel binding (a client asking for it, "p=", is refused), no SASLprep (passwords are
// used as the UTF-8 bytes the client sends; edgemq-cli writes them the same way), no authzid.
// No broker types: scram_authenticator.hpp adapts this to the broker's auth_exchange.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "text/text.hpp"

namespace edgemq::auth {

inline constexpr std::string_view scram_scheme = "$scram-sha-256$";
inline constexpr std::uint32_t scram_default_iterations = 4096;  // RFC 7677's minimum
inline constexpr std::uint32_t scram_min_iterations = 4096;

// What the server keeps per user (RFC 5802 3): never the password, nor anything that lets a
// reader of the file log in (StoredKey = H(ClientKey) proves nothing by itself).
struct scram_credentials {
  std::uint32_t iterations = 0;
  std::string salt;
  std::string stored_key;  // 32 bytes: SHA-256(HMAC(SaltedPassword, "Client Key"))
  std::string server_key;  // 32 bytes: HMAC(SaltedPassword, "Server Key")
};

scram_credentials make_scram_credentials(std::string_view password, std::string_view salt, std::uint32_t iterations);
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string sha256(std::string_view data);

// One exchange. Steps: start(client-first) -> server-first; finish(client-final) ->
// server-final. Either returns nullopt when the exchange fails (`error()` says why, in words fit
// for a log line: no credentials or proofs in it).
class scram_server {
 public:
  using lookup = std::function<std::optional<scram_credentials>(std::string_view user)>;
  // `nonce`: the server's part of the nonce; empty draws 24 random bytes (tests pass RFC 7677's).
  explicit scram_server(lookup find, std::string nonce = {});

  std::optional<std::string> start(std::string_view client_first);
  std::optional<std::string> finish(std::string_view client_final);

  const std::string& user() const noexcept { return user_; }
  const std::string& error() const noexcept { return error_; }

 private:
  std::optional<std::string> fail(std::string why);

  lookup find_;
  std::string server_nonce_;
  std::string user_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;
  std::optional<scram_credentials> creds_;
  bool known_user_ = false;
  std::string error_;
};

using text::base64_decode;  // standard alphabet, padded, strict
using text::base64_encode;

}  // namespace edgemq::auth
