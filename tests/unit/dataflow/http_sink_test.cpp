// The Http sink against a real HTTP(S) server run by the test on loopback: batches as JSON arrays
// with the configured headers, only 2xx acknowledges, a server that fails for a while or is down
// and comes back, closed keep-alive connections, timeouts, and TLS checked against a CA file.
#include "dataflow/endpoints/http_sink.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>

#include "sink_test_support.hpp"

namespace edgemq::dataflow {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// A webhook on 127.0.0.1, one connection at a time (as the sink uses it), on a thread of its own.
class webhook_server {
 public:
  struct options {
    std::function<int(std::size_t)> status = [](std::size_t) { return 200; };
    bool close_each = false;            // "Connection: close" and close after each response
    bool silent_close = false;          // close after each response while promising keep-alive
    bool hang = false;                  // read requests, never answer
    std::size_t hang_after = SIZE_MAX;  // answer this many requests, then hang
    asio::ssl::context* tls = nullptr;
    unsigned short port = 0;
  };

  explicit webhook_server(options o) : o_(std::move(o)), acc_(io_) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), o_.port);
    acc_.open(ep.protocol());
    acc_.set_option(tcp::acceptor::reuse_address(true));
    acc_.bind(ep);
    acc_.listen();
    port_ = acc_.local_endpoint().port();
    thread_ = std::thread([this] { loop(); });
  }
  ~webhook_server() {
    stop_ = true;
    // A kept-alive connection the server is reading from: wake that read too.
    if (const int fd = active_fd_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
    boost::system::error_code ec;
    tcp::socket wake(io_);
    wake.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }

  unsigned short port() const { return port_; }
  std::vector<http::request<http::string_body>> requests() {
    std::lock_guard lock(m_);
    return requests_;
  }

 private:
  void loop() {
    while (!stop_) {
      tcp::socket sock(io_);
      boost::system::error_code ec;
      acc_.accept(sock, ec);
      if (ec || stop_) return;
      active_fd_ = sock.native_handle();
      if (o_.tls) {
        asio::ssl::stream<tcp::socket> s(std::move(sock), *o_.tls);
        s.handshake(asio::ssl::stream_base::server, ec);
        if (!ec) serve(s);
      } else {
        serve(sock);
      }
      active_fd_ = -1;
    }
  }

  template <class Stream>
  void serve(Stream& s) {
    beast::flat_buffer buf;
    for (;;) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(s, buf, req, ec);
      if (ec) return;
      std::size_t index;
      {
        std::lock_guard lock(m_);
        requests_.push_back(req);
        index = requests_.size() - 1;
      }
      if (o_.hang || index >= o_.hang_after) continue;
      const int status = o_.status(index);
      http::response<http::string_body> res{static_cast<http::status>(status), 11};
      res.body() = status < 300 ? "ok" : "come back later";
      res.keep_alive(!o_.close_each);
      res.prepare_payload();
      http::write(s, res, ec);
      if (ec || o_.close_each || o_.silent_close) return;
    }
  }

  options o_;
  asio::io_context io_;
  tcp::acceptor acc_;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> active_fd_{-1};
  std::thread thread_;
  std::mutex m_;
  std::vector<http::request<http::string_body>> requests_;
};

http_settings settings_for(const std::string& url, int timeout_s = 5) {
  problems p;
  auto s = parse_http_settings(
      nlohmann::json{
          {"httpSettings",
           {{"url", url}, {"headers", {{"Authorization", "Bearer s3cret"}}}, {"timeoutSeconds", timeout_s}}}},
      "", p);
  EXPECT_TRUE(p.empty());
  return s;
}

std::string url(unsigned short port, const char* scheme = "http", const char* host = "127.0.0.1") {
  return std::string(scheme) + "://" + host + ":" + std::to_string(port) + "/ingest";
}

TEST(HttpSink, FailsUntilTheWebhookAcceptsThenDeliversInOrder) {
  // 503 three times, then 200: the runtime's retries (here: this loop) get the batch through.
  webhook_server server({.status = [](std::size_t i) { return i < 3 ? 503 : 200; }});
  asio::io_context io;
  auto sink = make_http_sink(settings_for(url(server.port())), io, nullptr);
  sink->start();
  const auto first = test::numbered(0, 3);
  int attempts = 0;
  for (;;) {
    auto r = test::send_and_wait(io, *sink, first);
    ASSERT_TRUE(r);
    ++attempts;
    if (r->ok) {
      EXPECT_EQ(r->accepted, 3u);
      break;
    }
    EXPECT_EQ(r->accepted, 0u);
    EXPECT_NE(r->error.find("HTTP 503"), std::string::npos) << r->error;
    EXPECT_NE(r->error.find("come back later"), std::string::npos) << r->error;
    ASSERT_LT(attempts, 10);
  }
  EXPECT_EQ(attempts, 4);
  auto r = test::send_and_wait(io, *sink, test::numbered(3, 2));
  ASSERT_TRUE(r && r->ok) << r->error;

  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[0].method(), http::verb::post);
  EXPECT_EQ(reqs[0].target(), "/ingest");
  EXPECT_EQ(reqs[0][http::field::content_type], "application/json");
  EXPECT_EQ(reqs[0][http::field::authorization], "Bearer s3cret");
  std::vector<int> delivered;
  for (std::size_t i = 3; i < reqs.size(); ++i)  // the accepted requests
    for (const auto& rec : nlohmann::json::parse(reqs[i].body())) delivered.push_back(rec.at("payload").at("n"));
  EXPECT_EQ(delivered, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(reqs[0].body(), reqs[3].body());  // the same batch each time
}

TEST(HttpSink, DownThenBackOnTheSamePort) {
  unsigned short port;
  { port = webhook_server({}).port(); }  // a port nobody listens on any more
  asio::io_context io;
  auto sink = make_http_sink(settings_for(url(port)), io, nullptr);
  sink->start();
  auto r = test::send_and_wait(io, *sink, test::numbered(0, 2));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->error.find("connect to 127.0.0.1:" + std::to_string(port)), std::string::npos) << r->error;
  EXPECT_NE(r->error.find("refused"), std::string::npos) << r->error;

  webhook_server server({.port = port});
  r = test::send_and_wait(io, *sink, test::numbered(0, 2));
  ASSERT_TRUE(r && r->ok) << r->error;
  ASSERT_EQ(server.requests().size(), 1u);
}

TEST(HttpSink, NewConnectionWhenTheServerClosesIt) {
  for (const bool announced : {true, false}) {
    webhook_server server({.close_each = announced, .silent_close = !announced});
    asio::io_context io;
    auto sink = make_http_sink(settings_for(url(server.port())), io, nullptr);
    sink->start();
    for (int i = 0; i < 3; ++i) {
      auto r = test::send_and_wait(io, *sink, test::numbered(i, 1));
      ASSERT_TRUE(r && r->ok) << "announced=" << announced << ": " << r->error;
    }
    EXPECT_EQ(server.requests().size(), 3u);
  }
}

TEST(HttpSink, TimesOut) {
  webhook_server server({.hang = true});
  asio::io_context io;
  auto sink = make_http_sink(settings_for(url(server.port()), 1), io, nullptr);
  sink->start();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = test::send_and_wait(io, *sink, test::numbered(0, 1), 10s);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->error.find("timed out"), std::string::npos) << r->error;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(HttpSink, TimeoutOnAKeptAliveConnectionIsNotRetriedAtOnce) {
  // Answers the first request, then hangs: the second request, on the kept-alive connection,
  // fails after one timeout, without a second attempt on a new connection.
  webhook_server server({.hang_after = 1});
  asio::io_context io;
  auto sink = make_http_sink(settings_for(url(server.port()), 1), io, nullptr);
  ASSERT_TRUE(test::send_and_wait(io, *sink, test::numbered(0, 1))->ok);
  auto r = test::send_and_wait(io, *sink, test::numbered(1, 1), 10s);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->error.find("timed out"), std::string::npos) << r->error;
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(HttpSink, StopLeavesTheBatchUnanswered) {
  webhook_server server({.hang = true});
  asio::io_context io;
  auto sink = make_http_sink(settings_for(url(server.port())), io, nullptr);
  bool called = false;
  sink->send(test::numbered(0, 1), [&](send_result) { called = true; });
  ASSERT_TRUE(test::run_until(io, [&] { return server.requests().size() == 1; }));
  sink->stop();
  io.restart();
  io.run_for(100ms);
  EXPECT_FALSE(called);
}

// A CA and a server certificate for localhost, made with the openssl command line.
struct test_pki {
  test_pki() {
    char tmpl[] = "/tmp/edgemq-http-pki-XXXXXX";
    dir = ::mkdtemp(tmpl);
    std::ofstream(dir / "ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    const std::string d = dir.string();
    const std::string cmd =
        "cd " + d +
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem"
        " -days 2 -subj /CN=edgemq-test-ca"
        " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr"
        " -subj /CN=localhost"
        " && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2"
        " -extfile ext.cnf) >/dev/null 2>&1";
    ok = std::system(("(" + cmd).c_str()) == 0;
  }
  ~test_pki() { std::filesystem::remove_all(dir); }
  std::filesystem::path dir;
  bool ok = false;
};

TEST(HttpSink, HttpsVerifiesTheServerAgainstTheCaFile) {
  test_pki pki;
  ASSERT_TRUE(pki.ok);
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  ctx.use_certificate_chain_file((pki.dir / "srv.pem").string());
  ctx.use_private_key_file((pki.dir / "srv.key").string(), asio::ssl::context::pem);
  webhook_server server({.tls = &ctx});
  asio::io_context io;

  auto trusted = settings_for(url(server.port(), "https", "localhost"));
  trusted.ca_file = (pki.dir / "ca.pem").string();
  auto sink = make_http_sink(trusted, io, nullptr);
  auto r = test::send_and_wait(io, *sink, test::numbered(0, 2));
  ASSERT_TRUE(r && r->ok) << r->error;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(server.requests()[0].body()).size(), 2u);
  sink.reset();  // the server takes one connection at a time

  // Without the CA (the system's store does not know it): refused, and said why.
  auto untrusted = make_http_sink(settings_for(url(server.port(), "https", "localhost")), io, nullptr);
  r = test::send_and_wait(io, *untrusted, test::numbered(0, 1));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->error.find("certificate verify failed"), std::string::npos) << r->error;

  // A CA file that does not exist: every send fails, naming it.
  auto missing = trusted;
  missing.ca_file = (pki.dir / "nope.pem").string();
  auto bad = make_http_sink(missing, io, nullptr);
  r = test::send_and_wait(io, *bad, test::numbered(0, 1));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->error.find("nope.pem"), std::string::npos) << r->error;
}

}  // namespace
}  // namespace edgemq::dataflow
