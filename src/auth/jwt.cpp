#include "auth/jwt.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace edgemq::auth {

enum class key_kind { rsa, ec_p256 };

struct jwt_keyset::key {
  std::shared_ptr<EVP_PKEY> pkey;
  key_kind kind;
  std::string kid;  // empty: none (PEM files)
};

namespace {

using json = nlohmann::json;
using pkey_ptr = std::shared_ptr<EVP_PKEY>;

constexpr int min_rsa_bits = 2048;

pkey_ptr own(EVP_PKEY* k) {
  return pkey_ptr(k, EVP_PKEY_free);
}

bool read_file(const std::string& path, std::string& out, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return why = "cannot read '" + path + "'", false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

// What an OpenSSL key is good for here, or nullopt (with `why`) when it is neither an RSA key
// of at least 2048 bits nor an EC key on P-256.
std::optional<key_kind> kind_of(EVP_PKEY* k, std::string& why) {
  if (EVP_PKEY_is_a(k, "RSA")) {
    if (EVP_PKEY_get_bits(k) < min_rsa_bits) return why = "RSA key shorter than 2048 bits", std::nullopt;
    return key_kind::rsa;
  }
  if (EVP_PKEY_is_a(k, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1 ||
        std::string_view(group) != "prime256v1")
      return why = "EC key not on P-256 (ES256 needs P-256)", std::nullopt;
    return key_kind::ec_p256;
  }
  why = "neither an RSA nor an EC P-256 key";
  return std::nullopt;
}

std::optional<std::string> b64url_field(const json& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  return base64url_decode(it->get_ref<const std::string&>());
}

// EVP_PKEY from OSSL_PARAMs of a public key (RSA n/e, EC group/point), checked.
pkey_ptr from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* k = nullptr;
  const bool ok =
      params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok) return nullptr;
  auto owned = own(k);
  // An EC point must be on the curve (an invalid-curve point would leak nothing here, since we
  // only verify, but a key that is not a key is a configuration error worth reporting).
  EVP_PKEY_CTX* check = EVP_PKEY_CTX_new(k, nullptr);
  const bool valid = check && EVP_PKEY_public_check(check) == 1;
  EVP_PKEY_CTX_free(check);
  return valid ? owned : nullptr;
}

pkey_ptr rsa_from_jwk(const json& jwk, std::string& why) {
  const auto n = b64url_field(jwk, "n");
  const auto e = b64url_field(jwk, "e");
  if (!n || !e || n->empty() || e->empty()) return why = "RSA key needs base64url \"n\" and \"e\"", nullptr;
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  pkey_ptr k;
  if (bn_n && bn_e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1)
    k = from_params("RSA", bld);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  if (!k) why = "RSA key \"n\"/\"e\" do not make a public key";
  return k;
}

pkey_ptr ec_from_jwk(const json& jwk, std::string& why) {
  const auto crv = jwk.find("crv");
  if (crv == jwk.end() || *crv != "P-256") return why = "EC key with \"crv\" other than P-256", nullptr;
  const auto x = b64url_field(jwk, "x");
  const auto y = b64url_field(jwk, "y");
  if (!x || !y || x->size() != 32 || y->size() != 32)
    return why = "EC P-256 key needs base64url \"x\" and \"y\" of 32 bytes each", nullptr;
  std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  pkey_ptr k;
  if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1)
    k = from_params("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  if (!k) why = "EC key \"x\"/\"y\" are not a point on P-256";
  return k;
}

// ES256 signatures are R || S, 32 bytes each (RFC 7518 3.4); OpenSSL verifies DER.
std::optional<std::string> es256_to_der(std::string_view sig) {
  if (sig.size() != 64) return std::nullopt;
  ECDSA_SIG* s = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr);
  BIGNUM* ss = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data() + 32), 32, nullptr);
  std::optional<std::string> out;
  if (s && r && ss && ECDSA_SIG_set0(s, r, ss) == 1) {
    r = ss = nullptr;  // owned by s now
    unsigned char* der = nullptr;
    const int n = i2d_ECDSA_SIG(s, &der);
    if (n > 0) out = std::string(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
  }
  BN_free(r);
  BN_free(ss);
  ECDSA_SIG_free(s);
  return out;
}

bool verify_with(EVP_PKEY* k, std::string_view signed_part, std::string_view sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, k) == 1 &&
                  EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                   reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::optional<json> parse_object(std::string_view b64) {
  const auto text = base64url_decode(b64);
  if (!text) return std::nullopt;
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// A NumericDate (RFC 7519 2): a JSON number, possibly with a fraction; clamped to the years
// 0001..9999 (jwt_claims::expires' range), so that arithmetic on it cannot overflow.
std::optional<std::int64_t> numeric_date(const json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  double d = 0;
  if (it->is_number_unsigned())
    d = static_cast<double>(it->get<std::uint64_t>());
  else if (it->is_number_integer())
    d = static_cast<double>(it->get<std::int64_t>());
  else if (it->is_number_float())
    d = it->get<double>();
  else
    return std::nullopt;
  if (!(d == d)) return std::nullopt;  // NaN
  return static_cast<std::int64_t>(
      std::clamp(d, static_cast<double>(-max_numeric_date), static_cast<double>(max_numeric_date)));
}

void flatten(const json& j, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& [k, v] : j.items()) {
    const std::string name = prefix.empty() ? k : prefix + "." + k;
    if (v.is_string()) {
      out.emplace_back(name, v.get<std::string>());
    } else if (v.is_boolean() || v.is_number()) {
      out.emplace_back(name, v.dump());
    } else if (v.is_object()) {
      flatten(v, name, out);
    } else if (v.is_array()) {
      std::string joined;
      for (const auto& e : v) {
        if (!e.is_string()) continue;
        if (!joined.empty()) joined += ',';
        joined += e.get<std::string>();
      }
      out.emplace_back(name, joined);
    }
  }
}

bool audience_matches(const json& claims, const std::vector<std::string>& wanted) {
  const auto it = claims.find("aud");
  if (it == claims.end()) return false;
  const auto one = [&](const json& a) {
    if (!a.is_string()) return false;
    for (const auto& w : wanted)
      if (a.get_ref<const std::string&>() == w) return true;
    return false;
  };
  if (it->is_string()) return one(*it);
  if (!it->is_array()) return false;
  for (const auto& a : *it)
    if (one(a)) return true;
  return false;
}

}  // namespace

jwt_keyset::jwt_keyset() = default;
jwt_keyset::~jwt_keyset() = default;
jwt_keyset::jwt_keyset(jwt_keyset&&) noexcept = default;
jwt_keyset& jwt_keyset::operator=(jwt_keyset&&) noexcept = default;
std::size_t jwt_keyset::size() const noexcept {
  return keys_.size();
}

bool jwt_keyset::add_pem(std::string_view pem, std::string& why) {
  // Every PUBLIC KEY block, else every CERTIFICATE's key.
  std::vector<std::shared_ptr<const key>> found;
  for (int pass = 0; pass < 2 && found.empty(); ++pass) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio) return why = "out of memory", false;
    for (;;) {
      EVP_PKEY* k = nullptr;
      if (pass == 0) {
        k = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
      } else if (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
        k = X509_get_pubkey(cert);
        X509_free(cert);
      }
      if (!k) break;
      auto owned = own(k);
      const auto kind = kind_of(k, why);
      if (!kind) {
        BIO_free(bio);
        return false;
      }
      found.push_back(std::make_shared<const key>(key{owned, *kind, {}}));
    }
    BIO_free(bio);
  }
  if (found.empty()) return why = "no PUBLIC KEY or CERTIFICATE in PEM", false;
  keys_.insert(keys_.end(), found.begin(), found.end());
  return true;
}

bool jwt_keyset::add_pem_file(const std::string& path, std::string& why) {
  std::string text;
  if (!read_file(path, text, why)) return false;
  if (add_pem(text, why)) return true;
  why = "'" + path + "': " + why;
  return false;
}

bool jwt_keyset::add_jwks(std::string_view text, std::string& why) {
  const auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    return why = "not a JWKS (expected {\"keys\": [...]})", false;
  std::vector<std::shared_ptr<const key>> found;
  std::size_t index = 0;
  for (const auto& jwk : doc["keys"]) {
    const auto at = "keys[" + std::to_string(index++) + "]: ";
    if (!jwk.is_object() || !jwk.contains("kty") || !jwk["kty"].is_string())
      return why = at + "a key needs \"kty\"", false;
    if (jwk.contains("use") && jwk["use"] != "sig") continue;  // an encryption key
    const auto& kty = jwk["kty"].get_ref<const std::string&>();
    pkey_ptr k;
    key_kind kind;
    if (kty == "RSA") {
      k = rsa_from_jwk(jwk, why);
      kind = key_kind::rsa;
    } else if (kty == "EC") {
      k = ec_from_jwk(jwk, why);
      kind = key_kind::ec_p256;
    } else {
      continue;  // OKP, oct, ...: not for RS256/ES256
    }
    if (!k) return why = at + why, false;
    if (std::string w; !kind_of(k.get(), w)) return why = at + w, false;
    std::string kid;
    if (const auto it = jwk.find("kid"); it != jwk.end() && it->is_string()) kid = it->get<std::string>();
    found.push_back(std::make_shared<const key>(key{std::move(k), kind, std::move(kid)}));
  }
  if (found.empty()) return why = "no RSA or EC P-256 signing key in the JWKS", false;
  keys_.insert(keys_.end(), found.begin(), found.end());
  return true;
}

bool jwt_keyset::add_jwks_file(const std::string& path, std::string& why) {
  std::string text;
  if (!read_file(path, text, why)) return false;
  if (add_jwks(text, why)) return true;
  why = "'" + path + "': " + why;
  return false;
}

const char* to_string(jwt_error e) noexcept {
  switch (e) {
    case jwt_error::none:
      return "valid";
    case jwt_error::malformed:
      return "malformed token";
    case jwt_error::unsupported_alg:
      return "unsupported signature algorithm";
    case jwt_error::no_key:
      return "no configured key for this token";
    case jwt_error::bad_signature:
      return "bad signature";
    case jwt_error::expired:
      return "token expired";
    case jwt_error::not_yet_valid:
      return "token not yet valid (nbf)";
    case jwt_error::wrong_issuer:
      return "wrong issuer";
    case jwt_error::wrong_audience:
      return "wrong audience";
  }
  return "?";
}

std::optional<std::string> base64url_decode(std::string_view text) {
  static constexpr auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical trailing bits
  return out;
}

jwt_result verify_jwt(std::string_view token, const jwt_keyset& keys, const jwt_policy& policy, std::int64_t now) {
  jwt_result r;
  const auto first = token.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return r;
  token = token.substr(first, token.find_last_not_of(" \t\r\n") - first + 1);
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) return r;
  const auto header = parse_object(token.substr(0, d1));
  const auto claims = parse_object(token.substr(d1 + 1, d2 - d1 - 1));
  const auto sig = base64url_decode(token.substr(d2 + 1));
  if (!header || !claims || !sig) return r;

  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) return r;
  key_kind kind;
  if (*alg == "RS256")
    kind = key_kind::rsa;
  else if (*alg == "ES256")
    kind = key_kind::ec_p256;
  else
    return r.error = jwt_error::unsupported_alg, r;
  std::string kid;
  if (const auto it = header->find("kid"); it != header->end() && it->is_string()) kid = it->get<std::string>();

  std::string der;
  std::string_view signature = *sig;
  if (kind == key_kind::ec_p256) {
    auto d = es256_to_der(*sig);
    if (!d) return r.error = jwt_error::bad_signature, r;
    der = std::move(*d);
    signature = der;
  }
  // Candidates: keys of the algorithm's kind whose kid matches the token's (a key without a
  // kid, from a PEM file, matches any token of its kind).
  bool any_key = false, verified = false;
  const auto signed_part = token.substr(0, d2);
  for (const auto& k : keys.keys()) {
    if (k->kind != kind || (!kid.empty() && !k->kid.empty() && k->kid != kid)) continue;
    any_key = true;
    if (verify_with(k->pkey.get(), signed_part, signature)) {
      verified = true;
      break;
    }
  }
  if (!any_key) return r.error = jwt_error::no_key, r;
  if (!verified) return r.error = jwt_error::bad_signature, r;

  // The claims are only read once the signature holds.
  const auto exp = numeric_date(*claims, "exp");
  if (!exp) return r.error = jwt_error::malformed, r;
  if (now >= *exp + policy.leeway_seconds) return r.error = jwt_error::expired, r;
  if (claims->contains("nbf")) {
    const auto nbf = numeric_date(*claims, "nbf");
    if (!nbf) return r.error = jwt_error::malformed, r;
    if (now + policy.leeway_seconds < *nbf) return r.error = jwt_error::not_yet_valid, r;
  }
  if (!policy.issuer.empty()) {
    const auto iss = claims->find("iss");
    if (iss == claims->end() || *iss != policy.issuer) return r.error = jwt_error::wrong_issuer, r;
  }
  if (!policy.audiences.empty() && !audience_matches(*claims, policy.audiences))
    return r.error = jwt_error::wrong_audience, r;

  r.error = jwt_error::none;
  r.claims.expires = *exp;
  if (const auto sub = claims->find("sub"); sub != claims->end() && sub->is_string())
    r.claims.subject = sub->get<std::string>();
  flatten(*claims, "", r.claims.flat);
  return r;
}

}  // namespace edgemq::auth
