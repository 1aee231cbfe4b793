#include "dataflow/endpoints/http_sink.hpp"

#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"
#include "dataflow/endpoints/record_json.hpp"

namespace edgemq::dataflow {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// The reason OpenSSL gives ("certificate verify failed") rather than an error number.
std::string describe(const error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category()) {
    if (const char* r = ERR_reason_error_string(static_cast<unsigned long>(ec.value()))) return r;
  }
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

// One connection at a time, one request at a time (the runtime keeps one batch in flight).
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(http_settings s, asio::io_context& io) : s_(std::move(s)), io_(io), ctx_(asio::ssl::context::tls_client) {
    if (!s_.tls) return;
    ctx_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    ctx_.set_verify_mode(asio::ssl::verify_peer);
    error_code ec;
    if (s_.ca_file.empty())
      ctx_.set_default_verify_paths(ec);
    else
      ctx_.load_verify_file(s_.ca_file, ec);
    if (ec) setup_error_ = "tls.caFile " + s_.ca_file + ": " + describe(ec);
  }

  bool stopped = false;

  // From stop(), while a request may be suspended on the stream: close the socket only (the
  // coroutine wakes with an error and lets go of the stream itself).
  void abort() {
    if (tls_) beast::get_lowest_layer(*tls_).close();
    if (tcp_) tcp_->close();
  }

  void close() {
    if (tls_) beast::get_lowest_layer(*tls_).close();
    if (tcp_) tcp_->close();
    tls_.reset();
    tcp_.reset();
  }

  asio::awaitable<send_result> post(std::string body, std::size_t count) {
    if (!setup_error_.empty()) co_return send_result{false, setup_error_, 0};
    // A kept-alive connection the server has closed meanwhile fails without a response: then
    // once more on a new connection (the batch may arrive twice, which at least once allows).
    const bool reused = tcp_ || tls_;
    auto r = co_await attempt(body, count);
    // (Not after a timeout: the server was there but slow, and waiting twice helps nobody.)
    if (!r.ok && reused && !answered_ && !timed_out_ && !stopped) r = co_await attempt(body, count);
    co_return r;
  }

 private:
  asio::awaitable<send_result> attempt(const std::string& body, std::size_t count) {
    answered_ = false;
    timed_out_ = false;
    const auto deadline = s_.timeout;
    if (!tcp_ && !tls_) {
      if (auto err = co_await connect(deadline); !err.empty()) {
        close();
        co_return send_result{false, "POST " + s_.url + ": " + err, 0};
      }
    } else {
      lowest().expires_after(deadline);
    }
    http::request<http::string_body> req{http::verb::post, s_.target, 11};
    req.set(http::field::host,
            s_.host.find(':') != std::string::npos ? "[" + s_.host + "]:" + s_.port : s_.host + ":" + s_.port);
    req.set(http::field::user_agent, "edgemq-dataflow");
    req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : s_.headers) req.set(k, v);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();

    http::response<http::string_body> res;
    error_code ec;
    if (tls_)
      ec = co_await exchange(*tls_, req, res);
    else
      ec = co_await exchange(*tcp_, req, res);
    if (ec) {
      close();
      timed_out_ = ec == beast::error::timeout;
      co_return send_result{false, "POST " + s_.url + ": " + describe(ec), 0};
    }
    answered_ = true;
    if (!res.keep_alive()) close();
    const auto status = res.result_int();
    if (status >= 200 && status < 300) co_return send_result{true, {}, count};
    std::string why = "POST " + s_.url + ": HTTP " + std::to_string(status) + " " +
                      to_string(log_safe(std::string(res.reason()), 64));
    if (!res.body().empty()) why += ": " + to_string(log_safe(res.body(), 200));
    co_return send_result{false, std::move(why), 0};
  }

  template <class Stream>
  asio::awaitable<error_code> exchange(Stream& stream, http::request<http::string_body>& req,
                                       http::response<http::string_body>& res) {
    auto [wec, wn] = co_await http::async_write(stream, req, tuple_awaitable);
    if (wec) co_return wec;
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);  // only the start of an error body is ever shown
    auto [rec, rn] = co_await http::async_read(stream, buf, parser, tuple_awaitable);
    if (rec) co_return rec;
    res = parser.release();
    co_return error_code{};
  }

  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *tcp_; }

  // "" when connected (and, with TLS, the server's certificate and name checked), else why not.
  asio::awaitable<std::string> connect(std::chrono::seconds deadline) {
    tcp::resolver resolver(io_);
    auto [rec, endpoints] = co_await resolver.async_resolve(s_.host, s_.port, tuple_awaitable);
    if (rec) co_return "resolve " + s_.host + ": " + describe(rec);
    if (stopped) co_return "stopped";
    if (s_.tls)
      tls_.emplace(io_, ctx_);
    else
      tcp_.emplace(io_);
    auto& sock = lowest();
    sock.expires_after(deadline);
    auto [cec, ep] = co_await sock.async_connect(endpoints, tuple_awaitable);
    if (cec) co_return "connect to " + s_.host + ":" + s_.port + ": " + describe(cec);
    sock.socket().set_option(tcp::no_delay(true));
    if (tls_) {
      // SNI, and the certificate must name the host (not only chain to a trusted CA).
      if (!SSL_set_tlsext_host_name(tls_->native_handle(), s_.host.c_str()))
        co_return "TLS: cannot set the server name";
      tls_->set_verify_callback(asio::ssl::host_name_verification(s_.host));
      auto [hec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, tuple_awaitable);
      if (hec) co_return "TLS handshake with " + s_.host + ":" + s_.port + ": " + describe(hec);
    }
    co_return std::string{};
  }

  http_settings s_;
  asio::io_context& io_;
  asio::ssl::context ctx_;
  std::string setup_error_;
  std::optional<beast::tcp_stream> tcp_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  bool answered_ = false;
  bool timed_out_ = false;
};

class http_sink final : public sink {
 public:
  http_sink(http_settings s, asio::io_context& io, std::shared_ptr<spdlog::logger> log)
      : io_(io),
        log_(std::move(log)),
        max_batch_(s.max_messages),
        conn_(std::make_shared<connection>(std::move(s), io)) {}
  ~http_sink() override { stop(); }

  void start() override {}  // connects with the first batch
  std::size_t max_batch() const override { return max_batch_; }

  void send(std::span<const record> batch, std::function<void(send_result)> done) override {
    asio::co_spawn(io_, conn_->post(records_to_json_array(batch), batch.size()),
                   [c = conn_, log = log_, done = std::move(done)](std::exception_ptr e, send_result r) {
                     if (c->stopped) return;
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         r = send_result{false, std::string("http sink: ") + ex.what(), 0};
                       }
                     }
                     if (!r.ok && log) log->warn("http sink: {}", r.error);
                     done(std::move(r));
                   });
  }

  void stop() override {
    conn_->stopped = true;
    conn_->abort();
  }

 private:
  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  std::size_t max_batch_;
  std::shared_ptr<connection> conn_;
};

}  // namespace

std::unique_ptr<sink> make_http_sink(http_settings settings, boost::asio::io_context& io,
                                     std::shared_ptr<spdlog::logger> log) {
  return std::make_unique<http_sink>(std::move(settings), io, std::move(log));
}

}  // namespace edgemq::dataflow
