#include "net/tls_context.hpp"

#include <boost/asio/ssl/error.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/server.hpp"

namespace edgemq::net {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// OpenSSL's reason for `ec` ("no start line", "key values mismatch"), else the error's message.
std::string ssl_reason(const error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category()) {
    if (const char* r = ERR_reason_error_string(static_cast<unsigned long>(ec.value()))) return r;
  }
  return ec.message();
}

error_code last_ssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  return e ? error_code(static_cast<int>(e), asio::error::get_ssl_category())
           : error_code(asio::ssl::error::stream_truncated);
}

std::string bio_text(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

std::shared_ptr<asio::ssl::context> make_tls_context(const config::tls_options& o, const std::string& listener) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  const auto fail = [&](const std::string& what, const std::string& file, const error_code& ec) {
    throw setup_error("listener " + listener + ": " + what + " '" + file + "': " + ssl_reason(ec));
  };
  ERR_clear_error();
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                   asio::ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, o.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  error_code ec;
  ctx->use_certificate_chain_file(o.cert, ec);
  if (ec) fail("certificate", o.cert, ec);
  ctx->use_private_key_file(o.key, asio::ssl::context::pem, ec);
  if (ec) fail("private key", o.key, ec);
  if (SSL_CTX_check_private_key(native) != 1) fail("private key", o.key, last_ssl_error());
  // TLS 1.2 suites only: TLS 1.3's are OpenSSL's defaults (docs/security.md).
  if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(native, o.ciphers.c_str()) != 1)
    throw setup_error("listener " + listener + ": ciphers '" + o.ciphers + "': " + ssl_reason(last_ssl_error()));
  if (!o.client_ca.empty()) {
    ctx->load_verify_file(o.client_ca, ec);
    if (ec) fail("client CA file", o.client_ca, ec);
    // Tells clients which CAs we accept (some clients pick their certificate by it).
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca.c_str()))
      SSL_CTX_set_client_CA_list(native, names);
    ctx->set_verify_mode(asio::ssl::verify_peer |
                         (o.require_client_cert ? asio::ssl::verify_fail_if_no_peer_cert : asio::ssl::verify_none));
    static const unsigned char sid[] = "edgemq";
    SSL_CTX_set_session_id_context(native, sid, sizeof sid - 1);  // needed with verification and resumption
  }
  return ctx;
}

std::string describe_certificate(asio::ssl::context& ctx, bool& not_valid_now) {
  not_valid_now = false;
  X509* cert = SSL_CTX_get0_certificate(ctx.native_handle());
  if (!cert) return "no certificate";
  BIO* b = BIO_new(BIO_s_mem());
  if (!b) return "?";
  BIO_puts(b, "subject ");
  X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  BIO_puts(b, ", valid until ");
  ASN1_TIME_print(b, X509_get0_notAfter(cert));
  std::string out = bio_text(b);
  BIO_free(b);
  // X509_cmp_current_time: -1 when the time is before now, 1 after, 0 on error.
  not_valid_now =
      X509_cmp_current_time(X509_get0_notAfter(cert)) < 0 || X509_cmp_current_time(X509_get0_notBefore(cert)) > 0;
  return out;
}

}  // namespace edgemq::net
