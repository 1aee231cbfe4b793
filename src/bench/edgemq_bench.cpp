// edgemq-bench: an MQTT load generator in the spirit of emqtt-bench. Scenarios: pairs (N
// publishers each to its own topic, N subscribers), fanout (1 publisher, N subscribers on one
// topic), fanin (N publishers, 1 subscriber on a wildcard), conns (N idle connections at a
// connect rate), latency (one pair at a fixed rate). Every connection is non-blocking on one of a
// few epoll threads; each thread writes what it has for a connection in one send() per loop turn,
// so the generator is not the bottleneck. Works against any MQTT broker (3.1.1 or 5), over plain
// TCP or TLS (--tls, with OpenSSL: bench_tls.hpp).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench_tls.hpp"
#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace {

using namespace edgemq;
using clk = std::chrono::steady_clock;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now().time_since_epoch()).count());
}

struct options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::string scenario = "pairs";
  int n = 100;
  int qos = 0;
  int version = 5;
  std::size_t payload = 64;
  double duration = 10;
  double rate = 0;    // per publisher, msgs/s; 0: as fast as the window allows
  int inflight = 16;  // per publisher: QoS 1/2 unacknowledged, QoS 0 not yet delivered
  int threads = 2;
  double connect_rate = 2000;  // connections per second (0: unlimited)
  bool tls = false;
  bench::tls_client_options tls_opts;
  // Cluster runs (src/bench/cluster_compare.py): subscribers connect to these ports in turn
  // (other nodes), publishers to `port`; `settle` seconds let the subscriptions cross the
  // cluster before publishing starts.
  std::vector<std::uint16_t> sub_ports;
  double settle = 0;
  std::uint32_t session_expiry = 0;  // subscribers' Session Expiry Interval (0: none)
};

// Set when --tls: every connection runs a TLS handshake first.
std::unique_ptr<bench::tls_client_context> tls_ctx;

int tcp_connect(const options& o) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(o.port);
  ::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Plain TCP or TLS on one socket: what the set-up and the worker loop send and receive through.
// Set-up runs on blocking sockets; the loop makes them non-blocking (TLS cannot be told per call).
// Both return bytes moved, 0 for "would block", -1 for an error or the peer's close.
struct channel_io {
  int fd = -1;
  ssl_st* ssl = nullptr;
  long send(const char* p, std::size_t n) const {
    if (ssl) return bench::tls_write(ssl, p, n);
    const auto r = ::send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r >= 0) return r;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  }
  long recv(char* p, std::size_t n) const {
    if (ssl) return bench::tls_read(ssl, p, n);
    const auto r = ::recv(fd, p, n, MSG_DONTWAIT);
    if (r > 0) return r;
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
  }
  // Blocking, during set-up only.
  long recv_blocking(char* p, std::size_t n) const {
    if (ssl) return bench::tls_read(ssl, p, n);
    const auto r = ::recv(fd, p, n, 0);
    return r > 0 ? r : -1;
  }
};

void write_all(const channel_io& io, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const auto n = io.ssl ? bench::tls_write(io.ssl, s.data() + off, s.size() - off)
                          : ::send(io.fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed during setup");
    off += static_cast<std::size_t>(n);
  }
}

// Blocking read of one packet during setup.
mqtt::packet read_packet(const channel_io& io, std::string& buf, mqtt::protocol_version v) {
  for (;;) {
    auto f = mqtt::parse_frame({reinterpret_cast<const std::uint8_t*>(buf.data()), buf.size()}, 1u << 28);
    if (f.status == mqtt::frame_status::complete) {
      auto p = mqtt::decode(f.value.header, f.value.body, v);
      buf.erase(0, f.value.size);
      if (!p) throw std::runtime_error("undecodable packet during setup");
      return *p;
    }
    char tmp[4096];
    const auto n = io.recv_blocking(tmp, sizeof tmp);
    if (n <= 0) throw std::runtime_error("connection closed during setup");
    buf.append(tmp, static_cast<std::size_t>(n));
  }
}

struct conn;

struct publisher_state {
  std::string topic;
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;  // QoS 1/2 flows completed
  std::uint16_t next_id = 1;
  double next_at = 0;  // rate mode: seconds since start of the next send
};

struct conn {
  conn() = default;
  conn(const conn&) = delete;
  conn& operator=(const conn&) = delete;
  ~conn() { bench::tls_free(io.ssl); }  // the socket closes when the process ends, as without TLS
  channel_io io;
  bool subscriber = false;
  std::string in;
  std::string out;
  publisher_state pub;
  std::vector<std::uint16_t> pending_rel;  // QoS 2 receiver side
};

struct shared_stats {
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<bool> stop{false};
};

struct thread_result {
  std::vector<std::uint32_t> latencies_us;
  std::uint64_t delivered = 0;
};

class worker {
 public:
  worker(const options& o, shared_stats& st, std::vector<std::unique_ptr<conn>> conns, std::uint64_t window_base)
      : o_(o), st_(st), conns_(std::move(conns)), window_base_(window_base) {
    ep_ = ::epoll_create1(0);
    for (auto& c : conns_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = c.get();
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, c->io.fd, &ev);
      if (c->io.ssl) ::fcntl(c->io.fd, F_SETFL, ::fcntl(c->io.fd, F_GETFL) | O_NONBLOCK);
    }
    res_.latencies_us.reserve(1 << 20);
  }
  ~worker() { ::close(ep_); }

  void run(clk::time_point start, clk::time_point end) {
    const auto v = o_.version == 5 ? mqtt::protocol_version::v5 : mqtt::protocol_version::v311;
    std::string payload(std::max<std::size_t>(o_.payload, 16), 'x');
    epoll_event evs[256];
    while (clk::now() < end && !st_.stop.load(std::memory_order_relaxed)) {
      const double t = std::chrono::duration<double>(clk::now() - start).count();
      // Each connection is sent right after its messages are stamped: the latency measured
      // does not include the sends of the thread's other connections.
      for (auto& c : conns_) {
        if (!c->subscriber && !c->pub.topic.empty()) top_up(*c, v, payload, t);
        flush(*c);
      }
      const int n = ::epoll_wait(ep_, evs, 256, 1);
      for (int i = 0; i < n; ++i) on_readable(*static_cast<conn*>(evs[i].data.ptr), v);
    }
  }

  thread_result& result() { return res_; }
  std::uint64_t pub_sent() const {
    std::uint64_t s = 0;
    for (auto& c : conns_) s += c->pub.sent;
    return s;
  }

 private:
  void top_up(conn& c, mqtt::protocol_version v, std::string& payload, double t) {
    int budget = 64;  // per loop turn, so reads are not starved
    while (budget-- > 0) {
      if (o_.rate > 0) {
        if (t < c.pub.next_at) return;
        c.pub.next_at += 1.0 / o_.rate;
      }
      if (o_.qos > 0) {
        if (c.pub.sent - c.pub.acked >= static_cast<std::uint64_t>(o_.inflight)) return;
      } else if (o_.rate == 0) {
        // QoS 0 has no acknowledgement: bound what is outstanding by what subscribers received.
        const auto delivered = st_.delivered.load(std::memory_order_relaxed);
        if (total_sent_.load(std::memory_order_relaxed) >
            delivered / window_base_ + std::uint64_t(o_.inflight) * publishers_hint_)
          return;
      }
      const std::uint64_t stamp = now_ns();
      std::memcpy(payload.data(), &stamp, 8);
      mqtt::publish_head h;
      h.topic = c.pub.topic;
      h.qos = static_cast<mqtt::qos>(o_.qos);
      if (o_.qos > 0) {
        h.packet_id = c.pub.next_id;
        c.pub.next_id = static_cast<std::uint16_t>(c.pub.next_id == 65535 ? 1 : c.pub.next_id + 1);
      }
      h.payload_size = payload.size();
      mqtt::encode_publish_head(h, v, c.out);
      c.out += payload;
      ++c.pub.sent;
      total_sent_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void flush(conn& c) {
    // TLS takes at most a record's worth per call: go on while it takes everything offered.
    while (!c.out.empty()) {
      const auto n = c.io.send(c.out.data(), c.out.size());
      if (n < 0) {
        st_.errors.fetch_add(1);
        c.out.clear();
        return;
      }
      c.out.erase(0, static_cast<std::size_t>(n));
      if (n == 0 || !c.io.ssl) return;
    }
  }

  void on_readable(conn& c, mqtt::protocol_version v) {
    char buf[65536];
    for (;;) {
      const auto n = c.io.recv(buf, sizeof buf);
      if (n <= 0) {
        if (n < 0) {
          st_.errors.fetch_add(1);
          ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.io.fd, nullptr);
        }
        break;
      }
      c.in.append(buf, static_cast<std::size_t>(n));
      // TLS returns one record at a time, and what OpenSSL holds wakes no epoll: read it all.
      if (!c.io.ssl && static_cast<std::size_t>(n) < sizeof buf) break;
    }
    std::size_t used = 0;
    const auto now = now_ns();
    for (;;) {
      auto f =
          mqtt::parse_frame({reinterpret_cast<const std::uint8_t*>(c.in.data()) + used, c.in.size() - used}, 1u << 28);
      if (f.status != mqtt::frame_status::complete) {
        if (f.status == mqtt::frame_status::error) st_.errors.fetch_add(1);
        break;
      }
      used += f.value.size;
      handle(c, f.value, v, now);
    }
    c.in.erase(0, used);
  }

  void handle(conn& c, const mqtt::frame& f, mqtt::protocol_version v, std::uint64_t now) {
    const auto type = f.type();
    const auto body = f.body;
    if (type == mqtt::packet_type::publish) {
      const int q = (f.header >> 1) & 3;
      if (body.size() < 2) return;
      std::size_t pos = 2 + (static_cast<std::size_t>(body[0]) << 8 | body[1]);
      std::uint16_t id = 0;
      if (q > 0) {
        id = static_cast<std::uint16_t>(body[pos] << 8 | body[pos + 1]);
        pos += 2;
      }
      if (v == mqtt::protocol_version::v5) {
        std::uint32_t len = 0;
        int shift = 0;
        while (pos < body.size()) {
          const auto b = body[pos++];
          len |= static_cast<std::uint32_t>(b & 0x7F) << shift;
          shift += 7;
          if (!(b & 0x80)) break;
        }
        pos += len;
      }
      if (pos + 8 <= body.size()) {
        std::uint64_t stamp;
        std::memcpy(&stamp, body.data() + pos, 8);
        if (res_.latencies_us.size() < (1u << 24))
          res_.latencies_us.push_back(static_cast<std::uint32_t>((now - stamp) / 1000));
      }
      ++res_.delivered;
      st_.delivered.fetch_add(1, std::memory_order_relaxed);
      if (q == 1) mqtt::encode(mqtt::puback{id, mqtt::reason_code::success, {}}, v, c.out);
      if (q == 2) mqtt::encode(mqtt::pubrec{id, mqtt::reason_code::success, {}}, v, c.out);
    } else if (type == mqtt::packet_type::puback || type == mqtt::packet_type::pubcomp) {
      ++c.pub.acked;
    } else if (type == mqtt::packet_type::pubrec) {
      const auto id = static_cast<std::uint16_t>(body[0] << 8 | body[1]);
      mqtt::encode(mqtt::pubrel{id, mqtt::reason_code::success, {}}, v, c.out);
    } else if (type == mqtt::packet_type::pubrel) {
      const auto id = static_cast<std::uint16_t>(body[0] << 8 | body[1]);
      mqtt::encode(mqtt::pubcomp{id, mqtt::reason_code::success, {}}, v, c.out);
    } else if (type == mqtt::packet_type::disconnect) {
      st_.errors.fetch_add(1);
    }
  }

 public:
  static std::atomic<std::uint64_t> total_sent_;
  static std::uint64_t publishers_hint_;

 private:
  const options& o_;
  shared_stats& st_;
  std::vector<std::unique_ptr<conn>> conns_;
  std::uint64_t window_base_;
  int ep_ = -1;
  thread_result res_;
};

std::atomic<std::uint64_t> worker::total_sent_{0};
std::uint64_t worker::publishers_hint_ = 1;

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::unique_ptr<conn> open_client(const options& o, const std::string& id, const std::string* subscribe_filter,
                                  std::uint16_t keep_alive = 60) {
  auto c = std::make_unique<conn>();
  c->io.fd = tcp_connect(o);
  if (tls_ctx) c->io.ssl = tls_ctx->handshake(c->io.fd);
  const auto v = o.version == 5 ? mqtt::protocol_version::v5 : mqtt::protocol_version::v311;
  mqtt::connect cn;
  cn.version = v;
  cn.client_id = id;
  cn.keep_alive = keep_alive;
  // Subscribers with a persistent session (--session-expiry): what a cluster waits for before a
  // QoS 1/2 acknowledgement (ADR 0038). Clean start: every run begins with an empty session.
  if (subscribe_filter && o.session_expiry) {
    if (v == mqtt::protocol_version::v5)
      cn.props.session_expiry_interval = o.session_expiry;
    else
      cn.clean_start = false;
  }
  std::string out;
  mqtt::encode(cn, v, out);
  write_all(c->io, out);
  auto ack = read_packet(c->io, c->in, v);
  if (!std::holds_alternative<mqtt::connack>(ack) || std::get<mqtt::connack>(ack).code != mqtt::reason_code::success)
    throw std::runtime_error("CONNECT refused for " + id);
  if (subscribe_filter) {
    out.clear();
    mqtt::encode(mqtt::subscribe{1, {{*subscribe_filter, {static_cast<mqtt::qos>(o.qos)}}}, {}}, v, out);
    write_all(c->io, out);
    while (!std::holds_alternative<mqtt::suback>(read_packet(c->io, c->in, v))) {
    }
    c->subscriber = true;
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"edgemq-bench: MQTT load generator (pairs, fanout, fanin, conns, latency)"};
  app.add_option("--host", o.host, "broker IPv4 address");
  app.add_option("-p,--port", o.port);
  app.add_option("-s,--scenario", o.scenario)->check(CLI::IsMember({"pairs", "fanout", "fanin", "conns", "latency"}));
  app.add_option("-n,--clients", o.n, "pairs / subscribers / publishers / connections")->check(CLI::Range(1, 100000));
  app.add_option("-q,--qos", o.qos)->check(CLI::Range(0, 2));
  app.add_option("-V,--mqtt-version", o.version)->check(CLI::IsMember({4, 5}));
  app.add_option("--payload", o.payload, "bytes (at least 16: a timestamp is embedded)");
  app.add_option("-d,--duration", o.duration, "seconds of measurement");
  app.add_option("--rate", o.rate, "messages/s per publisher (0: as fast as the window allows)");
  app.add_option("--inflight", o.inflight, "per publisher");
  app.add_option("-t,--threads", o.threads)->check(CLI::Range(1, 64));
  app.add_option("--connect-rate", o.connect_rate, "connections/s during set-up (0: unlimited)");
  app.add_option("--sub-port", o.sub_ports, "subscribers connect here, in turn (repeatable; default: --port)");
  app.add_option("--session-expiry", o.session_expiry,
                 "subscribers' session expiry interval in seconds (persistent sessions; 3.1.1: clean session 0)");
  app.add_option("--settle", o.settle, "seconds between the subscriptions and the first publish");
  app.add_flag("--tls", o.tls, "MQTT over TLS (OpenSSL); without --cafile the server is not verified");
  app.add_option("--cafile", o.tls_opts.cafile, "verify the server's certificate against these CAs (PEM)")
      ->check(CLI::ExistingFile);
  app.add_option("--cert", o.tls_opts.cert, "client certificate (PEM), for listeners that require one")
      ->check(CLI::ExistingFile);
  app.add_option("--key", o.tls_opts.key, "its private key (PEM)")->check(CLI::ExistingFile);
  CLI11_PARSE(app, argc, argv);
  if (!o.tls && (!o.tls_opts.cafile.empty() || !o.tls_opts.cert.empty())) {
    std::fprintf(stderr, "--cafile and --cert need --tls\n");
    return 2;
  }
  if (o.tls) {
    o.tls_opts.host = o.host;
    try {
      tls_ctx = std::make_unique<bench::tls_client_context>(o.tls_opts);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 2;
    }
  }
  if (o.scenario == "latency") {
    o.n = 1;
    if (o.rate == 0) o.rate = 1000;
  }

  shared_stats st;
  const double cpu0 = cpu_seconds();
  std::vector<std::unique_ptr<conn>> all;
  const auto setup_start = clk::now();
  std::size_t opened = 0;
  const auto pace = [&] {
    ++opened;
    if (o.connect_rate > 0) {
      const auto due = setup_start + std::chrono::duration_cast<clk::duration>(
                                         std::chrono::duration<double>(opened / o.connect_rate));
      std::this_thread::sleep_until(due);
    }
  };
  const std::string base = "bench/" + std::to_string(::getpid());
  int publishers = 0, subscribers = 0;
  try {
    if (o.scenario == "conns") {
      for (int i = 0; i < o.n; ++i, pace())
        all.push_back(open_client(o, base + "-c" + std::to_string(i), nullptr, 300));
    } else {
      const bool pairs = o.scenario == "pairs" || o.scenario == "latency";
      const int subs = o.scenario == "fanin" ? 1 : o.n;
      const int pubs = o.scenario == "fanout" ? 1 : o.n;
      for (int i = 0; i < subs; ++i, pace()) {
        const std::string filter = pairs                   ? base + "/t" + std::to_string(i)
                                   : o.scenario == "fanin" ? base + "/+"
                                                           : base + "/all";
        options so = o;
        if (!o.sub_ports.empty()) so.port = o.sub_ports[static_cast<std::size_t>(i) % o.sub_ports.size()];
        all.push_back(open_client(so, base + "-s" + std::to_string(i), &filter));
      }
      for (int i = 0; i < pubs; ++i, pace()) {
        auto c = open_client(o, base + "-p" + std::to_string(i), nullptr);
        c->pub.topic = pairs                   ? base + "/t" + std::to_string(i)
                       : o.scenario == "fanin" ? base + "/" + std::to_string(i)
                                               : base + "/all";
        all.push_back(std::move(c));
      }
      publishers = pubs;
      subscribers = subs;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "set-up failed after %zu connections: %s\n", all.size(), e.what());
    std::printf("{\"scenario\":\"%s\",\"error\":\"setup\",\"connections\":%zu}\n", o.scenario.c_str(), all.size());
    return 1;
  }
  const double setup_s = std::chrono::duration<double>(clk::now() - setup_start).count();
  if (o.settle > 0) std::this_thread::sleep_for(std::chrono::duration<double>(o.settle));

  if (o.scenario == "conns") {
    // Hold the idle connections for the duration (keep alive 300 s: no pings needed).
    std::this_thread::sleep_for(std::chrono::duration<double>(o.duration));
    std::printf("{\"scenario\":\"conns\",\"connections\":%zu,\"connect_rate\":%.0f,\"setup_s\":%.2f}\n", all.size(),
                all.size() / setup_s, setup_s);
    return 0;
  }

  // Deliveries per published message: the QoS 0 window counts messages, not deliveries.
  worker::publishers_hint_ = static_cast<std::uint64_t>(publishers);
  const std::uint64_t fan = o.scenario == "fanout" ? static_cast<std::uint64_t>(subscribers) : 1;
  const int nthreads = std::min<int>(o.threads, static_cast<int>(all.size()));
  std::vector<std::vector<std::unique_ptr<conn>>> split(static_cast<std::size_t>(nthreads));
  for (std::size_t i = 0; i < all.size(); ++i)
    split[i % static_cast<std::size_t>(nthreads)].push_back(std::move(all[i]));
  std::vector<std::unique_ptr<worker>> workers;
  for (auto& s : split) workers.push_back(std::make_unique<worker>(o, st, std::move(s), fan));
  // Marks the measured window on stdout (before the result line, which stays last): compare.py
  // reads the broker's CPU time here and at the result, leaving out set-up and teardown.
  std::printf("# measuring\n");
  std::fflush(stdout);
  const auto start = clk::now();
  const auto end = start + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(o.duration));
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w, start, end] { w->run(start, end); });
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(clk::now() - start).count();
  const double cpu = cpu_seconds() - cpu0;

  std::vector<std::uint32_t> lat;
  std::uint64_t delivered = 0, sent = 0;
  for (auto& w : workers) {
    delivered += w->result().delivered;
    sent += w->pub_sent();
    lat.insert(lat.end(), w->result().latencies_us.begin(), w->result().latencies_us.end());
  }
  std::sort(lat.begin(), lat.end());
  const auto pct = [&](double q) { return lat.empty() ? 0u : lat[static_cast<std::size_t>(q * (lat.size() - 1))]; };
  const double rate = delivered / elapsed;
  std::fprintf(
      stderr,
      "%s n=%d qos=%d v%d payload=%zu: delivered %llu msg in %.2f s = %.0f msg/s (sent %llu); latency p50 %u us, "
      "p99 %u us, max %u us; errors %llu; bench cpu %.2f s\n",
      o.scenario.c_str(), o.n, o.qos, o.version, o.payload, static_cast<unsigned long long>(delivered), elapsed, rate,
      static_cast<unsigned long long>(sent), pct(0.5), pct(0.99), lat.empty() ? 0u : lat.back(),
      static_cast<unsigned long long>(st.errors.load()), cpu);
  std::printf(
      "{\"scenario\":\"%s\",\"clients\":%d,\"qos\":%d,\"mqtt\":%d,\"payload\":%zu,\"seconds\":%.3f,\"sent\":%llu,"
      "\"delivered\":%llu,\"msg_per_s\":%.0f,\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u,\"errors\":%llu,\"bench_cpu_s\":"
      "%.3f}\n",
      o.scenario.c_str(), o.n, o.qos, o.version, o.payload, elapsed, static_cast<unsigned long long>(sent),
      static_cast<unsigned long long>(delivered), rate, pct(0.5), pct(0.99), lat.empty() ? 0u : lat.back(),
      static_cast<unsigned long long>(st.errors.load()), cpu);
  std::fflush(stdout);  // before the connections close at exit
  return st.errors.load() == 0 ? 0 : 3;
}
