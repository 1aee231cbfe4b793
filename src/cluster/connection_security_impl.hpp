// The one place the cluster's clients get their TLS contexts and credentials from
// (connection_security.hpp). For this directory's .cpp files and its tests: it names Asio's SSL
// types and libnats, which the other headers keep out.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <nats/nats.h>
#include <nlohmann/json_fwd.hpp>

#include "cluster/connection_security.hpp"

namespace edgemq::cluster {

// True for an https:// (etcd) or tls:// (NATS) URL.
bool url_uses_tls(std::string_view url);

// A client context for the etcd gateway: peers verified against sec.tls_ca (the system's default
// store when empty), the client certificate loaded when given. Throws std::runtime_error naming
// the file and OpenSSL's reason when one cannot be used.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const connection_security& sec);

// Prepares a connection's SSL object for a handshake with `host`: the peer must present a
// certificate that verifies and names `host` (a DNS name, or an IP address in its SANs); SNI set
// for a name. False (and `error`) when OpenSSL refuses the name.
bool prepare_tls(SSL* ssl, const std::string& host, std::string& error);

// Why a handshake with `where` failed, clear about a certificate that did not verify.
std::string describe_tls_failure(const std::string& where, SSL* ssl, const boost::system::error_code& ec);

// Applies TLS (when the URLs are tls://: the CA, the client certificate, the expected host name:
// the first URL's host, which every server's certificate must carry) and the user/password or
// token to `o`. NATS_OK or the first failure, `error` saying which setting failed.
natsStatus apply_nats_security(natsOptions* o, const connection_security& sec, const std::vector<std::string>& urls,
                               std::string& error);

// etcd authentication: the body of POST /v3/auth/authenticate, and whether an answer (HTTP status
// and JSON) says the token sent is missing, invalid or expired, so a new one should be asked for.
nlohmann::json etcd_authenticate_body(const connection_security& sec);
bool etcd_token_rejected(unsigned status, const nlohmann::json& answer);

}  // namespace edgemq::cluster
