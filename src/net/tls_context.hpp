// A TLS listener's OpenSSL context: made from its config::tls_options at start-up, and made again
// from the same files on reload (SIGHUP), then swapped in whole (ADR 0014). Each accepted
// connection takes the context current at that moment and keeps it (its SSL object holds a
// reference), so a reload never touches a live connection. Include only from src/net .cpp files:
// it pulls in Asio's SSL part and OpenSSL.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "config/server_options.hpp"

namespace edgemq::net {

// A listener's SSL_CTX, made from its config::tls_options (certificate chain, key, client CAs,
// minimum version, TLS 1.2 ciphers). Throws setup_error (server.hpp) with the file and OpenSSL's
// reason when a certificate, key or CA file does not load or the cipher list matches nothing.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const config::tls_options& opts,
                                                            const std::string& listener);

// The server certificate of `ctx` in words for the log: "subject CN=broker, valid until
// 2027-12-03 13:00:00 UTC". `not_valid_now` is set when it has expired or is not valid yet:
// clients will refuse it, so it is worth a warning, but it is not ours to refuse.
std::string describe_certificate(boost::asio::ssl::context& ctx, bool& not_valid_now);

// One TLS listener's current context, replaced whole on reload. Read on every accept (any worker),
// written by the signal thread; a mutex, since neither is on the hot path.
class tls_context_slot {
 public:
  tls_context_slot(std::string listener, config::tls_options opts)
      : listener_(std::move(listener)), opts_(std::move(opts)) {}

  const std::string& listener() const { return listener_; }
  const config::tls_options& options() const { return opts_; }

  std::shared_ptr<boost::asio::ssl::context> current() const {
    std::lock_guard lk(mu_);
    return ctx_;
  }
  void replace(std::shared_ptr<boost::asio::ssl::context> ctx) {
    std::lock_guard lk(mu_);
    ctx_.swap(ctx);
    // The old context is released here or by the last connection that still uses it.
  }

 private:
  const std::string listener_;  // as printed: mqtts://HOST:PORT with the bound port
  const config::tls_options opts_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
};

}  // namespace edgemq::net
