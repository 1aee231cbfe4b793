#include "auth/password_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

namespace edgemq::auth {
namespace {

constexpr std::size_t salt_bytes = 16;
constexpr std::size_t hash_bytes = 64;

std::string base64(std::string_view bytes) {
  return base64_encode(bytes);
}
std::optional<std::string> unbase64(std::string_view text) {
  return base64_decode(text);
}

std::optional<std::uint32_t> parse_iterations(std::string_view s) {
  if (s.empty() || s.size() > 8 || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  const auto n = std::stoul(std::string(s));
  if (n < min_iterations || n > max_iterations) return std::nullopt;
  return static_cast<std::uint32_t>(n);
}

// `ITERATIONS$SALT$STOREDKEY$SERVERKEY` after `$scram-sha-256$`.
bool parse_scram(std::string_view rest, scram_credentials& c, std::string& why) {
  std::string_view parts[4];
  for (int i = 0; i < 4; ++i) {
    const auto d = rest.find('$');
    if ((i < 3) == (d == std::string_view::npos))
      return why = "expected ITERATIONS$SALT$STOREDKEY$SERVERKEY after $scram-sha-256$", false;
    parts[i] = rest.substr(0, d);
    rest.remove_prefix(d == std::string_view::npos ? rest.size() : d + 1);
  }
  const auto it = parse_iterations(parts[0]);
  if (!it || *it < scram_min_iterations)
    return why = "SCRAM iterations must be a number between " + std::to_string(scram_min_iterations) + " and " +
                 std::to_string(max_iterations),
           false;
  auto salt = unbase64(parts[1]);
  auto stored = unbase64(parts[2]);
  auto server = unbase64(parts[3]);
  if (!salt || salt->size() < 8) return why = "salt must be base64 of at least 8 bytes", false;
  if (!stored || stored->size() != 32 || !server || server->size() != 32)
    return why = "StoredKey and ServerKey must be base64 of 32 bytes (SCRAM-SHA-256)", false;
  c = {*it, std::move(*salt), std::move(*stored), std::move(*server)};
  return true;
}

// One non-comment line; false with `why` when it is not `user:$pbkdf2-sha512$N$SALT$HASH` (or
// a SCRAM line, which sets `is_scram` and fills `sc`).
bool parse_line(std::string_view line, std::string& user, password_file::entry& e, bool& is_scram,
                scram_credentials& sc, std::string& why) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return why = "expected USER:$pbkdf2-sha512$ITERATIONS$SALT$HASH", false;
  user = std::string(line.substr(0, colon));
  if (!valid_username(user, &why)) return false;
  auto rest = line.substr(colon + 1);
  is_scram = rest.starts_with(scram_scheme);
  if (is_scram) return parse_scram(rest.substr(scram_scheme.size()), sc, why);
  if (!rest.starts_with(scheme))
    return why = "unknown hash scheme (expected $pbkdf2-sha512$ or $scram-sha-256$)", false;
  rest.remove_prefix(scheme.size());
  const auto d1 = rest.find('$');
  const auto d2 = d1 == std::string_view::npos ? d1 : rest.find('$', d1 + 1);
  if (d2 == std::string_view::npos || rest.find('$', d2 + 1) != std::string_view::npos)
    return why = "expected ITERATIONS$SALT$HASH after $pbkdf2-sha512$", false;
  const auto it = parse_iterations(rest.substr(0, d1));
  if (!it)
    return why = "iterations must be a number between " + std::to_string(min_iterations) + " and " +
                 std::to_string(max_iterations),
           false;
  auto salt = unbase64(rest.substr(d1 + 1, d2 - d1 - 1));
  if (!salt || salt->size() < 8) return why = "salt must be base64 of at least 8 bytes", false;
  auto hash = unbase64(rest.substr(d2 + 1));
  if (!hash || hash->size() != hash_bytes) return why = "hash must be base64 of 64 bytes (PBKDF2-HMAC-SHA512)", false;
  e.iterations = *it;
  e.salt = std::move(*salt);
  e.hash = std::move(*hash);
  return true;
}

bool skipped(std::string_view line) {
  const auto first = line.find_first_not_of(" \t");
  return first == std::string_view::npos || line[first] == '#';
}

std::string_view chomp(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;  // sizes are not secret here: every hash has 64 bytes
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string pbkdf2_sha512(std::string_view password, std::string_view salt, std::uint32_t iterations) {
  std::string out(hash_bytes, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), EVP_sha512(), static_cast<int>(hash_bytes),
                        reinterpret_cast<unsigned char*>(out.data())) != 1)
    throw std::runtime_error("PBKDF2-HMAC-SHA512 failed");
  return out;
}

bool valid_username(std::string_view user, std::string* why) {
  const auto fail = [&](const char* m) {
    if (why) *why = m;
    return false;
  };
  if (user.empty()) return fail("empty user name");
  for (const unsigned char c : user) {
    if (c == ':') return fail("user name contains ':'");
    if (c < 0x20 || c == 0x7F) return fail("user name contains a control character");
  }
  return true;
}

std::string make_line(std::string_view user, std::string_view password, std::uint32_t iterations) {
  std::string salt(salt_bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
    throw std::runtime_error("no random bytes for the salt");
  return std::string(user) + ":" + std::string(scheme) + std::to_string(iterations) + "$" + base64(salt) + "$" +
         base64(pbkdf2_sha512(password, salt, iterations));
}

std::string make_scram_line(std::string_view user, std::string_view password, std::uint32_t iterations) {
  std::string salt(salt_bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
    throw std::runtime_error("no random bytes for the salt");
  const auto c = make_scram_credentials(password, salt, iterations);
  return std::string(user) + ":" + std::string(scram_scheme) + std::to_string(iterations) + "$" + base64(salt) + "$" +
         base64(c.stored_key) + "$" + base64(c.server_key);
}

std::optional<scram_credentials> password_file::scram(std::string_view user) const {
  const auto it = scram_.find(user);
  if (it == scram_.end()) return std::nullopt;
  return it->second;
}

std::optional<password_file> password_file::parse(std::string_view text, std::vector<line_error>& errors) {
  password_file f;
  std::size_t number = 0;
  const auto before = errors.size();
  while (!text.empty()) {
    ++number;
    const auto nl = text.find('\n');
    const auto line = chomp(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (skipped(line)) continue;
    std::string user, why;
    entry e;
    bool is_scram = false;
    scram_credentials sc;
    if (!parse_line(line, user, e, is_scram, sc, why)) {
      errors.push_back({number, why});
      continue;
    }
    const bool fresh = is_scram ? f.scram_.emplace(std::move(user), std::move(sc)).second
                                : f.users_.emplace(std::move(user), std::move(e)).second;
    if (!fresh) errors.push_back({number, is_scram ? "user has two SCRAM lines" : "user listed twice"});
  }
  if (errors.size() != before) return std::nullopt;
  return f;
}

std::optional<password_file> password_file::load(const std::string& path, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot read password file '" + path + "': " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<line_error> errors;
  auto f = parse(ss.str(), errors);
  if (!f) {
    why = "password file '" + path + "'";
    for (std::size_t i = 0; i < errors.size(); ++i)
      why += (i ? "; " : ": ") + std::string("line ") + std::to_string(errors[i].line) + ": " + errors[i].message;
  }
  return f;
}

bool password_file::verify(std::string_view user, std::string_view password) const {
  auto it = users_.find(user);
  if (it == users_.end()) {
    // Spend the same work as for a known user, so timing does not reveal which users exist.
    static const entry dummy{default_iterations, std::string(salt_bytes, 'x'), std::string(hash_bytes, '\0')};
    (void)constant_time_equal(pbkdf2_sha512(password, dummy.salt, dummy.iterations), dummy.hash);
    return false;
  }
  return constant_time_equal(pbkdf2_sha512(password, it->second.salt, it->second.iterations), it->second.hash);
}

std::string set_user(const std::string& path, std::string_view user, std::string_view password,
                     std::uint32_t iterations, bool scram) {
  std::string why;
  if (!valid_username(user, &why)) return why;
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    } else if (errno != ENOENT) {
      return "cannot read '" + path + "': " + std::strerror(errno);
    }
  }
  const std::string prefix = std::string(user) + ":";
  std::string out;
  bool replaced = false;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const auto line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (line.starts_with(prefix)) {
      if (replaced) continue;  // the user's other lines (a duplicate, its SCRAM line) go
      out += make_line(user, password, iterations);
      if (scram) out += "\n" + make_scram_line(user, password, std::max(iterations, scram_min_iterations));
      replaced = true;
    } else {
      out += line;
    }
    out += '\n';
  }
  if (!replaced) {
    out += make_line(user, password, iterations) + "\n";
    if (scram) out += make_scram_line(user, password, std::max(iterations, scram_min_iterations)) + "\n";
  }

  const auto tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot create '" + tmp + "': " + std::strerror(errno);
  ::fchmod(fd, 0600);  // whatever the umask
  std::size_t done = 0;
  while (done < out.size()) {
    const auto n = ::write(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return "cannot write '" + tmp + "': " + why;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "cannot write '" + tmp + "': " + why;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "cannot replace '" + path + "': " + why;
  }
  return {};
}

}  // namespace edgemq::auth
