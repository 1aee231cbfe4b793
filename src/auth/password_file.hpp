// The password file: one user per line, `USER:$pbkdf2-sha512$ITERATIONS$SALT$HASH` with SALT and
// HASH in standard base64 (the hash is PBKDF2-HMAC-SHA512 of the password, 64 bytes). Blank
// lines and lines starting with '#' are ignored. See docs/security.md and ADR 0008.
// I/O-free apart from load()/set_user(); no broker types, so edgemq-cli uses it too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  std::size_t size() const noexcept { return users_.size(); }

 private:
  std::map<std::string, entry, std::less<>> users_;
};

// Adds `user` with `password` to the file at `path` (created if missing) or replaces its line,
// keeping every other line as it was. Atomic: written to a temporary file (mode 0600) in the
// same directory, flushed, then renamed over `path`. Returns an empty string or what went wrong.
std::string set_user(const std::string& path, std::string_view user, std::string_view password,
                     std::uint32_t iterations = default_iterations);

}  // namespace edgemq::auth
