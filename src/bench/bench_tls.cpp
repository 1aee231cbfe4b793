#include "bench/bench_tls.hpp"

#include <algorithm>
#include <climits>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace edgemq::bench {
namespace {

std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown error";
  const char* r = ERR_reason_error_string(e);
  return r ? r : "error " + std::to_string(e);
}

// 0 for "try again" (would block, or OpenSSL needs the other direction first), -1 for the end.
long result(ssl_st* ssl, int r) {
  if (r > 0) return r;
  const int err = SSL_get_error(ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return 0;
  ERR_clear_error();
  return -1;
}

}  // namespace

tls_client_context::tls_client_context(const tls_client_options& o) : host_(o.host), verify_(!o.cafile.empty()) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) throw std::runtime_error("TLS: " + openssl_reason());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  // The generator keeps unsent bytes in a growing string: a retried write may start elsewhere in
  // memory and a write may take part of what is offered.
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // One read(2) for many records instead of two per record (header, then body): the generator must
  // not spend more system calls per message than a plain client would. The loop reads until
  // OpenSSL wants the socket, so nothing stays behind in its buffer.
  SSL_CTX_set_read_ahead(ctx_, 1);
  if (verify_) {
    if (SSL_CTX_load_verify_locations(ctx_, o.cafile.c_str(), nullptr) != 1)
      throw std::runtime_error("--cafile '" + o.cafile + "': " + openssl_reason());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  }
  if (!o.cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx_, o.cert.c_str()) != 1)
      throw std::runtime_error("--cert '" + o.cert + "': " + openssl_reason());
    if (SSL_CTX_use_PrivateKey_file(ctx_, (o.key.empty() ? o.cert : o.key).c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error("--key '" + o.key + "': " + openssl_reason());
  }
}

tls_client_context::~tls_client_context() {
  SSL_CTX_free(ctx_);
}

ssl_st* tls_client_context::handshake(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) throw std::runtime_error("TLS: " + openssl_reason());
  SSL_set_fd(ssl, fd);
  // The generator connects to an IPv4 address: the certificate must name it (an IP entry).
  if (verify_ && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host_.c_str()) != 1) {
    SSL_free(ssl);
    throw std::runtime_error("TLS: cannot check the server certificate against '" + host_ + "'");
  }
  if (SSL_connect(ssl) != 1) {
    const long v = SSL_get_verify_result(ssl);
    std::string why = v != X509_V_OK ? X509_verify_cert_error_string(v) : openssl_reason();
    SSL_free(ssl);
    throw std::runtime_error("TLS handshake failed: " + why);
  }
  return ssl;
}

long tls_write(ssl_st* ssl, const char* data, std::size_t n) {
  ERR_clear_error();
  return result(ssl, SSL_write(ssl, data, static_cast<int>(std::min<std::size_t>(n, INT_MAX))));
}

long tls_read(ssl_st* ssl, char* data, std::size_t n) {
  ERR_clear_error();
  return result(ssl, SSL_read(ssl, data, static_cast<int>(std::min<std::size_t>(n, INT_MAX))));
}

void tls_free(ssl_st* ssl) {
  SSL_free(ssl);
}

}  // namespace edgemq::bench
