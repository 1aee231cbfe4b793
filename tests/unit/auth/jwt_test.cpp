// JWT verification: RS256 and ES256 with keys made here by OpenSSL, tokens signed here.
#include "auth/jwt.hpp"

#include <limits>
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace edgemq::auth {
namespace {

using json = nlohmann::json;
constexpr std::int64_t now = 1'800'000'000;

std::string b64url(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) out.push_back(alphabet[(acc >> (bits -= 6)) & 63]);
  }
  if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 63]);
  return out;
}

struct key_pair {
  std::shared_ptr<EVP_PKEY> k;
  bool ec;
  std::string public_pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, k.get());
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
  }
  std::string bn(const char* name, std::size_t pad = 0) const {
    BIGNUM* b = nullptr;
    EVP_PKEY_get_bn_param(k.get(), name, &b);
    std::string out(pad ? pad : static_cast<std::size_t>(BN_num_bytes(b)), '\0');
    BN_bn2binpad(b, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    BN_free(b);
    return out;
  }
  json jwk(const std::string& kid) const {
    if (ec)
      return {{"kty", "EC"},
              {"crv", "P-256"},
              {"kid", kid},
              {"use", "sig"},
              {"x", b64url(bn(OSSL_PKEY_PARAM_EC_PUB_X, 32))},
              {"y", b64url(bn(OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
    return {{"kty", "RSA"},
            {"kid", kid},
            {"alg", "RS256"},
            {"n", b64url(bn(OSSL_PKEY_PARAM_RSA_N))},
            {"e", b64url(bn(OSSL_PKEY_PARAM_RSA_E))}};
  }
};

key_pair rsa_key(std::size_t bits = 2048) {
  return {std::shared_ptr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits), EVP_PKEY_free), false};
}
key_pair ec_key(const char* curve = "P-256") {
  return {std::shared_ptr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve), EVP_PKEY_free), true};
}

// Keys are slow to make: one of each for the whole suite.
const key_pair& rsa() {
  static const key_pair k = rsa_key();
  return k;
}
const key_pair& ec() {
  static const key_pair k = ec_key();
  return k;
}

std::string sign(const key_pair& key, const json& claims, json header = json::object()) {
  if (!header.contains("alg")) header["alg"] = key.ec ? "ES256" : "RS256";
  header["typ"] = "JWT";
  const auto input = b64url(header.dump()) + "." + b64url(claims.dump());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.k.get());
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (key.ec) {  // DER -> R || S (RFC 7518 3.4)
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(s), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), reinterpret_cast<unsigned char*>(raw.data() + 32), 32);
    ECDSA_SIG_free(s);
    sig = raw;
  }
  return input + "." + b64url(sig);
}

// A Kubernetes service account token's claims.
json sat_claims(std::int64_t exp = now + 3600) {
  return {{"iss", "https://kubernetes.default.svc.cluster.local"},
          {"aud", json::array({"aio-internal", "other"})},
          {"sub", "system:serviceaccount:factory:sensor"},
          {"exp", exp},
          {"iat", now - 10},
          {"nbf", now - 10},
          {"kubernetes.io", {{"namespace", "factory"}, {"serviceaccount", {{"name", "sensor"}, {"uid", "u-1"}}}}}};
}

jwt_keyset keys_of(const key_pair& k) {
  jwt_keyset ks;
  std::string why;
  EXPECT_TRUE(ks.add_pem(k.public_pem(), why)) << why;
  return ks;
}

jwt_policy sat_policy() {
  jwt_policy p;
  p.issuer = "https://kubernetes.default.svc.cluster.local";
  p.audiences = {"aio-internal"};
  return p;
}

std::string flat(const jwt_result& r, const std::string& name) {
  for (const auto& [k, v] : r.claims.flat)
    if (k == name) return v;
  return "<absent>";
}

TEST(Jwt, Rs256TokenVerifiesAndYieldsClaims) {
  const auto r = verify_jwt(sign(rsa(), sat_claims()), keys_of(rsa()), sat_policy(), now);
  ASSERT_EQ(r.error, jwt_error::none) << to_string(r.error);
  EXPECT_EQ(r.claims.subject, "system:serviceaccount:factory:sensor");
  EXPECT_EQ(r.claims.expires, now + 3600);
  EXPECT_EQ(flat(r, "kubernetes.io.namespace"), "factory");
  EXPECT_EQ(flat(r, "kubernetes.io.serviceaccount.name"), "sensor");
  EXPECT_EQ(flat(r, "aud"), "aio-internal,other");
}

TEST(Jwt, Es256TokenVerifies) {
  const auto r = verify_jwt(sign(ec(), sat_claims()), keys_of(ec()), sat_policy(), now);
  EXPECT_EQ(r.error, jwt_error::none) << to_string(r.error);
}

TEST(Jwt, SurroundingWhitespaceOfATokenFileIsIgnored) {
  EXPECT_TRUE(verify_jwt(sign(ec(), sat_claims()) + "\n", keys_of(ec()), sat_policy(), now));
}

TEST(Jwt, ASignatureByAnotherKeyIsRefused) {
  const auto other_rsa = rsa_key();
  const auto other_ec = ec_key();
  EXPECT_EQ(verify_jwt(sign(other_rsa, sat_claims()), keys_of(rsa()), sat_policy(), now).error,
            jwt_error::bad_signature);
  EXPECT_EQ(verify_jwt(sign(other_ec, sat_claims()), keys_of(ec()), sat_policy(), now).error, jwt_error::bad_signature);
}

TEST(Jwt, ChangedClaimsBreakTheSignature) {
  for (const key_pair* k : {&rsa(), &ec()}) {
    auto token = sign(*k, sat_claims());
    const auto d1 = token.find('.'), d2 = token.rfind('.');
    auto claims = sat_claims();
    claims["sub"] = "system:serviceaccount:kube-system:admin";
    token = token.substr(0, d1 + 1) + b64url(claims.dump()) + token.substr(d2);
    EXPECT_EQ(verify_jwt(token, keys_of(*k), sat_policy(), now).error, jwt_error::bad_signature);
  }
}

TEST(Jwt, ExpiredAndNotYetValidTokensAreRefused) {
  EXPECT_EQ(verify_jwt(sign(rsa(), sat_claims(now - 1)), keys_of(rsa()), sat_policy(), now).error, jwt_error::expired);
  EXPECT_EQ(verify_jwt(sign(rsa(), sat_claims(now)), keys_of(rsa()), sat_policy(), now).error, jwt_error::expired);
  auto policy = sat_policy();
  policy.leeway_seconds = 5;
  EXPECT_TRUE(verify_jwt(sign(rsa(), sat_claims(now - 1)), keys_of(rsa()), policy, now));

  auto future = sat_claims();
  future["nbf"] = now + 60;
  EXPECT_EQ(verify_jwt(sign(ec(), future), keys_of(ec()), sat_policy(), now).error, jwt_error::not_yet_valid);
  auto no_exp = sat_claims();
  no_exp.erase("exp");
  EXPECT_EQ(verify_jwt(sign(ec(), no_exp), keys_of(ec()), sat_policy(), now).error, jwt_error::malformed);
}

TEST(Jwt, FarFutureAndOutlandishDatesAreClampedNotOverflowed) {
  auto claims = sat_claims();
  claims["exp"] = 99999999999999999.0;
  auto r = verify_jwt(sign(ec(), claims), keys_of(ec()), sat_policy(), now);
  ASSERT_TRUE(r) << to_string(r.error);
  EXPECT_EQ(r.claims.expires, max_numeric_date);
  claims["exp"] = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(verify_jwt(sign(ec(), claims), keys_of(ec()), sat_policy(), now).claims.expires, max_numeric_date);
  claims["exp"] = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(verify_jwt(sign(ec(), claims), keys_of(ec()), sat_policy(), now).error, jwt_error::expired);
  claims["exp"] = "tomorrow";
  EXPECT_EQ(verify_jwt(sign(ec(), claims), keys_of(ec()), sat_policy(), now).error, jwt_error::malformed);
  claims["exp"] = now + 60.5;  // a fraction is allowed
  EXPECT_TRUE(verify_jwt(sign(ec(), claims), keys_of(ec()), sat_policy(), now));
}

TEST(Jwt, WrongIssuerOrAudienceIsRefused) {
  auto claims = sat_claims();
  claims["iss"] = "https://elsewhere";
  EXPECT_EQ(verify_jwt(sign(rsa(), claims), keys_of(rsa()), sat_policy(), now).error, jwt_error::wrong_issuer);
  claims = sat_claims();
  claims["aud"] = "someone-else";
  EXPECT_EQ(verify_jwt(sign(rsa(), claims), keys_of(rsa()), sat_policy(), now).error, jwt_error::wrong_audience);
  claims.erase("aud");
  EXPECT_EQ(verify_jwt(sign(rsa(), claims), keys_of(rsa()), sat_policy(), now).error, jwt_error::wrong_audience);
  claims["aud"] = "aio-internal";  // a single string is an audience too
  EXPECT_TRUE(verify_jwt(sign(rsa(), claims), keys_of(rsa()), sat_policy(), now));
  EXPECT_TRUE(verify_jwt(sign(rsa(), claims), keys_of(rsa()), jwt_policy{}, now));  // no policy: any
}

TEST(Jwt, OnlyRs256AndEs256AreAccepted) {
  for (const char* alg : {"none", "HS256", "RS512", "PS256"}) {
    auto token = sign(rsa(), sat_claims(), {{"alg", alg}});
    EXPECT_EQ(verify_jwt(token, keys_of(rsa()), sat_policy(), now).error, jwt_error::unsupported_alg) << alg;
  }
  // An ES256 token against RSA keys only: no key of its kind.
  EXPECT_EQ(verify_jwt(sign(ec(), sat_claims()), keys_of(rsa()), sat_policy(), now).error, jwt_error::no_key);
}

TEST(Jwt, MalformedTokensAreRefused) {
  const auto keys = keys_of(rsa());
  for (const std::string t :
       {"", "abc", "a.b", "a.b.c.d", "!!.e30.sig", "e30.e30.", "eyJhbGciOiJSUzI1NiJ9.bm90anNvbg.AA"})
    EXPECT_FALSE(verify_jwt(t, keys, sat_policy(), now)) << t;
}

TEST(Jwt, JwksKeysAreSelectedByKid) {
  const auto other = ec_key();
  json jwks = {
      {"keys",
       json::array(
           {rsa().jwk("r1"), ec().jwk("e1"), other.jwk("e2"), {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}}})}};
  jwt_keyset ks;
  std::string why;
  ASSERT_TRUE(ks.add_jwks(jwks.dump(), why)) << why;
  EXPECT_EQ(ks.size(), 3u);  // the OKP key is not for RS256/ES256
  EXPECT_TRUE(verify_jwt(sign(rsa(), sat_claims(), {{"kid", "r1"}}), ks, sat_policy(), now));
  EXPECT_TRUE(verify_jwt(sign(ec(), sat_claims(), {{"kid", "e1"}}), ks, sat_policy(), now));
  EXPECT_TRUE(verify_jwt(sign(other, sat_claims(), {{"kid", "e2"}}), ks, sat_policy(), now));
  EXPECT_TRUE(verify_jwt(sign(other, sat_claims()), ks, sat_policy(), now));  // no kid: every EC key is tried
  EXPECT_EQ(verify_jwt(sign(other, sat_claims(), {{"kid", "e1"}}), ks, sat_policy(), now).error,
            jwt_error::bad_signature);
  EXPECT_EQ(verify_jwt(sign(ec(), sat_claims(), {{"kid", "nope"}}), ks, sat_policy(), now).error, jwt_error::no_key);
}

TEST(Jwt, BadJwksDocumentsAreRefusedWithAReason) {
  const auto bad = [](const std::string& text) {
    jwt_keyset ks;
    std::string why;
    EXPECT_FALSE(ks.add_jwks(text, why)) << text;
    EXPECT_FALSE(why.empty());
    return why;
  };
  bad("not json");
  bad("[]");
  bad(R"({"keys": []})");
  bad(R"({"keys": [{"kty": "RSA", "n": "AQAB"}]})");
  EXPECT_NE(bad(R"({"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}]})").find("P-256"), std::string::npos);
  auto jwk = ec().jwk("e");
  jwk["x"] = b64url(std::string(31, 'x'));
  bad(json{{"keys", json::array({jwk})}}.dump());
  jwk = ec().jwk("e");
  jwk["y"] = jwk["x"];  // not a point on the curve
  bad(json{{"keys", json::array({jwk})}}.dump());
  jwk = ec().jwk("e");
  jwk["use"] = "enc";  // only an encryption key: nothing usable
  bad(json{{"keys", json::array({jwk})}}.dump());
}

TEST(Jwt, WeakOrUnsupportedPemKeysAreRefused) {
  jwt_keyset ks;
  std::string why;
  EXPECT_FALSE(ks.add_pem(rsa_key(1024).public_pem(), why));
  EXPECT_NE(why.find("2048"), std::string::npos);
  EXPECT_FALSE(ks.add_pem(ec_key("P-384").public_pem(), why));
  EXPECT_FALSE(ks.add_pem("-----BEGIN NOTHING-----\n", why));
  EXPECT_EQ(ks.size(), 0u);
  EXPECT_TRUE(ks.add_pem(rsa().public_pem() + ec().public_pem(), why)) << why;
  EXPECT_EQ(ks.size(), 2u);
}

TEST(Jwt, Base64urlIsStrict) {
  EXPECT_EQ(base64url_decode("aGVsbG8"), "hello");
  EXPECT_EQ(base64url_decode("-_8"), std::string("\xfb\xff", 2));
  EXPECT_FALSE(base64url_decode("aGVsbG8="));  // no padding in JWS
  EXPECT_FALSE(base64url_decode("aGVsbG9"));   // non-zero trailing bits
  EXPECT_FALSE(base64url_decode("a"));
}

}  // namespace
}  // namespace edgemq::auth
