#include "net/tls_transport.hpp"

#include <array>

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/impl/src.hpp>  // Asio's SSL part, compiled once (BOOST_ASIO_SEPARATE_COMPILATION)
#include <boost/asio/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace edgemq::net {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Records are read from the socket into this buffer, then handed to OpenSSL.
std::span<char> thread_record_buffer() {
  thread_local std::array<char, 17 * 1024> buf;
  return buf;
}

error_code last_ssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  return e ? error_code(static_cast<int>(e), asio::error::get_ssl_category())
           : error_code(asio::ssl::error::stream_truncated);
}

}  // namespace

tls_transport::state::~state() {
  if (ssl) SSL_free(ssl);
}

tls_transport::tls_transport(socket_type s, std::shared_ptr<asio::ssl::context> ctx)
    : st_(std::make_shared<state>(std::move(s))) {
  st_->ctx = std::move(ctx);
  error_code ec;
  st_->socket.set_option(asio::ip::tcp::no_delay(true), ec);  // we coalesce writes ourselves
  st_->socket.non_blocking(true, ec);
  st_->ssl = SSL_new(st_->ctx->native_handle());
  st_->rbio = BIO_new(BIO_s_mem());
  st_->wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(st_->ssl, st_->rbio, st_->wbio);
  SSL_set_accept_state(st_->ssl);
}

void tls_transport::async_handshake(std::chrono::milliseconds timeout, std::function<void(error_code)> done) {
  st_->handshake_done = std::move(done);
  st_->timer.expires_after(timeout);
  st_->timer.async_wait([st = st_](error_code ec) {
    if (!ec) handshake_finish(st, asio::error::timed_out);
  });
  handshake_step(st_);
}

void tls_transport::abandon_handshake() {
  st_->handshake_done = nullptr;
  std::lock_guard lk(st_->mu);
  st_->waiters.clear();
}

void tls_transport::handshake_finish(const std::shared_ptr<state>& st, error_code ec) {
  if (!st->handshake_done) return;  // finished already (the timer and a failure race)
  auto done = std::move(st->handshake_done);
  st->handshake_done = nullptr;
  st->timer.cancel();
  if (ec) {
    error_code ignored;
    st->socket.close(ignored);
  }
  done(ec);
}

void tls_transport::handshake_step(const std::shared_ptr<state>& st) {
  if (!st->handshake_done) return;
  ERR_clear_error();
  const int r = SSL_do_handshake(st->ssl);
  if (r == 1) return send_async(st, [st](error_code ec) { handshake_finish(st, ec); });
  const int err = SSL_get_error(st->ssl, r);
  if (err != SSL_ERROR_WANT_READ) {
    // Send the alert OpenSSL queued (the client then knows why), then give up.
    const error_code why = last_ssl_error();
    return send_async(st, [st, why](error_code) { handshake_finish(st, why); });
  }
  send_async(st, [st](error_code ec) {
    if (ec) return handshake_finish(st, ec);
    st->socket.async_wait(socket_type::wait_read, [st](error_code wec) {
      if (wec) return handshake_finish(st, wec);
      auto buf = thread_record_buffer();
      error_code rec;
      const std::size_t n = st->socket.read_some(asio::buffer(buf.data(), buf.size()), rec);
      if (rec && rec != asio::error::would_block && rec != asio::error::try_again) return handshake_finish(st, rec);
      if (n > 0) BIO_write(st->rbio, buf.data(), static_cast<int>(n));
      handshake_step(st);
    });
  });
}

bool tls_transport::has_buffered_input() const {
  return SSL_pending(st_->ssl) > 0 || (BIO_ctrl_pending(st_->rbio) > 0 && !st_->need_socket);
}

std::size_t tls_transport::read_some(asio::mutable_buffer b, error_code& ec) {
  ec.clear();
  auto* p = static_cast<char*>(b.data());
  std::size_t total = 0;
  auto buf = thread_record_buffer();
  while (total < b.size()) {
    ERR_clear_error();
    const int r = SSL_read(st_->ssl, p + total, static_cast<int>(std::min<std::size_t>(b.size() - total, 1 << 30)));
    if (r > 0) {
      total += static_cast<std::size_t>(r);
      continue;
    }
    const int err = SSL_get_error(st_->ssl, r);
    if (err == SSL_ERROR_WANT_READ) {
      // OpenSSL needs more records: take what the socket holds, without blocking.
      error_code rec;
      const std::size_t n = st_->socket.read_some(asio::buffer(buf.data(), buf.size()), rec);
      if (!rec && n > 0) {
        BIO_write(st_->rbio, buf.data(), static_cast<int>(n));
        st_->need_socket = false;
        continue;
      }
      st_->need_socket = true;
      if (total == 0) ec = rec ? rec : asio::error::eof;  // would_block, the peer's EOF or an error
      break;
    }
    if (total == 0) ec = err == SSL_ERROR_ZERO_RETURN ? error_code(asio::error::eof) : last_ssl_error();
    break;
  }
  // Reading can make OpenSSL answer (a TLS 1.3 key update): send it.
  if (BIO_ctrl_pending(st_->wbio) > 0) {
    error_code wec;
    if (!flush_now(wec) && !wec) send_async(st_, [](error_code) {});
  }
  return total;
}

std::string& tls_transport::staging() {
  thread_local std::string s;
  return s;
}

bool tls_transport::encrypt(const void* data, std::size_t n, error_code& ec) {
  // The write BIO is memory and grows: SSL_write takes all of it at once.
  while (n > 0) {
    ERR_clear_error();
    const int chunk = static_cast<int>(std::min<std::size_t>(n, 1 << 30));
    const int r = SSL_write(st_->ssl, data, chunk);
    if (r <= 0) {
      ec = last_ssl_error();
      return false;
    }
    data = static_cast<const char*>(data) + r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

void tls_transport::drain_wbio_locked(state& st) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(st.wbio, &data);
  if (n <= 0) return;
  st.out.append(data, static_cast<std::size_t>(n));
  (void)BIO_reset(st.wbio);
}

bool tls_transport::flush_now(error_code& ec) {
  std::lock_guard lk(st_->mu);
  drain_wbio_locked(*st_);
  if (st_->sending) return st_->out.empty();  // the async writer sends the rest, in order
  std::size_t sent = 0;
  while (sent < st_->out.size()) {
    error_code wec;
    const std::size_t n = st_->socket.write_some(asio::buffer(st_->out.data() + sent, st_->out.size() - sent), wec);
    if (wec == asio::error::would_block || wec == asio::error::try_again) break;
    if (wec) {
      ec = wec;
      break;
    }
    sent += n;
  }
  st_->out.erase(0, sent);
  return st_->out.empty() && !ec;
}

void tls_transport::send_async(const std::shared_ptr<state>& st, std::function<void(error_code)> done) {
  std::lock_guard lk(st->mu);
  drain_wbio_locked(*st);
  st->waiters.push_back(std::move(done));
  if (!st->sending) start_send_locked(st);
}

// Sends `out`; when it is empty, completes the waiters (always through the executor: they take the
// connection's owner lock, which the caller may hold).
void tls_transport::start_send_locked(const std::shared_ptr<state>& st) {
  if (st->out.empty()) {
    for (auto& w : st->waiters) asio::post(st->socket.get_executor(), [w = std::move(w)] { w(error_code{}); });
    st->waiters.clear();
    return;
  }
  st->sending = true;
  st->in_flight.swap(st->out);
  asio::async_write(st->socket, asio::buffer(st->in_flight), [st](error_code ec, std::size_t) {
    std::vector<std::function<void(error_code)>> failed;
    {
      std::lock_guard lk(st->mu);
      st->sending = false;
      st->in_flight.clear();
      if (!ec) return start_send_locked(st);
      failed.swap(st->waiters);
    }
    for (auto& w : failed) w(ec);
  });
}

void tls_transport::shutdown_send() {
  // close_notify, then FIN once it is out: the peer reads every record before the end.
  ERR_clear_error();
  SSL_shutdown(st_->ssl);
  // A weak reference: the waiter is kept in the state itself until the records are out, and the
  // workers may stop first (daemon shutdown): a strong one would keep the state alive forever.
  send_async(st_, [weak = std::weak_ptr<state>(st_)](error_code) {
    if (const auto st = weak.lock()) {
      error_code ec;
      st->socket.shutdown(socket_type::shutdown_send, ec);
    }
  });
}

void tls_transport::close() {
  error_code ec;
  st_->socket.shutdown(socket_type::shutdown_both, ec);
  st_->socket.close(ec);
}

std::string tls_transport::remote_endpoint() const {
  error_code ec;
  auto ep = st_->socket.remote_endpoint(ec);
  return ec ? std::string("?") : config::format_endpoint(ep.address().to_string(), ep.port());
}

std::string tls_transport::verify_failure() const {
  if (!st_->ssl) return {};
  const long r = SSL_get_verify_result(st_->ssl);
  return r == X509_V_OK ? std::string() : std::string(X509_verify_cert_error_string(r));
}

// Subject fields by their short names (CN, O, OU, C, ST, L, ...); a field that occurs more than
// once (several OUs) keeps its first value. Only a certificate that verified against the
// configured CA counts: without a client CA OpenSSL does not ask for one at all.
std::optional<broker::peer_certificate> tls_transport::peer_certificate() const {
  if (!st_->ssl || SSL_get_verify_result(st_->ssl) != X509_V_OK) return std::nullopt;
  X509* cert = SSL_get0_peer_certificate(st_->ssl);
  if (!cert) return std::nullopt;
  broker::peer_certificate out;
  const X509_NAME* name = X509_get_subject_name(cert);
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const char* field = nid == NID_undef ? nullptr : OBJ_nid2sn(nid);
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (field && len >= 0) out.subject.emplace(field, std::string(reinterpret_cast<char*>(utf8), len));
    OPENSSL_free(utf8);
  }
  if (auto cn = out.subject.find("CN"); cn != out.subject.end()) out.subject_cn = cn->second;
  const auto thumbprint = [cert](const EVP_MD* md) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    std::string hex;
    if (X509_digest(cert, md, d, &n) != 1) return hex;
    static constexpr char digits[] = "0123456789ABCDEF";
    for (unsigned int i = 0; i < n; ++i) {
      hex.push_back(digits[d[i] >> 4]);
      hex.push_back(digits[d[i] & 0xF]);
    }
    return hex;
  };
  out.sha1_thumbprint = thumbprint(EVP_sha1());
  out.sha256_thumbprint = thumbprint(EVP_sha256());
  return out;
}

}  // namespace edgemq::net
