// The etcd gateway client (etcd_client.hpp). Everything below runs on the client's own
// io_context thread: the member rotation index, the idle connection pools and the live requests,
// watches and leases are touched there only, so they need no lock.
//
// Retries: a request is sent again to the next member after a failure that proves it was not
// executed (no connection, the request could not be written, a 503 "no leader"), and, when it
// changes nothing (ranges, read-only txns, keep-alives, watches), after any failure. A write whose
// outcome is unknown (the connection broke after it was sent) fails with `unavailable`: sending it
// again could apply it twice or make a compare see its own first effect.
#include "cluster/etcd_client.hpp"

#include <atomic>
#include <cerrno>
#include <future>
#include <map>
#include <set>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <sys/socket.h>

#include "cluster/connection_security_impl.hpp"
#include "cluster/etcd_watch_stream.hpp"
#include "text/text.hpp"

namespace edgemq::cluster {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

struct member {
  std::string host, port, url;
};

member parse_endpoint(const std::string& url) {
  std::string rest = url;
  if (auto p = rest.find("://"); p != std::string::npos) rest = rest.substr(p + 3);
  if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  member m;
  m.url = url;
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    m.host = rest.substr(0, colon);
    m.port = rest.substr(colon + 1);
  } else {
    m.host = rest;
    m.port = "2379";
  }
  return m;
}

bool changes_nothing(const std::string& path, const json& body) {
  if (path == "/v3/kv/range" || path == "/v3/lease/keepalive" || path == "/v3/lease/timetolive" ||
      path == "/v3/maintenance/status" || path == "/v3/auth/authenticate")
    return true;
  if (path != "/v3/kv/txn") return false;
  for (const char* branch : {"success", "failure"}) {
    auto it = body.find(branch);
    if (it == body.end()) continue;
    for (const auto& op : *it)
      if (!op.contains("request_range")) return false;
  }
  return true;
}

std::string message_of(const json& j, const std::string& fallback) {
  if (j.is_object()) {
    if (auto m = j.find("message"); m != j.end() && m->is_string()) return m->get<std::string>();
    if (auto e = j.find("error"); e != j.end() && e->is_string()) return e->get<std::string>();
  }
  return fallback;
}

}  // namespace

// A connection to a member, through TLS for https:// members. Beast reads and writes it as a
// stream (async_read_some/async_write_some below); `sock` is its TCP socket either way.
struct connection {
  connection(asio::io_context& io, asio::ssl::context& ctx, bool use_tls)
      : stream(io, ctx), tls(use_tls), sock(stream.next_layer()) {}
  asio::ssl::stream<tcp::socket> stream;
  bool tls;
  tcp::socket& sock;
  boost::beast::flat_buffer buf;

  using executor_type = tcp::socket::executor_type;
  executor_type get_executor() { return sock.get_executor(); }
  template <class Buffers, class Handler>
  void async_read_some(const Buffers& b, Handler&& h) {
    if (tls)
      stream.async_read_some(b, std::forward<Handler>(h));
    else
      sock.async_read_some(b, std::forward<Handler>(h));
  }
  template <class Buffers, class Handler>
  void async_write_some(const Buffers& b, Handler&& h) {
    if (tls)
      stream.async_write_some(b, std::forward<Handler>(h));
    else
      sock.async_write_some(b, std::forward<Handler>(h));
  }
};

struct etcd_client::impl {
  explicit impl(etcd_options o)
      : opts(std::move(o)),
        tls(!opts.endpoints.empty() && url_uses_tls(opts.endpoints.front())),
        tls_context(tls ? make_client_tls_context(opts.security)
                        : std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client)),
        resolver(io),
        guard(io.get_executor()) {
    for (const auto& e : opts.endpoints) members.push_back(parse_endpoint(e));
    if (members.empty()) members.push_back(parse_endpoint("http://127.0.0.1:2379"));
    idle.resize(members.size());
    thread = std::thread([this] { io.run(); });
  }

  struct request_op;
  struct watch_op;
  struct lease_op;

  etcd_options opts;
  bool tls;
  std::shared_ptr<asio::ssl::context> tls_context;
  std::vector<member> members;
  asio::io_context io;
  tcp::resolver resolver;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  std::thread thread;
  // I/O thread only from here.
  std::size_t current = 0;
  bool stopping = false;
  std::vector<std::vector<std::shared_ptr<connection>>> idle;
  std::set<std::shared_ptr<request_op>> requests;
  std::map<watch_id, std::shared_ptr<watch_op>> watches;
  std::map<std::int64_t, std::shared_ptr<lease_op>> leases;
  std::atomic<watch_id> next_watch{1};
  // etcd authentication (an etcd user set): the token, and who waits for the one being asked for.
  std::string token;
  bool authenticating = false;
  std::vector<std::function<void(const etcd_error&)>> token_waiters;

  bool needs_auth() const { return !opts.security.etcd_user.empty(); }
  // Calls `then` once a token is at hand (at once without an etcd user), or with why not.
  void with_token(std::function<void(const etcd_error&)> then);

  void rotate_from(std::size_t failed) {
    if (current == failed) current = (failed + 1) % members.size();
    idle[failed].clear();  // its other connections are likely broken too
  }

  // A pooled connection whose peer has not closed it (a FIN or an RST is waiting), or null.
  std::shared_ptr<connection> take_idle(std::size_t m) {
    while (!idle[m].empty()) {
      auto c = std::move(idle[m].back());
      idle[m].pop_back();
      // Peeks without blocking: nothing to read (EAGAIN) is the only sign of a usable connection.
      char byte;
      const auto n = ::recv(c->sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return c;
    }
    return nullptr;
  }

  // A connection to member `m`, TLS handshake done for https://; on failure `why` says what failed.
  using connected = std::function<void(boost::system::error_code, std::shared_ptr<connection>, std::string why)>;
  void connect(std::size_t m, connected done) {
    auto c = std::make_shared<connection>(io, *tls_context, tls);
    resolver.async_resolve(
        members[m].host, members[m].port,
        [this, m, c = std::move(c), done = std::move(done)](boost::system::error_code ec,
                                                            tcp::resolver::results_type results) mutable {
          if (ec) return done(ec, nullptr, "cannot connect to " + members[m].url);
          auto* raw = c.get();
          asio::async_connect(
              raw->sock, results,
              [this, m, c = std::move(c), done = std::move(done)](boost::system::error_code ec2,
                                                                  const tcp::endpoint&) mutable {
                if (!ec2) c->sock.set_option(tcp::no_delay(true), ec2);
                if (ec2) return done(ec2, nullptr, "cannot connect to " + members[m].url);
                if (!c->tls) return done(ec2, std::move(c), "");
                std::string why;
                if (!prepare_tls(c->stream.native_handle(), members[m].host, why))
                  return done(asio::error::invalid_argument, nullptr, why);
                auto* raw2 = c.get();
                raw2->stream.async_handshake(
                    asio::ssl::stream_base::client,
                    [this, m, c = std::move(c), done = std::move(done)](boost::system::error_code ec3) mutable {
                      if (!ec3) return done(ec3, std::move(c), "");
                      done(ec3, nullptr, describe_tls_failure(members[m].url, c->stream.native_handle(), ec3));
                    });
              });
        });
  }

  http::request<http::string_body> make_request(std::size_t m, const std::string& path, std::string body) const {
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, members[m].host + ":" + members[m].port);
    req.set(http::field::content_type, "application/json");
    if (!token.empty() && path != "/v3/auth/authenticate") req.set(http::field::authorization, token);
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
  }
};

// ---------------------------------------------------------------------------------------------
// One unary request: tries members in turn until one answers, or the deadline passes.

struct etcd_client::impl::request_op : std::enable_shared_from_this<request_op> {
  request_op(impl& c, std::string p, json b, reply d)
      : client(c),
        path(std::move(p)),
        body(b.dump()),
        retry_anywhere(changes_nothing(path, b)),
        done(std::move(d)),
        deadline(clock_type::now() + c.opts.request_timeout),
        timer(c.io),
        pause(c.io),
        attempt_timer(c.io) {}

  impl& client;
  std::string path, body;
  bool retry_anywhere;
  reply done;
  clock_type::time_point deadline;
  asio::steady_timer timer, pause;
  // A request that changes nothing gives each member a third of the deadline: an isolated
  // member that never answers must not use up the time another would answer in.
  asio::steady_timer attempt_timer;
  std::uint64_t attempt_gen = 0;  // handlers of an abandoned attempt see a newer one and stop
  std::shared_ptr<connection> conn;
  std::size_t member = 0;
  std::size_t tried_this_round = 0;
  bool finished = false, timed_out = false;
  http::request<http::string_body> req;
  std::string last_problem = "no member answered";
  bool reauthenticated = false;  // a refused token is renewed once per request

  void start() {
    timer.expires_at(deadline);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->finished) return;
      self->timed_out = true;
      if (self->conn) self->conn->sock.close(ec);
      // Also while connecting: a partitioned member may never answer the SYN.
      self->unavailable(self->last_problem + " within " + std::to_string(self->client.opts.request_timeout.count()) +
                        " ms");
    });
    if (path == "/v3/auth/authenticate") return attempt();
    client.with_token([self = shared_from_this()](const etcd_error& err) {
      if (self->finished) return;
      if (err) return self->finish(err, json());
      self->attempt();
    });
  }

  void finish(const etcd_error& err, json answer) {
    if (finished) return;
    finished = true;
    timer.cancel();
    pause.cancel();
    attempt_timer.cancel();
    auto self = shared_from_this();
    client.requests.erase(self);
    auto cb = std::move(done);
    if (cb) cb(err, std::move(answer));
  }

  void unavailable(const std::string& why) {
    finish({etcd_error::kind::unavailable, "etcd unavailable: " + why}, json());
  }

  void attempt() {
    if (client.stopping) return unavailable("client stopping");
    if (timed_out || clock_type::now() >= deadline)
      return unavailable(last_problem + " within " + std::to_string(client.opts.request_timeout.count()) + " ms");
    if (tried_this_round >= client.members.size()) {
      // Every member failed once: give the cluster a moment (an election takes about a second).
      tried_this_round = 0;
      pause.expires_after(std::chrono::milliseconds(100));
      pause.async_wait([self = shared_from_this()](boost::system::error_code) {
        if (!self->finished) self->attempt();
      });
      return;
    }
    ++tried_this_round;
    member = client.current;
    const auto gen = ++attempt_gen;
    if (retry_anywhere) {
      attempt_timer.expires_after(std::max(client.opts.request_timeout / 3, std::chrono::milliseconds(200)));
      attempt_timer.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
        if (ec || self->finished || gen != self->attempt_gen) return;
        if (self->conn) {
          boost::system::error_code ignored;
          self->conn->sock.close(ignored);
        }
        self->failed_after_sending("no answer from " + self->client.members[self->member].url + " in time");
      });
    }
    req = client.make_request(member, path, body);
    if ((conn = client.take_idle(member))) return send(gen);
    client.connect(member, [self = shared_from_this(), gen](boost::system::error_code ec, std::shared_ptr<connection> c,
                                                            const std::string& why) {
      if (self->finished || gen != self->attempt_gen) return;
      if (ec) return self->failed_before_sending(why);
      self->conn = std::move(c);
      if (self->timed_out) return self->attempt();
      self->send(gen);
    });
  }

  void failed_before_sending(const std::string& why) {
    ++attempt_gen;
    last_problem = why;
    conn.reset();
    client.rotate_from(member);
    attempt();
  }

  void failed_after_sending(const std::string& why) {
    ++attempt_gen;
    conn.reset();
    client.rotate_from(member);
    if (!retry_anywhere) return unavailable(why + " (outcome unknown)");
    last_problem = why;
    attempt();
  }

  // Each pending operation holds its connection (`c`): an attempt abandoned by a timer drops the
  // op's reference, and the socket and buffer live until the cancelled operation has completed.
  void send(std::uint64_t gen) {
    auto c = conn;
    http::async_write(*c, req, [self = shared_from_this(), gen, c](boost::system::error_code ec, std::size_t) {
      if (self->finished || gen != self->attempt_gen) return;
      if (ec) return self->failed_before_sending("cannot write to " + self->client.members[self->member].url);
      auto res = std::make_shared<http::response<http::string_body>>();
      http::async_read(*c, c->buf, *res, [self, gen, c, res](boost::system::error_code ec2, std::size_t) {
        if (gen == self->attempt_gen) self->on_answer(ec2, *res);
      });
    });
  }

  void on_answer(boost::system::error_code ec, const http::response<http::string_body>& res) {
    if (finished) return;
    attempt_timer.cancel();
    const auto& url = client.members[member].url;
    if (ec) return failed_after_sending("no answer from " + url);
    auto answer = json::parse(res.body(), nullptr, false);
    const auto status = res.result_int();
    if (status == 503) {
      const auto why = message_of(answer, "503") + " at " + url;
      // "no leader": the member did not propose it, so any request may go elsewhere.
      if (why.find("no leader") != std::string::npos) return failed_before_sending(why);
      return failed_after_sending(why);
    }
    if (res.keep_alive()) client.idle[member].push_back(std::move(conn));
    conn.reset();
    // The token was refused (expired, or etcd restarted): ask for a new one and send again, once.
    // etcd executed nothing, so a write is safe to send again too.
    if (client.needs_auth() && path != "/v3/auth/authenticate" && !reauthenticated &&
        etcd_token_rejected(status, answer)) {
      reauthenticated = true;
      if (req[http::field::authorization] == client.token) client.token.clear();
      --tried_this_round;
      return client.with_token([self = shared_from_this()](const etcd_error& err) {
        if (self->finished) return;
        if (err) return self->finish(err, json());
        self->attempt();
      });
    }
    if (status != 200 || answer.is_discarded()) {
      // The reason first: the answer is moved into the call (argument order is unspecified).
      auto why = message_of(answer, "HTTP " + std::to_string(status));
      return finish({etcd_error::kind::refused, std::move(why)}, std::move(answer));
    }
    finish({}, std::move(answer));
  }
};

// ---------------------------------------------------------------------------------------------
// A streaming watch: one long-lived connection, reopened on the next member from the revision
// after the last one seen.

struct etcd_client::impl::watch_op : std::enable_shared_from_this<watch_op> {
  watch_op(impl& c, watch_id i, std::string k, std::string e, std::int64_t rev,
           std::function<void(const json&, std::int64_t)> ev, std::function<void(const etcd_error&)> er)
      : client(c),
        id(i),
        key(std::move(k)),
        range_end(std::move(e)),
        next_revision(rev),
        on_events(std::move(ev)),
        on_error(std::move(er)),
        pause(c.io),
        opening(c.io) {}

  impl& client;
  watch_id id;
  std::string key, range_end;
  std::int64_t next_revision;
  std::function<void(const json&, std::int64_t)> on_events;
  std::function<void(const etcd_error&)> on_error;
  asio::steady_timer pause;
  asio::steady_timer opening;  // a member that does not answer the watch within the request timeout is left
  std::shared_ptr<connection> conn;
  std::size_t member = 0;
  bool cancelled = false;
  std::uint64_t generation = 0;  // handlers of an abandoned stream see a newer one and stop
  http::request<http::string_body> req;
  std::shared_ptr<http::response_parser<http::buffer_body>> parser;  // held by its pending read too
  char chunk[16384];
  line_splitter lines;

  void open() {
    if (cancelled || client.stopping) return;
    if (client.needs_auth() && client.token.empty()) {
      return client.with_token([self = shared_from_this(), gen = ++generation](const etcd_error& err) {
        if (self->cancelled || gen != self->generation) return;
        if (err) return self->broken(err.message);
        self->open();
      });
    }
    ++generation;
    member = client.current;
    json create = {{"key", b64(key)}};
    if (!range_end.empty()) create["range_end"] = b64(range_end);
    if (next_revision > 0) create["start_revision"] = std::to_string(next_revision);
    req = client.make_request(member, "/v3/watch", json{{"create_request", create}}.dump());
    // A member cut off from its leader ends the stream instead of going quiet (reference §3.4).
    req.set("Grpc-Metadata-hasleader", "true");
    opening.expires_after(client.opts.request_timeout);
    opening.async_wait([self = shared_from_this(), gen = generation](boost::system::error_code ec) {
      if (!ec && !self->cancelled && gen == self->generation)
        self->broken("no watch answer from " + self->client.members[self->member].url);
    });
    client.connect(member, [self = shared_from_this(), gen = generation](
                               boost::system::error_code ec, std::shared_ptr<connection> c, const std::string& why) {
      if (self->cancelled || gen != self->generation) return;
      if (ec) return self->broken(why);
      self->conn = c;
      // Pending operations hold the connection and parser they use (see request_op::send).
      http::async_write(*c, self->req, [self, gen, c](boost::system::error_code ec2, std::size_t) {
        if (self->cancelled || gen != self->generation) return;
        if (ec2) return self->broken("cannot write to " + self->client.members[self->member].url);
        auto p = std::make_shared<http::response_parser<http::buffer_body>>();
        p->body_limit(boost::none);
        self->parser = p;
        self->lines = {};
        http::async_read_header(*c, c->buf, *p, [self, gen, c, p](boost::system::error_code ec3, std::size_t) {
          if (self->cancelled || gen != self->generation) return;
          if (!ec3 && self->parser->get().result_int() == 401) self->client.token.clear();
          if (ec3 || self->parser->get().result_int() != 200)
            return self->broken("watch refused by " + self->client.members[self->member].url);
          self->opening.cancel();
          self->read_more(gen);
        });
      });
    });
  }

  void read_more(std::uint64_t gen) {
    parser->get().body().data = chunk;
    parser->get().body().size = sizeof chunk;
    http::async_read_some(
        *conn, conn->buf, *parser,
        [self = shared_from_this(), gen, c = conn, p = parser](boost::system::error_code ec, std::size_t) {
          if (self->cancelled || gen != self->generation) return;
          if (ec && ec != http::error::need_buffer) return self->broken("watch stream broken");
          const auto got = sizeof self->chunk - self->parser->get().body().size;
          for (auto& line : self->lines.feed({self->chunk, got}))
            if (!self->handle(line)) return;
          if (self->parser->is_done()) return self->broken("watch stream ended");
          self->read_more(gen);
        });
  }

  // False: the stream is over (reopened elsewhere, or cancelled).
  bool handle(const std::string& line) {
    auto m = parse_watch_line(line);
    if (!m) return true;
    next_revision = next_watch_revision(next_revision, *m);
    switch (m->type) {
      case watch_message::kind::error:
        if (m->error.find("invalid auth token") != std::string::npos) client.token.clear();
        broken("watch ended by " + client.members[member].url + ": " + m->error);
        return false;
      case watch_message::kind::canceled:
        if (on_error) on_error({etcd_error::kind::refused, "etcd watch canceled: " + m->error});
        if (cancelled) return false;
        broken("watch canceled");
        return false;
      case watch_message::kind::events:
        if (on_events) on_events(m->events, m->header_revision);
        return !cancelled;
      default:
        return true;
    }
  }

  void broken(const std::string& why) {
    if (conn) {
      boost::system::error_code ec;
      conn->sock.close(ec);
      conn.reset();
    }
    ++generation;
    client.rotate_from(member);
    if (cancelled || client.stopping) return;
    if (on_error) on_error({etcd_error::kind::unavailable, "etcd unavailable: " + why});
    if (cancelled) return;
    pause.expires_after(std::chrono::milliseconds(200));
    pause.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->open();
    });
  }

  void cancel() {
    cancelled = true;
    ++generation;
    pause.cancel();
    opening.cancel();
    if (conn) {
      boost::system::error_code ec;
      conn->sock.close(ec);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// A lease kept alive every ttl/3 until revoked; lost when etcd says so or no keep-alive worked
// within the TTL.

struct etcd_client::impl::lease_op : std::enable_shared_from_this<lease_op> {
  lease_op(impl& c, std::int64_t i, std::int64_t t, std::function<void()> lost)
      : client(c), id(i), ttl_s(t), on_lost(std::move(lost)), timer(c.io), last_ok(clock_type::now()) {}
  impl& client;
  std::int64_t id, ttl_s;
  std::function<void()> on_lost;
  asio::steady_timer timer;
  clock_type::time_point last_ok;
  bool ended = false;

  void schedule() {
    timer.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(ttl_s * 1000 / 3, 100)));
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->ended) self->keep_alive();
    });
  }

  void keep_alive() {
    auto op = std::make_shared<request_op>(
        client, "/v3/lease/keepalive", json{{"ID", std::to_string(id)}},
        [self = shared_from_this()](const etcd_error& err, json answer) {
          if (self->ended) return;
          if (!err) {
            const auto ttl = json_int(answer.value("result", json::object()), "TTL");
            if (ttl <= 0) return self->lose();  // etcd no longer knows it
            self->last_ok = clock_type::now();
          } else if (clock_type::now() - self->last_ok >= std::chrono::seconds(self->ttl_s)) {
            return self->lose();
          }
          self->schedule();
        });
    client.requests.insert(op);
    op->start();
  }

  void lose() {
    if (ended) return;
    ended = true;
    timer.cancel();
    client.leases.erase(id);
    if (on_lost) on_lost();
  }
};

// ---------------------------------------------------------------------------------------------

void etcd_client::impl::with_token(std::function<void(const etcd_error&)> then) {
  if (!needs_auth() || !token.empty()) return then({});
  token_waiters.push_back(std::move(then));
  if (authenticating) return;
  authenticating = true;
  auto op = std::make_shared<request_op>(
      *this, "/v3/auth/authenticate", etcd_authenticate_body(opts.security),
      [this](const etcd_error& err, json answer) {
        authenticating = false;
        etcd_error result = err;
        if (!err) {
          if (auto t = answer.find("token"); t != answer.end() && t->is_string() && !t->get<std::string>().empty())
            token = t->get<std::string>();
          else
            result = {etcd_error::kind::refused, "etcd gave no auth token"};
        }
        // Never the password: etcd's reason names the user at most.
        if (result.code == etcd_error::kind::refused)
          result.message = "etcd refused user '" + opts.security.etcd_user + "': " + result.message;
        auto waiting = std::move(token_waiters);
        token_waiters.clear();
        for (auto& w : waiting) w(result);
      });
  requests.insert(op);
  op->start();
}

etcd_client::etcd_client(etcd_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

etcd_client::~etcd_client() {
  auto& c = *impl_;
  std::promise<void> stopped;
  asio::post(c.io, [&c, &stopped] {
    c.stopping = true;
    for (auto& [id, w] : c.watches) w->cancel();
    c.watches.clear();
    for (auto& [id, l] : c.leases) {
      l->ended = true;
      l->timer.cancel();
    }
    c.leases.clear();
    auto pending = c.requests;  // finish() erases from the set
    for (auto& op : pending) op->unavailable("client stopping");
    for (auto& pool : c.idle) pool.clear();
    stopped.set_value();
  });
  stopped.get_future().wait();
  c.guard.reset();
  c.io.stop();  // handlers still queued belong to finished operations
  c.thread.join();
}

void etcd_client::call(std::string path, nlohmann::json body, reply done) {
  auto& c = *impl_;
  asio::post(c.io, [&c, path = std::move(path), body = std::move(body), done = std::move(done)]() mutable {
    if (c.stopping) {
      if (done) done({etcd_error::kind::unavailable, "etcd unavailable: client stopping"}, json());
      return;
    }
    auto op = std::make_shared<impl::request_op>(c, std::move(path), std::move(body), std::move(done));
    c.requests.insert(op);
    op->start();
  });
}

std::pair<etcd_error, nlohmann::json> etcd_client::call_sync(std::string path, nlohmann::json body) {
  std::promise<std::pair<etcd_error, json>> p;
  auto f = p.get_future();
  call(std::move(path), std::move(body), [&p](const etcd_error& e, json answer) {
    p.set_value({e, std::move(answer)});
  });
  return f.get();
}

etcd_client::watch_id etcd_client::watch(std::string key, std::string range_end, std::int64_t start_revision,
                                         std::function<void(const nlohmann::json&, std::int64_t)> on_events,
                                         std::function<void(const etcd_error&)> on_error) {
  auto& c = *impl_;
  const watch_id id = c.next_watch.fetch_add(1);
  asio::post(c.io, [&c, id, key = std::move(key), range_end = std::move(range_end), start_revision,
                    on_events = std::move(on_events), on_error = std::move(on_error)]() mutable {
    if (c.stopping) return;
    auto w = std::make_shared<impl::watch_op>(c, id, std::move(key), std::move(range_end), start_revision,
                                              std::move(on_events), std::move(on_error));
    c.watches.emplace(id, w);
    w->open();
  });
  return id;
}

void etcd_client::cancel_watch(watch_id id) {
  auto& c = *impl_;
  std::promise<void> done;
  const bool on_io_thread = std::this_thread::get_id() == c.thread.get_id();
  auto cancel = [&c, id] {
    if (auto it = c.watches.find(id); it != c.watches.end()) {
      it->second->cancel();
      c.watches.erase(it);
    }
  };
  if (on_io_thread) return cancel();
  // Waits, so that no callback of the watch runs once this returns.
  asio::post(c.io, [&cancel, &done] {
    cancel();
    done.set_value();
  });
  done.get_future().wait();
}

void etcd_client::grant_lease(std::int64_t ttl_s, std::function<void(const etcd_error&, std::int64_t)> done,
                              std::function<void()> on_lost) {
  auto& c = *impl_;
  call("/v3/lease/grant", json{{"TTL", std::to_string(ttl_s)}},
       [&c, done = std::move(done), on_lost = std::move(on_lost)](const etcd_error& err, json answer) mutable {
         if (err) return done(err, 0);
         const auto id = json_int(answer, "ID");
         const auto ttl = std::max<std::int64_t>(json_int(answer, "TTL"), 1);
         if (id == 0) return done({etcd_error::kind::refused, message_of(answer, "lease not granted")}, 0);
         auto l = std::make_shared<impl::lease_op>(c, id, ttl, std::move(on_lost));
         c.leases.emplace(id, l);
         l->schedule();
         done({}, id);
       });
}

void etcd_client::revoke_lease(std::int64_t lease_id) {
  auto& c = *impl_;
  asio::post(c.io, [&c, lease_id] {
    if (auto it = c.leases.find(lease_id); it != c.leases.end()) {
      it->second->ended = true;
      it->second->timer.cancel();
      c.leases.erase(it);
    }
  });
  call("/v3/lease/revoke", json{{"ID", std::to_string(lease_id)}}, [](const etcd_error&, json) {});
}

// ---------------------------------------------------------------------------------------------

std::string etcd_client::b64(std::string_view raw) {
  return text::base64_encode(raw);
}

std::string etcd_client::unb64(std::string_view encoded) {
  return text::base64_decode(encoded).value_or(std::string());
}

std::string etcd_client::prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xFF) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key (etcd's "\0" range end)
}

}  // namespace edgemq::cluster
