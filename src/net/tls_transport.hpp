// TLS (1.2/1.3, OpenSSL) as a transport for basic_connection: the same members as tcp_transport
// (wait readable, non-blocking read_some and write_some, async write for the rest, shutdown_send,
// close) over a non-blocking TCP socket. Include only from src/net .cpp files: it pulls in Asio
// and OpenSSL (ADR 0009 says why records are moved through memory BIOs here rather than through
// asio::ssl::stream's own reads and writes).
//
// Threading: every member is called under the connection's owner lock (its worker, or a foreign
// worker that holds it, ADR 0006), so the SSL object is never used by two threads at once. The
// encrypted output waiting for the socket has its own mutex: the completion of a socket write runs
// on the worker without the owner lock.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/principal.hpp"
#include "config/server_options.hpp"
#include "net/tcp_transport.hpp"

struct ssl_st;
struct bio_st;

namespace edgemq::net {

class tls_transport {
 public:
  using socket_type = tcp_socket;
  // `ctx`: the listener's context when the connection was accepted (tls_context.hpp); kept for
  // the connection's life, whatever a reload installs meanwhile.
  tls_transport(socket_type s, std::shared_ptr<boost::asio::ssl::context> ctx);

  // Runs the server handshake; `done(ec)` on the socket's executor. Closes the socket when the
  // handshake fails or takes longer than `timeout`.
  void async_handshake(std::chrono::milliseconds timeout, std::function<void(boost::system::error_code)> done);
  // Drops a handshake's completion and the write waiters queued in the state without calling them.
  // Only once the workers are stopped (daemon shutdown): the completion holds this transport, and
  // the waiters its state, so a handshake that never finishes would keep both alive for good.
  void abandon_handshake();

  boost::asio::io_context::executor_type get_executor() { return st_->socket.get_executor(); }

  // Completes at once when OpenSSL already holds input (decrypted or not): no readiness event
  // would come for it.
  template <class Handler>
  void async_wait_readable(Handler&& h) {
    if (has_buffered_input())
      return boost::asio::post(st_->socket.get_executor(),
                               [h = std::forward<Handler>(h)]() mutable { h(boost::system::error_code{}); });
    st_->socket.async_wait(socket_type::wait_read, std::forward<Handler>(h));
  }

  // Decrypts what is available without blocking; would_block when no application data is.
  std::size_t read_some(boost::asio::mutable_buffer b, boost::system::error_code& ec);

  // Encrypts all of `bufs`; returns their size when the socket took every record now, else 0
  // (with no error): the records stay queued and async_write with the same buffers sends them.
  template <class Buffers>
  std::size_t write_some(const Buffers& bufs, boost::system::error_code& ec) {
    std::size_t total = 0;
    if (!encrypt_all(bufs, 0, total, ec)) return 0;
    if (flush_now(ec)) return total;
    if (ec) return 0;
    st_->encrypted_ahead = total;
    return 0;
  }

  // Sends `bufs` (minus what write_some already encrypted) and every queued record; `h(ec, n)`.
  template <class Buffers, class Handler>
  void async_write(const Buffers& bufs, Handler&& h) {
    const std::size_t skip = st_->encrypted_ahead;
    st_->encrypted_ahead = 0;
    std::size_t total = 0;
    boost::system::error_code ec;
    encrypt_all(bufs, skip, total, ec);
    send_async(st_, [h = std::forward<Handler>(h), total, ec](boost::system::error_code wec) mutable {
      h(ec ? ec : wec, total);
    });
  }

  void shutdown_send();
  void close();
  std::string remote_endpoint() const;
  // The subject of the client certificate the handshake verified; nullopt when the client sent
  // none (or verification was not asked for).
  std::optional<broker::peer_certificate> peer_certificate() const;
  // Why the client's certificate did not verify ("certificate has expired"); empty when it did or
  // none was checked. For the log line of a failed handshake.
  std::string verify_failure() const;

 private:
  struct state {
    explicit state(socket_type s) : socket(std::move(s)), timer(socket.get_executor()) {}
    ~state();
    std::shared_ptr<boost::asio::ssl::context> ctx;  // outlives `ssl`, which was made from it
    socket_type socket;
    boost::asio::steady_timer timer;  // the handshake's deadline
    ssl_st* ssl = nullptr;
    bio_st* rbio = nullptr;  // records read from the socket, for OpenSSL (owned by ssl)
    bio_st* wbio = nullptr;  // records OpenSSL produced, for the socket (owned by ssl)
    // The read BIO holds only part of a record (read_some ran out of socket data): more input
    // needs a readiness event, not an immediate retry.
    bool need_socket = false;
    std::size_t encrypted_ahead = 0;  // plaintext write_some encrypted but did not report as written
    std::function<void(boost::system::error_code)> handshake_done;
    std::mutex mu;          // guards the members below: a socket write completes without the owner lock
    std::string out;        // records queued for the socket
    std::string in_flight;  // records an async socket write is sending
    bool sending = false;
    std::vector<std::function<void(boost::system::error_code)>> waiters;  // called when `out` is sent
  };
  static void start_send_locked(const std::shared_ptr<state>& st);
  static void handshake_step(const std::shared_ptr<state>& st);
  static void handshake_finish(const std::shared_ptr<state>& st, boost::system::error_code ec);
  static void drain_wbio_locked(state& st);
  bool has_buffered_input() const;
  bool encrypt(const void* data, std::size_t n, boost::system::error_code& ec);
  // Encrypts `bufs` after their first `skip` bytes; `total` gets their whole size. Small buffers
  // (an MQTT header, a short payload) are gathered into full records first: one record per
  // buffer would cost 22+ bytes and an AEAD operation each.
  template <class Buffers>
  bool encrypt_all(const Buffers& bufs, std::size_t skip, std::size_t& total, boost::system::error_code& ec) {
    std::string& stage = staging();
    stage.clear();
    for (const auto& b : bufs) {
      total += b.size();
      const std::size_t s = std::min(skip, b.size());
      skip -= s;
      const char* p = static_cast<const char*>(b.data()) + s;
      const std::size_t n = b.size() - s;
      if (n == 0) continue;
      if (n >= record_size) {
        if (!encrypt(stage.data(), stage.size(), ec) || !encrypt(p, n, ec)) return false;
        stage.clear();
        continue;
      }
      stage.append(p, n);
      if (stage.size() >= record_size) {
        if (!encrypt(stage.data(), stage.size(), ec)) return false;
        stage.clear();
      }
    }
    return encrypt(stage.data(), stage.size(), ec);
  }
  static constexpr std::size_t record_size = 16 * 1024;  // TLS's largest record
  static std::string& staging();                         // per thread
  bool flush_now(boost::system::error_code& ec);         // true when nothing is left queued
  static void send_async(const std::shared_ptr<state>& st, std::function<void(boost::system::error_code)> done);

  std::shared_ptr<state> st_;  // shared with pending socket operations: they may outlive us
};

}  // namespace edgemq::net
