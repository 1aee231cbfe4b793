#include "cluster/session_etcd_http.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "cluster/connection_security_impl.hpp"
#include "cluster/etcd_client.hpp"
#include "text/text.hpp"

namespace edgemq::cluster {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

struct session_etcd_http::impl {
  struct endpoint {
    std::string host, port;
  };
  std::vector<endpoint> endpoints;
  std::chrono::milliseconds timeout;
  connection_security security;
  bool tls = false;
  std::shared_ptr<boost::asio::ssl::context> tls_context;  // https only
  std::string token;                                       // etcd's auth token, once asked for
  boost::asio::io_context io;
  // TLS or not, the stream is the same type; without TLS only its TCP layer is used.
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
  std::size_t current = 0;

  bool connect(std::string& error) {
    const auto& ep = endpoints[current];
    try {
      tcp::resolver resolver(io);
      stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, *tls_context);
      auto& tcp_layer = stream->next_layer();
      tcp_layer.expires_after(timeout);
      tcp_layer.connect(resolver.resolve(ep.host, ep.port));
      if (tls) {
        if (!prepare_tls(stream->native_handle(), ep.host, error)) {
          stream.reset();
          return false;
        }
        boost::system::error_code ec;
        stream->handshake(boost::asio::ssl::stream_base::client, ec);
        if (ec) {
          error = describe_tls_failure(ep.host + ":" + ep.port, stream->native_handle(), ec);
          stream.reset();
          return false;
        }
      }
      return true;
    } catch (const std::exception& e) {
      error = ep.host + ":" + ep.port + ": " + e.what();
      stream.reset();
      return false;
    }
  }

  // Asks etcd for a token for the configured user (connection open). False with `error` when the
  // connection failed (stream reset) or etcd refused the user or password (stream kept).
  bool authenticate(std::string& error) {
    if (!stream && !connect(error)) return false;
    std::string answer;
    unsigned status = 0;
    if (!exchange("/v3/auth/authenticate", etcd_authenticate_body(security).dump(), answer, error, &status)) {
      stream.reset();
      return false;
    }
    const auto j = nlohmann::json::parse(answer, nullptr, false);
    if (status == 200 && j.is_object() && j.contains("token") && j["token"].is_string()) {
      token = j["token"].get<std::string>();
      return true;
    }
    std::string why = "HTTP " + std::to_string(status);
    if (j.is_object())
      for (const char* k : {"message", "error"})
        if (auto it = j.find(k); it != j.end() && it->is_string()) why = it->get<std::string>();
    error = "etcd refused user '" + security.etcd_user + "': " + why;
    return false;
  }

  template <class Stream>
  http::response<http::string_body> round_trip(Stream& s, const http::request<http::string_body>& req) {
    http::write(s, req);
    beast::flat_buffer buf;
    // A session's records can exceed Beast's default 8 MB body limit (its queued messages).
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::uint64_t{1} << 31);
    http::read(s, buf, parser);
    return parser.release();
  }

  // One exchange on the current connection; false on a transport error or a 5xx.
  bool exchange(const std::string& path, const std::string& body, std::string& answer, std::string& error,
                unsigned* status = nullptr, const std::string* auth = nullptr) {
    try {
      http::request<http::string_body> req{http::verb::post, path, 11};
      req.set(http::field::host, endpoints[current].host);
      req.set(http::field::content_type, "application/json");
      if (auth && !auth->empty()) req.set(http::field::authorization, *auth);
      req.keep_alive(true);
      req.body() = body;
      req.prepare_payload();
      stream->next_layer().expires_after(timeout);
      auto res = tls ? round_trip(*stream, req) : round_trip(stream->next_layer(), req);
      if (status) *status = res.result_int();
      answer = std::move(res.body());
      if (!res.keep_alive()) stream.reset();
      // A 4xx is etcd's own refusal (a lost lease, a bad request): its JSON says why ("error").
      if (res.result_int() >= 500) {
        error = "etcd answered " + std::to_string(res.result_int()) + ": " + answer.substr(0, 200);
        return false;
      }
      return true;
    } catch (const std::exception& e) {
      error = std::string("etcd: ") + e.what();
      stream.reset();
      return false;
    }
  }
};

session_etcd_http::session_etcd_http(std::vector<std::string> endpoints, std::chrono::milliseconds timeout,
                                     const connection_security& security)
    : impl_(std::make_unique<impl>()) {
  impl_->timeout = timeout;
  impl_->security = security;
  impl_->tls = !endpoints.empty() && url_uses_tls(endpoints.front());
  impl_->tls_context = impl_->tls ? make_client_tls_context(security)
                                  : std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
  for (auto e : endpoints) {
    if (const auto p = e.find("://"); p != std::string::npos) e = e.substr(p + 3);
    if (const auto p = e.find('/'); p != std::string::npos) e = e.substr(0, p);
    const auto colon = e.rfind(':');
    impl_->endpoints.push_back(colon == std::string::npos ? impl::endpoint{e, "2379"}
                                                          : impl::endpoint{e.substr(0, colon), e.substr(colon + 1)});
  }
}

session_etcd_http::~session_etcd_http() = default;

std::optional<nlohmann::json> session_etcd_http::post(const std::string& path, const nlohmann::json& body,
                                                      std::string* error) {
  const auto text = body.dump();
  const auto deadline = std::chrono::steady_clock::now() + impl_->timeout;
  std::string err = "no etcd endpoint";
  bool reauthenticated = false;
  for (std::size_t tries = 0; tries < impl_->endpoints.size() * 2 && std::chrono::steady_clock::now() < deadline;
       ++tries) {
    if (!impl_->stream && !impl_->connect(err)) {
      impl_->current = (impl_->current + 1) % impl_->endpoints.size();
      continue;
    }
    std::string answer;
    unsigned status = 0;
    if (!impl_->security.etcd_user.empty() && impl_->token.empty() && !impl_->authenticate(err)) {
      if (!impl_->stream) {  // not an answer from etcd: try the next member
        impl_->current = (impl_->current + 1) % impl_->endpoints.size();
        continue;
      }
      break;  // etcd refused the user or password: no member will take them
    }
    if (impl_->exchange(path, text, answer, err, &status, &impl_->token)) {
      auto j = nlohmann::json::parse(answer, nullptr, false);
      // A token etcd no longer takes (expired, or the member restarted): a new one, once.
      if (!impl_->security.etcd_user.empty() && !reauthenticated && etcd_token_rejected(status, j)) {
        reauthenticated = true;
        impl_->token.clear();
        continue;
      }
      if (!j.is_discarded()) return j;
      err = "etcd: unreadable answer";
    }
    impl_->stream.reset();
    impl_->current = (impl_->current + 1) % impl_->endpoints.size();
  }
  if (error) *error = err;
  return std::nullopt;
}

std::string session_etcd_http::b64(std::string_view raw) {
  return text::base64_encode(raw);
}

std::string session_etcd_http::unb64(std::string_view encoded) {
  return text::base64_decode(encoded).value_or(std::string());
}

std::string session_etcd_http::prefix_end(std::string_view prefix) {
  return etcd_client::prefix_end(prefix);
}

}  // namespace edgemq::cluster
