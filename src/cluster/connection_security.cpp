// TLS contexts, NATS options and etcd authentication for the cluster's connections
// (connection_security_impl.hpp).
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "cluster/connection_security_impl.hpp"

namespace edgemq::cluster {

namespace ssl = boost::asio::ssl;

namespace {

std::string host_of(std::string_view url) {
  if (const auto p = url.find("://"); p != std::string_view::npos) url.remove_prefix(p + 3);
  if (const auto slash = url.find('/'); slash != std::string_view::npos) url = url.substr(0, slash);
  if (const auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (!url.empty() && url.front() == '[') {
    const auto close = url.find(']');
    return std::string(url.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  if (const auto colon = url.rfind(':'); colon != std::string_view::npos) url = url.substr(0, colon);
  return std::string(url);
}

}  // namespace

bool url_uses_tls(std::string_view url) {
  return url.rfind("https://", 0) == 0 || url.rfind("tls://", 0) == 0;
}

std::shared_ptr<ssl::context> make_client_tls_context(const connection_security& sec) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  const auto fail = [&ec](const std::string& key, const std::string& file) {
    throw std::runtime_error("cluster." + key + ": cannot use '" + file + "': " + ec.message());
  };
  if (sec.tls_ca.empty()) {
    if (ctx->set_default_verify_paths(ec); ec) fail("tls_ca", "(the system's CA store)");
  } else if (ctx->load_verify_file(sec.tls_ca, ec); ec) {
    fail("tls_ca", sec.tls_ca);
  }
  if (!sec.tls_cert.empty()) {
    if (ctx->use_certificate_chain_file(sec.tls_cert, ec); ec) fail("tls_cert", sec.tls_cert);
    if (ctx->use_private_key_file(sec.tls_key, ssl::context::pem, ec); ec) fail("tls_key", sec.tls_key);
  }
  return ctx;
}

bool prepare_tls(SSL* ssl, const std::string& host, std::string& error) {
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  bool ok = true;
  if (!ec) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  } else {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = SSL_set1_host(ssl, host.c_str()) == 1 && SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;
  }
  if (!ok) error = "cannot check TLS certificates against the host name '" + host + "'";
  return ok;
}

std::string describe_tls_failure(const std::string& where, SSL* ssl, const boost::system::error_code& ec) {
  std::string why = ec.message();
  if (ssl) {
    if (const auto v = SSL_get_verify_result(ssl); v != X509_V_OK)
      why = std::string("the server's certificate was refused: ") + X509_verify_cert_error_string(v);
  }
  return "TLS handshake with " + where + " failed: " + why;
}

natsStatus apply_nats_security(natsOptions* o, const connection_security& sec, const std::vector<std::string>& urls,
                               std::string& error) {
  natsStatus st = NATS_OK;
  const auto step = [&](natsStatus s, const char* what) {
    if (st == NATS_OK && s != NATS_OK) {
      st = s;
      const char* detail = nats_GetLastError(nullptr);
      error = std::string(what) + ": " + natsStatus_GetText(s) +
              (detail && *detail ? std::string(" (") + detail + ")" : "");
    }
  };
  const bool tls = !urls.empty() && url_uses_tls(urls.front());
  if (tls) {
    step(natsOptions_SetSecure(o, true), "NATS TLS");
    if (!sec.tls_ca.empty() && st == NATS_OK)
      step(natsOptions_LoadCATrustedCertificates(o, sec.tls_ca.c_str()), "cluster.tls_ca");
    if (!sec.tls_cert.empty() && st == NATS_OK)
      step(natsOptions_LoadCertificatesChain(o, sec.tls_cert.c_str(), sec.tls_key.c_str()), "cluster.tls_cert");
    // libnats checks a host name only when told which: the first URL's, every server's certificate
    // must carry it (docs/cluster.md).
    const auto host = host_of(urls.front());
    if (st == NATS_OK) step(natsOptions_SetExpectedHostname(o, host.c_str()), "NATS TLS host name");
  }
  if (!sec.nats_user.empty() && st == NATS_OK)
    step(natsOptions_SetUserInfo(o, sec.nats_user.c_str(), sec.nats_password.c_str()), "cluster.nats_user");
  if (!sec.nats_token.empty() && st == NATS_OK)
    step(natsOptions_SetToken(o, sec.nats_token.c_str()), "cluster.nats_token");
  return st;
}

nlohmann::json etcd_authenticate_body(const connection_security& sec) {
  return {{"name", sec.etcd_user}, {"password", sec.etcd_password}};
}

bool etcd_token_rejected(unsigned status, const nlohmann::json& answer) {
  if (status == 401) return true;
  if (!answer.is_object()) return false;
  std::string text;
  for (const char* k : {"error", "message"})
    if (auto it = answer.find(k); it != answer.end() && it->is_string()) text += it->get<std::string>();
  return text.find("invalid auth token") != std::string::npos || text.find("user name is empty") != std::string::npos;
}

}  // namespace edgemq::cluster
