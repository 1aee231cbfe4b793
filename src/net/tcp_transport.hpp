// Plain TCP as a transport for basic_connection. A transport provides: wait for readability,
// a non-blocking read into a caller buffer (so idle connections hold no read buffer), a
// non-blocking gathered write_some and a gathered async write for the rest, and close. The
// write members may be called from another worker's thread while the connection's own worker
// is kept out (ADR 0006). TLS and WebSocket transports provide the same members.
#pragma once

#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "broker/principal.hpp"
#include "config/server_options.hpp"

namespace edgemq::net {

// Sockets bound to their worker's io_context executor, not any_io_executor: every handler and
// pending operation of a connection is smaller for it (no type-erased executor in each).
using tcp_socket = boost::asio::ip::tcp::socket::rebind_executor<boost::asio::io_context::executor_type>::other;

class tcp_transport {
 public:
  using socket_type = tcp_socket;
  explicit tcp_transport(socket_type s) : socket_(std::move(s)) {
    boost::system::error_code ec;
    socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);  // we coalesce writes ourselves
    socket_.non_blocking(true, ec);
  }

  auto get_executor() { return socket_.get_executor(); }

  // Calls `h(error_code)` when data (or EOF / an error) is ready to read.
  template <class Handler>
  void async_wait_readable(Handler&& h) {
    socket_.async_wait(socket_type::wait_read, std::forward<Handler>(h));
  }

  // Reads what is available without blocking; would_block when nothing is.
  std::size_t read_some(boost::asio::mutable_buffer b, boost::system::error_code& ec) {
    return socket_.read_some(b, ec);
  }

  // Writes what the socket takes now without blocking (would_block when it takes nothing).
  template <class Buffers>
  std::size_t write_some(const Buffers& bufs, boost::system::error_code& ec) {
    return socket_.write_some(bufs, ec);
  }

  template <class Buffers, class Handler>
  void async_write(const Buffers& bufs, Handler&& h) {
    boost::asio::async_write(socket_, bufs, std::forward<Handler>(h));
  }

  // Sends FIN after the last write; reading stays possible (the peer's unread input is drained
  // before close(), so the kernel does not answer it with a reset that destroys our last packet).
  void shutdown_send() {
    boost::system::error_code ec;
    socket_.shutdown(socket_type::shutdown_send, ec);
  }

  // Sends FIN after the last write, then releases the descriptor.
  void close() {
    boost::system::error_code ec;
    socket_.shutdown(socket_type::shutdown_both, ec);
    socket_.close(ec);
  }

  // Plain TCP carries no client certificate.
  std::optional<broker::peer_certificate> peer_certificate() const { return std::nullopt; }

  std::string remote_endpoint() const {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    return ec ? std::string("?") : config::format_endpoint(ep.address().to_string(), ep.port());
  }

 private:
  socket_type socket_;
};

}  // namespace edgemq::net
