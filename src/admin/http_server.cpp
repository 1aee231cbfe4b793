// The admin server's HTTP/1.1 side: Beast over its own io_context, one coroutine per connection
// (not the hot path: readability over the MQTT connections' readiness chain, architecture.md).
#include <atomic>
#include <cctype>
#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "admin/admin_server.hpp"

namespace edgemq::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::size_t header_limit = 8 * 1024;  // request line and headers
constexpr std::chrono::seconds io_timeout{30};  // per read or write: an idle keep-alive ends here
constexpr std::chrono::seconds handshake_timeout{10};
constexpr std::size_t max_connections = 64;  // beyond: 503 and close, the broker stays unaffected

http::response<http::string_body> to_beast(const http_response& r, unsigned version, bool keep_alive, bool head) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "edgemq");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  if (!r.allow.empty()) res.set(http::field::allow, r.allow);
  if (r.authenticate) res.set(http::field::www_authenticate, "Bearer");
  res.set(http::field::cache_control, "no-store");
  for (const auto& [name, value] : r.headers) res.set(name, value);  // replaces a default of the same name
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  if (head) res.body().clear();  // Content-Length stays that of the GET
  return res;
}

std::string ssl_reason(const boost::system::error_code& ec) {
  const auto e = ERR_peek_last_error();
  std::string r = e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : ec.message() : ec.message();
  ERR_clear_error();
  return r;
}

// Like the mqtts listeners' context (TLS 1.2+, the listener's cipher list), without client
// certificates: the admin server authenticates with its bearer token.
std::shared_ptr<asio::ssl::context> make_context(const tls_files& t) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), t.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(t.cert, ec);
  if (ec) throw setup_error("admin server: certificate '" + t.cert + "': " + ssl_reason(ec));
  ctx->use_private_key_file(t.key, asio::ssl::context::pem, ec);
  if (ec || SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    throw setup_error("admin server: private key '" + t.key + "': " + ssl_reason(ec));
  if (!t.ciphers.empty() && SSL_CTX_set_cipher_list(ctx->native_handle(), t.ciphers.c_str()) != 1)
    throw setup_error("admin server: ciphers '" + t.ciphers + "': " + ssl_reason(ec));
  return ctx;
}

}  // namespace

struct admin_server::impl {
  admin_context ctx_;
  std::string host_;
  std::uint16_t port_;
  std::optional<tls_files> tls_files_;
  std::shared_ptr<asio::ssl::context> tls_;  // https only
  std::shared_ptr<spdlog::logger> log_;
  // Connection coroutines still suspended at stop() are destroyed with ioc_: everything they use
  // (the context, the TLS context, this counter) is declared before it, so it outlives them.
  std::atomic<std::size_t> connections_{0};
  asio::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  std::thread thread_;
  bool stopped_ = false;

  impl(admin_context c, std::string h, std::uint16_t p, std::optional<tls_files> t, std::shared_ptr<spdlog::logger> l)
      : ctx_(std::move(c)), host_(std::move(h)), port_(p), tls_files_(std::move(t)), log_(std::move(l)) {}

  template <class Stream>
  asio::awaitable<void> send(Stream& stream, const http_response& r, unsigned version, bool keep_alive,
                             bool head = false) {
    auto res = to_beast(r, version, keep_alive, head);
    beast::get_lowest_layer(stream).expires_after(io_timeout);
    co_await http::async_write(stream, res, tuple_awaitable);
  }

  asio::awaitable<void> session(tcp::socket socket) {
    struct slot {
      std::atomic<std::size_t>& n;
      ~slot() { --n; }
    } counted{connections_};
    const bool busy = ++connections_ > max_connections;
    if (!tls_) {
      beast::tcp_stream stream(std::move(socket));
      if (busy)
        co_await send(stream, error_response(503, "busy", "too many admin connections"), 11, false);
      else
        co_await serve(stream);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (busy) co_return;  // closed before the handshake costs anything
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls_);
    beast::get_lowest_layer(stream).expires_after(handshake_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, tuple_awaitable);
    if (ec) co_return;  // not TLS, or not finished in time: nothing to answer
    co_await serve(stream);
    beast::get_lowest_layer(stream).expires_after(handshake_timeout);
    co_await stream.async_shutdown(tuple_awaitable);
  }

  // A deferred response (router.hpp): waits on a timer of this io_context, so the thread goes
  // on serving other connections. The completion may come from any thread: it stores the
  // answer and posts the timer's cancellation here. Once this coroutine is done (or destroyed
  // with the io_context at stop) the completion finds `open` false and touches nothing.
  asio::awaitable<http_response> finish(http_response first) {
    const auto d = std::move(first.deferred);
    struct state {
      std::mutex mu;
      bool open = true;
      std::optional<http_response> result;
      asio::steady_timer* timer = nullptr;
    };
    auto st = std::make_shared<state>();
    asio::steady_timer timer(ioc_);
    timer.expires_after(d->timeout);
    st->timer = &timer;
    struct closer {
      std::shared_ptr<state> st;
      ~closer() {
        std::lock_guard g(st->mu);
        st->open = false;
        st->timer = nullptr;
      }
    } close{st};
    auto& ioc = ioc_;
    auto cancel = d->start([st, &ioc](http_response r) {
      std::lock_guard g(st->mu);
      if (!st->open || st->result) return;
      st->result = std::move(r);
      asio::post(ioc, [st] {
        std::lock_guard g(st->mu);
        if (st->timer) st->timer->cancel();
      });
    });
    co_await timer.async_wait(tuple_awaitable);
    std::optional<http_response> result;
    {
      std::lock_guard g(st->mu);
      st->open = false;
      result = std::move(st->result);
    }
    if (result) co_return std::move(*result);
    if (cancel) cancel();
    co_return first;
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(header_limit);
      parser.body_limit(body_limit);
      beast::get_lowest_layer(stream).expires_after(io_timeout);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
      if (ec == http::error::body_limit) {
        co_await send(stream, error_response(413, "too_large", "request body too large"), 11, false);
        break;
      }
      if (ec == http::error::header_limit) {
        co_await send(stream, error_response(431, "headers_too_large", "request headers too large"), 11, false);
        break;
      }
      if (ec && ec != http::error::end_of_stream && ec != asio::error::operation_aborted &&
          ec != beast::error::timeout && ec != asio::error::eof && ec != asio::error::connection_reset &&
          ec != asio::ssl::error::stream_truncated) {
        // Not HTTP: answer once, then close.
        co_await send(stream, error_response(400, "bad_request", "malformed HTTP request"), 11, false);
        break;
      }
      if (ec) break;
      const auto& req = parser.get();
      http_request r{std::string(req.method_string()), std::string(req.target()),
                     std::string(req[http::field::authorization]), std::string(req[http::field::content_type]),
                     req.body()};
      r.if_none_match = std::string(req[http::field::if_none_match]);
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers.emplace_back(std::move(name), std::string(f.value()));
      }
      http_response out;
      try {
        out = handle(ctx_, r);
        if (out.deferred) out = co_await finish(std::move(out));
      } catch (const std::exception& e) {  // a broken invariant: answer 500, keep serving
        log_->error("admin: {} {}: {}", r.method, r.target.substr(0, 200), e.what());
        out = error_response(500, "internal", "internal error");
      }
      const bool keep = req.keep_alive();
      co_await send(stream, out, req.version(), keep, req.method() == http::verb::head);
      if (!keep) break;
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(tuple_awaitable);
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      if (ec) {
        log_->warn("admin: accept failed: {}", ec.message());
        continue;
      }
      asio::co_spawn(ioc_, session(std::move(socket)), asio::detached);
    }
  }
};

admin_server::admin_server(admin_context ctx, std::string host, std::uint16_t port, std::optional<tls_files> tls,
                           std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<impl>(std::move(ctx), std::move(host), port, std::move(tls), std::move(log))) {}

admin_server::~admin_server() {
  stop();
}

std::uint16_t admin_server::start() {
  auto& d = *impl_;
  if (d.tls_files_) d.tls_ = make_context(*d.tls_files_);
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(d.host_, ec);
  const tcp::endpoint ep(addr, d.port_);
  if (!ec) d.acceptor_.open(ep.protocol(), ec);
  if (!ec) d.acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor_.bind(ep, ec);
  if (!ec) d.acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec, "cannot listen on admin address " + d.host_ + ":" + std::to_string(d.port_));
  const auto port = d.acceptor_.local_endpoint().port();
  asio::co_spawn(d.ioc_, d.accept_loop(), asio::detached);
  d.thread_ = std::thread([&d] { d.ioc_.run(); });
  return port;
}

void admin_server::stop() {
  auto& d = *impl_;
  if (d.stopped_) return;
  d.stopped_ = true;
  if (!d.thread_.joinable()) return;
  asio::post(d.ioc_, [&d] {
    beast::error_code ignored;
    d.acceptor_.close(ignored);
  });
  d.ioc_.stop();  // open connections are dropped with the io_context (admin requests are short)
  d.thread_.join();
}

}  // namespace edgemq::admin
