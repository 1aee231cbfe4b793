// The password file: one user per line, `USER:$pbkdf2-sha512$ITERATIONS$SALT$HASH` with SALT and
// HASH in standard base64 (the hash is PBKDF2-HMAC-SHA512 of the password, 64 bytes). Blank
// lines and lines starting with '#' are ignored. See docs/security.md and ADR 0008.
// A user may also have one SCRAM-SHA-256 line (ADR 0012), `USER:$scram-sha-256$ITERATIONS$SALT$
// STOREDKEY$SERVERKEY` (base64; the keys 32 bytes each), written by `edgemq-cli passwd --scram`
// beside the PBKDF2 line: username/password CONNECTs check the PBKDF2 line, SCRAM exchanges the
// SCRAM line. Files without SCRAM lines read as before.
// I/O-free apart from load()/set_user(); no broker types, so edgemq-cli uses it too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/scram.hpp"

namespace edgemq::auth {

// ~11 ms per check on one core of the development machine (docs/security.md, ADR 0008): a CONNECT
// is checked on the connection's worker thread, which serves other clients meanwhile.
inline constexpr std::uint32_t default_iterations = 20000;
inline constexpr std::uint32_t min_iterations = 1000;
inline constexpr std::uint32_t max_iterations = 10'000'000;
inline constexpr std::string_view scheme = "$pbkdf2-sha512$";

struct line_error {
  std::size_t line;  // 1-based
  std::string message;
};

// Comparison whose time does not depend on where the inputs differ (OpenSSL CRYPTO_memcmp).
bool constant_time_equal(std::string_view a, std::string_view b);

// PBKDF2-HMAC-SHA512(password, salt, iterations), 64 bytes.
std::string pbkdf2_sha512(std::string_view password, std::string_view salt, std::uint32_t iterations);

// A user name the file can hold: not empty, no ':', no control characters.
bool valid_username(std::string_view user, std::string* why = nullptr);

// `user:$pbkdf2-sha512$...` for `password` with a fresh random 16-byte salt.
std::string make_line(std::string_view user, std::string_view password, std::uint32_t iterations = default_iterations);

class password_file {
 public:
  struct entry {
    std::uint32_t iterations = 0;
    std::string salt;
    std::string hash;
  };

  // Parses the whole text; on any bad line returns nullopt and fills `errors` (every bad line,
  // with its number), so a half-valid file is never used.
  static std::optional<password_file> parse(std::string_view text, std::vector<line_error>& errors);
  // Reads and parses `path`; on failure returns nullopt and says why in one line.
  static std::optional<password_file> load(const std::string& path, std::string& why);

  // True when `user` is in the file and `password` hashes to its hash. An unknown user costs
  // a hash too, so the time taken does not tell whether the user exists.
  bool verify(std::string_view user, std::string_view password) const;
  // The user's SCRAM-SHA-256 credentials, if the file has a SCRAM line for it.
  std::optional<scram_credentials> scram(std::string_view user) const;
  std::size_t size() const noexcept { return users_.size(); }
  std::size_t scram_size() const noexcept { return scram_.size(); }

 private:
  std::map<std::string, entry, std::less<>> users_;
  std::map<std::string, scram_credentials, std::less<>> scram_;
};

// `user:$scram-sha-256$...` for `password` with a fresh random 16-byte salt.
std::string make_scram_line(std::string_view user, std::string_view password,
                            std::uint32_t iterations = scram_default_iterations);

// Adds `user` with `password` to the file at `path` (created if missing) or replaces its lines,
// keeping every other line as it was; with `scram`, a SCRAM-SHA-256 line follows the PBKDF2 one
// (without, a SCRAM line the user had is removed: it would still accept the old password). Atomic: written to a
// temporary file (mode 0600) in the same directory, flushed, then renamed over `path`. Returns an empty string or what
// went wrong.
std::string set_user(const std::string& path, std::string_view user, std::string_view password,
                     std::uint32_t iterations = default_iterations, bool scram = false);

}  // namespace edgemq::auth
