#include "auth/scram.hpp"

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace edgemq::auth {
namespace {

constexpr std::size_t key_bytes = 32;

// "name=value" attributes of a SCRAM message, in order (RFC 5802 5.1).
struct attr_reader {
  std::string_view rest;
  // The next attribute if it is `name`, else nullopt (and nothing is consumed).
  std::optional<std::string_view> take(char name) {
    if (rest.size() < 2 || rest[0] != name || rest[1] != '=') return std::nullopt;
    const auto comma = rest.find(',');
    const auto value = rest.substr(2, comma == std::string_view::npos ? rest.npos : comma - 2);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    return value;
  }
};

// saslname (RFC 5802 5.1): ',' and '=' arrive as "=2C" and "=3D"; any other '=' is malformed.
std::optional<std::string> decode_saslname(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '=') {
      out.push_back(s[i]);
      continue;
    }
    const auto code = s.substr(i + 1, 2);
    if (code == "2C")
      out.push_back(',');
    else if (code == "3D")
      out.push_back('=');
    else
      return std::nullopt;
    i += 2;
  }
  return out;
}

bool printable_nonce(std::string_view n) {
  if (n.empty()) return false;
  for (const unsigned char c : n)
    if (c < 0x21 || c > 0x7E || c == ',') return false;
  return true;
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::string out(key_bytes, '\0');
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), reinterpret_cast<unsigned char*>(out.data()), &len) ||
      len != key_bytes)
    throw std::runtime_error("HMAC-SHA-256 failed");
  return out;
}

std::string sha256(std::string_view data) {
  std::string out(key_bytes, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len, EVP_sha256(), nullptr) !=
      1)
    throw std::runtime_error("SHA-256 failed");
  return out;
}

scram_credentials make_scram_credentials(std::string_view password, std::string_view salt, std::uint32_t iterations) {
  std::string salted(key_bytes, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), EVP_sha256(), static_cast<int>(key_bytes),
                        reinterpret_cast<unsigned char*>(salted.data())) != 1)
    throw std::runtime_error("PBKDF2-HMAC-SHA256 failed");
  scram_credentials c;
  c.iterations = iterations;
  c.salt = std::string(salt);
  c.stored_key = sha256(hmac_sha256(salted, "Client Key"));
  c.server_key = hmac_sha256(salted, "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  return c;
}

scram_server::scram_server(lookup find, std::string nonce) : find_(std::move(find)), server_nonce_(std::move(nonce)) {
  if (server_nonce_.empty()) {
    std::string random(24, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(random.data()), static_cast<int>(random.size())) != 1)
      throw std::runtime_error("no random bytes for the SCRAM nonce");
    server_nonce_ = base64_encode(random);
  }
}

std::optional<std::string> scram_server::fail(std::string why) {
  error_ = std::move(why);
  return std::nullopt;
}

std::optional<std::string> scram_server::start(std::string_view client_first) {
  // gs2-header: "n,," (no channel binding) or "y,," (client supports it, thinks we do not).
  if (client_first.starts_with("p=")) return fail("client asks for channel binding, which this server does not offer");
  if (!client_first.starts_with("n,,") && !client_first.starts_with("y,,"))
    return fail("client-first-message: expected gs2 header \"n,,\" (an authzid is not supported)");
  gs2_header_ = std::string(client_first.substr(0, 3));
  client_first_bare_ = std::string(client_first.substr(3));
  attr_reader r{client_first_bare_};
  if (r.rest.starts_with("m=")) return fail("client-first-message: mandatory extension not supported");
  const auto n = r.take('n');
  const auto cnonce = r.take('r');
  if (!n || !cnonce) return fail("client-first-message: expected n=USER,r=NONCE");
  auto user = decode_saslname(*n);
  if (!user || user->empty()) return fail("client-first-message: malformed user name");
  if (!printable_nonce(*cnonce)) return fail("client-first-message: malformed nonce");
  user_ = std::move(*user);
  creds_ = find_(user_);
  known_user_ = creds_.has_value();
  if (!known_user_) {
    // Answer an unknown user like a known one (a salt derived from the name, stable across
    // attempts), so the server-first message does not tell which users exist; the proof fails.
    scram_credentials fake;
    fake.iterations = scram_default_iterations;
    fake.salt = sha256("edgemq-scram-unknown-user:" + user_).substr(0, 16);
    fake.stored_key = std::string(key_bytes, '\0');
    fake.server_key = std::string(key_bytes, '\0');
    creds_ = std::move(fake);
  }
  nonce_ = std::string(*cnonce) + server_nonce_;
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(creds_->salt) + ",i=" + std::to_string(creds_->iterations);
  return server_first_;
}

std::optional<std::string> scram_server::finish(std::string_view client_final) {
  if (!creds_) return fail("client-final-message before client-first-message");
  const auto proof_at = client_final.rfind(",p=");
  if (proof_at == std::string_view::npos) return fail("client-final-message: no proof");
  const auto without_proof = client_final.substr(0, proof_at);
  attr_reader r{without_proof};
  const auto c = r.take('c');
  const auto nonce = r.take('r');
  if (!c || !nonce) return fail("client-final-message: expected c=...,r=...,p=...");
  const auto binding = base64_decode(*c);
  if (!binding || *binding != gs2_header_) return fail("client-final-message: channel binding does not match");
  if (*nonce != nonce_) return fail("client-final-message: nonce does not match");
  const auto proof = base64_decode(client_final.substr(proof_at + 3));
  if (!proof || proof->size() != key_bytes) return fail("client-final-message: malformed proof");

  const std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  const auto client_signature = hmac_sha256(creds_->stored_key, auth_message);
  std::string client_key(key_bytes, '\0');
  for (std::size_t i = 0; i < key_bytes; ++i) client_key[i] = static_cast<char>((*proof)[i] ^ client_signature[i]);
  const auto stored = sha256(client_key);
  const bool ok = CRYPTO_memcmp(stored.data(), creds_->stored_key.data(), key_bytes) == 0;
  if (!ok || !known_user_) return fail("wrong proof (wrong password or unknown user)");
  return "v=" + base64_encode(hmac_sha256(creds_->server_key, auth_message));
}

}  // namespace edgemq::auth
