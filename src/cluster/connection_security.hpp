// How a node secures its connections to etcd and NATS (docs/cluster.md, "Securing the cluster
// connections"; docs/adr/0035): TLS is on for an https:// etcd URL and a tls:// NATS URL, the
// servers verified against `tls_ca` (the system store when empty) with their host names checked;
// `tls_cert`/`tls_key` add a client certificate (mTLS). Credentials: an etcd user (etcd's auth
// token sent on every request, renewed once when etcd says it is no longer valid) and a NATS user
// and password or token. Passwords and tokens are never logged.
//
// Every etcd client (etcd_client, session_etcd_http) and every NATS connection (nats_bus,
// session_ownership) takes its settings from here, built in one place each
// (connection_security_impl.hpp, for this directory's .cpp files).
#pragma once

#include <string>

namespace edgemq::cluster {

struct connection_security {
  std::string tls_ca;    // PEM file of the CA(s) the servers' certificates are checked against
  std::string tls_cert;  // PEM client certificate (chain) for mutual TLS, with tls_key
  std::string tls_key;   // its PEM private key
  std::string etcd_user, etcd_password;
  std::string nats_user, nats_password;
  std::string nats_token;
};

}  // namespace edgemq::cluster
