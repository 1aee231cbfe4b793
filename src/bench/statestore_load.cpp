// edgemq-statestore-load: a light load generator for the state store, built like redis-benchmark
// so that the generator is not what limits the figure: one thread, one epoll loop, N MQTT 5
// connections each with one request in flight (redis-benchmark -P 1), requests encoded once per
// connection (only the packet id changes), no allocation per request, one read and one write per
// connection per turn (the PUBACK of a reply goes out in the same write as the next request).
//
//   edgemq-statestore-load --port P -c 32 -s 3 --op get|set [--value-size 16] [--reply-qos 1]
//
// Prints one line: op= clients= ops= seconds= ops_per_sec= p50_us= p99_us= errors=
// A reply starting with '-' (a RESP3 error) counts as an error; any error makes the exit status 1.
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using clk = std::chrono::steady_clock;
constexpr std::string_view request_topic = "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke";

void put_varint(std::string& out, std::size_t v) {
  do {
    auto b = static_cast<unsigned char>(v % 128);
    v /= 128;
    if (v) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (v);
}
void put_u16(std::string& out, std::size_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}
void put_str(std::string& out, std::string_view s) {
  put_u16(out, s.size());
  out.append(s);
}
std::string packet(unsigned char first, const std::string& body) {
  std::string p(1, static_cast<char>(first));
  put_varint(p, body.size());
  return p + body;
}
std::string resp3(std::initializer_list<std::string_view> parts) {
  std::string s = "*" + std::to_string(parts.size()) + "\r\n";
  for (auto p : parts) s += "$" + std::to_string(p.size()) + "\r\n" + std::string(p) + "\r\n";
  return s;
}

// A PUBLISH QoS 1 request; `pid_at` receives the offset of its packet id.
std::string request_packet(const std::string& response_topic, const std::string& payload, std::size_t& pid_at) {
  std::string vh;
  put_str(vh, request_topic);
  const std::size_t pid_in_vh = vh.size();
  put_u16(vh, 1);
  std::string props;
  props.push_back(0x08);  // response topic
  put_str(props, response_topic);
  props.push_back(0x09);  // correlation data: fixed, one request in flight
  put_str(props, "c1");
  props.push_back(0x26);  // user property __ts (an HLC timestamp: wall ms, counter, node)
  put_str(props, "__ts");
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  char ts[64];
  std::snprintf(ts, sizeof ts, "%015lld:00000:load", static_cast<long long>(ms));
  put_str(props, ts);
  put_varint(vh, props.size());
  vh += props;
  vh += payload;
  std::string p = packet(0x32, vh);
  pid_at = p.size() - vh.size() + pid_in_vh;
  return p;
}

struct conn {
  int fd = -1;
  int index = 0;
  enum class phase { connack, suback, running } state = phase::connack;
  std::string first;    // the first request (a SET: GET runs read a key that exists)
  std::string request;  // the steady request, encoded once
  std::size_t first_pid_at = 0, pid_at = 0;
  std::uint16_t pid = 1;
  std::string in;  // capacity kept: no allocation once warm
  std::size_t in_off = 0;
  std::string out;
  clk::time_point sent{};
  bool sent_first = false;
};

struct stats {
  std::uint64_t ops = 0, errors = 0;
  std::array<std::uint64_t, 100001> hist{};  // 1 µs buckets to 100 ms, the last: beyond
  void record(clk::duration d) {
    auto us = static_cast<std::size_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
    ++hist[std::min(us, hist.size() - 1)];
    ++ops;
  }
  double pct(double q) const {
    const auto want = static_cast<std::uint64_t>(q * static_cast<double>(ops));
    std::uint64_t run = 0;
    for (std::size_t i = 0; i < hist.size(); ++i)
      if ((run += hist[i]) > want) return static_cast<double>(i);
    return 0;
  }
};

std::uint32_t read_varint(const std::string& b, std::size_t& at, bool& ok) {
  std::uint32_t v = 0, mul = 1;
  for (int i = 0; i < 4; ++i) {
    if (at >= b.size()) return ok = false, 0;
    const auto c = static_cast<unsigned char>(b[at++]);
    v += (c & 0x7f) * mul;
    if (!(c & 0x80)) return ok = true, v;
    mul *= 128;
  }
  return ok = false, 0;
}

void queue_request(conn& c, bool is_first) {
  auto& req = is_first ? c.first : c.request;
  const auto at = is_first ? c.first_pid_at : c.pid_at;
  c.pid = static_cast<std::uint16_t>(c.pid == 65535 ? 1 : c.pid + 1);
  req[at] = static_cast<char>(c.pid >> 8);
  req[at + 1] = static_cast<char>(c.pid & 0xff);
  c.out += req;
  c.sent = clk::now();
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"edgemq-statestore-load: state store throughput from one epoll loop"};
  std::string host = "127.0.0.1", op = "set";
  std::uint16_t port = 1883;
  int clients = 1, reply_qos = 1;
  double seconds = 3;
  std::size_t value_size = 16;
  app.add_option("--host", host);
  app.add_option("--port", port);
  app.add_option("-c,--clients", clients)->check(CLI::Range(1, 10000));
  app.add_option("-s,--seconds", seconds);
  app.add_option("--op", op)->check(CLI::IsMember({"set", "get"}));
  app.add_option("--value-size", value_size);
  app.add_option("--reply-qos", reply_qos, "QoS of the response-topic subscription (the SDKs use 1)")
      ->check(CLI::Range(0, 1));
  CLI11_PARSE(app, argc, argv);

  const int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) die("inet_pton");

  std::vector<conn> conns(static_cast<std::size_t>(clients));
  const std::string value(value_size, 'v');
  for (int i = 0; i < clients; ++i) {
    auto& c = conns[static_cast<std::size_t>(i)];
    c.index = i;
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c.fd < 0) die("socket");
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // The process id keeps two generators running at once from taking over each other's sessions.
    const std::string id = "ssload-" + std::to_string(getpid()) + "-" + std::to_string(i);
    const std::string rt = "clients/" + id + "/statestore/response";
    const std::string key = "bench/" + std::to_string(i);
    c.first = request_packet(rt, resp3({"SET", key, value}), c.first_pid_at);
    c.request = op == "set" ? c.first : request_packet(rt, resp3({"GET", key}), c.pid_at);
    if (op == "set") c.pid_at = c.first_pid_at;
    c.in.reserve(1 << 16);
    c.out.reserve(1 << 12);
    // CONNECT v5, clean start, keep alive 0, no properties; then SUBSCRIBE to the response topic.
    std::string body;
    put_str(body, "MQTT");
    body.push_back(5);
    body.push_back(0x02);
    put_u16(body, 0);
    body.push_back(0);
    put_str(body, id);
    c.out = packet(0x10, body);
    std::string sub;
    put_u16(sub, 1);
    sub.push_back(0);
    put_str(sub, rt);
    sub.push_back(static_cast<char>(reply_qos));
    c.out += packet(0x82, sub);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) != 0) die("epoll_ctl");
  }
  // Handshakes are small: blocking sends are fine before the loop.
  for (auto& c : conns) {
    if (send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(c.out.size())) die("send");
    c.out.clear();
  }

  stats st;
  clk::time_point start{}, until{};
  int running = 0;
  std::array<epoll_event, 256> evs;
  char buf[65536];
  const auto deadline_handshake = clk::now() + std::chrono::seconds(30);
  for (bool done = false; !done;) {
    const int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    const auto now = clk::now();
    if (running < clients && now > deadline_handshake) {
      std::fprintf(stderr, "handshake timed out (%d of %d connections ready)\n", running, clients);
      return 2;
    }
    if (running == clients && now >= until) break;
    for (int e = 0; e < n; ++e) {
      auto& c = conns[evs[static_cast<std::size_t>(e)].data.u32];
      const ssize_t got = recv(c.fd, buf, sizeof buf, 0);
      if (got <= 0) {
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        std::fprintf(stderr, "connection %d closed by the broker\n", c.index);
        return 2;
      }
      c.in.append(buf, static_cast<std::size_t>(got));
      for (;;) {  // every complete packet
        std::size_t at = c.in_off + 1;
        bool ok = false;
        if (at > c.in.size()) break;
        const auto len = read_varint(c.in, at, ok);
        if (!ok || at + len > c.in.size()) break;
        const auto type = static_cast<unsigned char>(c.in[c.in_off]);
        const std::size_t body = at, end = at + len;
        c.in_off = end;
        if (type == 0x20) {  // CONNACK
          if (len < 2 || c.in[body + 1] != 0) {
            std::fprintf(stderr, "connection %d refused\n", c.index);
            return 2;
          }
          c.state = conn::phase::suback;
        } else if (type == 0x90) {  // SUBACK: start
          c.state = conn::phase::running;
          queue_request(c, true);
          c.sent_first = true;
          if (++running == clients) {
            start = clk::now();
            until = start + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(seconds));
            st = stats{};
          }
        } else if ((type & 0xf0) == 0x30) {  // a reply
          const int qos = (type >> 1) & 3;
          std::size_t p = body;
          const std::size_t tlen = (static_cast<unsigned char>(c.in[p]) << 8) | static_cast<unsigned char>(c.in[p + 1]);
          p += 2 + tlen;
          if (qos > 0) {
            const char puback[4] = {0x40, 2, c.in[p], c.in[p + 1]};
            c.out.append(puback, 4);
            p += 2;
          }
          const auto plen = read_varint(c.in, p, ok);
          p += plen;
          if (p < end && c.in[p] == '-') {
            if (st.errors++ == 0)
              std::fprintf(stderr, "store error: %.*s\n", static_cast<int>(end - p), c.in.data() + p);
          }
          st.record(clk::now() - c.sent);
          queue_request(c, false);
        }
        // PUBACK (0x40) of our requests: nothing to do.
      }
      if (c.in_off == c.in.size()) {
        c.in.clear();
        c.in_off = 0;
      }
      if (!c.out.empty()) {
        if (send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(c.out.size()))
          die("send");  // a few dozen bytes into an empty socket buffer: never partial here
        c.out.clear();
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(clk::now() - start).count();
  std::printf("op=%s clients=%d ops=%llu seconds=%.2f ops_per_sec=%.0f p50_us=%.0f p99_us=%.0f errors=%llu\n",
              op.c_str(), clients, static_cast<unsigned long long>(st.ops), elapsed,
              static_cast<double>(st.ops) / elapsed, st.pct(0.5), st.pct(0.99),
              static_cast<unsigned long long>(st.errors));
  for (auto& c : conns) close(c.fd);
  return st.errors ? 1 : 0;
}
