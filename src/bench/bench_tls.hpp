// TLS for edgemq-bench's connections (--tls): an OpenSSL client context and the few calls the load
// generator makes on a connection, in the shapes its plain socket calls have (bytes, 0 for "would
// block", -1 for an error or the end). OpenSSL directly rather than Asio: the generator is a
// plain epoll loop over file descriptors. Not for production use.
#pragma once

#include <cstddef>
#include <string>

struct ssl_ctx_st;
struct ssl_st;

namespace edgemq::bench {

struct tls_client_options {
  std::string cafile;  // verify the server against these CAs and `host`; empty: no verification
  std::string cert;    // client certificate (PEM), for listeners that ask for one
  std::string key;
  std::string host;  // the IPv4 address the server certificate must name (with a cafile)
};

class tls_client_context {
 public:
  // Throws std::runtime_error naming the file and OpenSSL's reason.
  explicit tls_client_context(const tls_client_options& o);
  ~tls_client_context();
  tls_client_context(const tls_client_context&) = delete;
  tls_client_context& operator=(const tls_client_context&) = delete;

  // The client handshake on `fd` (connected, blocking). Throws std::runtime_error on failure.
  ssl_st* handshake(int fd) const;

 private:
  ssl_ctx_st* ctx_ = nullptr;
  std::string host_;
  bool verify_ = false;
};

// Blocking (during set-up) or not (once the socket is non-blocking): bytes moved, 0 when the
// socket would block, -1 on an error or the peer's close. A partial write is normal: the caller
// keeps the rest (same bytes first) and calls again.
long tls_write(ssl_st* ssl, const char* data, std::size_t n);
long tls_read(ssl_st* ssl, char* data, std::size_t n);
// Frees what handshake() returned (null is fine).
void tls_free(ssl_st* ssl);

}  // namespace edgemq::bench
