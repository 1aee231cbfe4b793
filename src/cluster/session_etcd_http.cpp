#include "cluster/session_etcd_http.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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
  boost::asio::io_context io;
  std::unique_ptr<beast::tcp_stream> stream;
  std::size_t current = 0;

  bool connect(std::string& error) {
    const auto& ep = endpoints[current];
    try {
      tcp::resolver resolver(io);
      stream = std::make_unique<beast::tcp_stream>(io);
      stream->expires_after(timeout);
      stream->connect(resolver.resolve(ep.host, ep.port));
      return true;
    } catch (const std::exception& e) {
      error = ep.host + ":" + ep.port + ": " + e.what();
      stream.reset();
      return false;
    }
  }

  // One exchange on the current connection; false on a transport error or a 5xx.
  bool exchange(const std::string& path, const std::string& body, std::string& answer, std::string& error) {
    try {
      http::request<http::string_body> req{http::verb::post, path, 11};
      req.set(http::field::host, endpoints[current].host);
      req.set(http::field::content_type, "application/json");
      req.keep_alive(true);
      req.body() = body;
      req.prepare_payload();
      stream->expires_after(timeout);
      http::write(*stream, req);
      beast::flat_buffer buf;
      // A session's records can exceed Beast's default 8 MB body limit (its queued messages).
      http::response_parser<http::string_body> parser;
      parser.body_limit(std::uint64_t{1} << 31);
      http::read(*stream, buf, parser);
      auto res = parser.release();
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

session_etcd_http::session_etcd_http(std::vector<std::string> endpoints, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
  impl_->timeout = timeout;
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
  for (std::size_t tries = 0; tries < impl_->endpoints.size() * 2 && std::chrono::steady_clock::now() < deadline;
       ++tries) {
    if (!impl_->stream && !impl_->connect(err)) {
      impl_->current = (impl_->current + 1) % impl_->endpoints.size();
      continue;
    }
    std::string answer;
    if (impl_->exchange(path, text, answer, err)) {
      auto j = nlohmann::json::parse(answer, nullptr, false);
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
