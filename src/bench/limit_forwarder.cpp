// edgemq-limit: the ceiling for the side-by-side benchmark (docs/adr/0026-edgemq-limit.md). A minimal
// MQTT forwarder with no broker logic: CONNECT, SUBSCRIBE, PINGREQ, DISCONNECT, and each PUBLISH frame
// copied to the subscribers of exactly its topic (a hash lookup) and of any wildcard filter (`+`, `#`:
// a naive walk over the wildcard filters, as many as fan-in needs; docs/adr/0031). What a broker needs
// beyond this (a subscription index, one delivery per client for overlapping filters, sessions,
// retained messages, QoS 2, flow control, limits, auth, TLS) is left out on purpose: the figure it
// gives is what this machine and load generator allow, not a broker.
//
//   edgemq-limit [--port P]     (P = 0: the kernel picks one; the ready line names it)
//
// One thread, level-triggered epoll: one big read per readable socket per turn (the 256 KiB buffer
// usually drains it), so no extra read just to see EAGAIN as edge-triggered needs, and a socket with
// more pending simply comes back next turn after the others had theirs. Each socket is written once per
// turn, after all readable sockets were processed.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr std::size_t read_size = 256 * 1024;
constexpr std::uint32_t max_remaining = 268'435'455;  // the largest MQTT remaining length

struct conn;

struct subscriber {
  conn* c;
  int qos;  // granted: 0 or 1
};

struct wildcard_subscriber {
  std::string filter;
  conn* c;
  int qos;
};

// MQTT topic matching, naively: `+` one level, `#` the rest (and the parent level); a filter
// starting with a wildcard does not match a `$` topic (MQTT-4.7.2-1).
bool filter_matches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic.front() == '$' && (filter.front() == '+' || filter.front() == '#')) return false;
  std::size_t f = 0, t = 0;
  for (;;) {
    const std::size_t fe = std::min(filter.find('/', f), filter.size());
    const std::string_view fl = filter.substr(f, fe - f);
    if (fl == "#") return true;
    if (t > topic.size()) return false;  // the topic has fewer levels
    const std::size_t te = std::min(topic.find('/', t), topic.size());
    if (fl != "+" && fl != topic.substr(t, te - t)) return false;
    const bool f_end = fe == filter.size(), t_end = te == topic.size();
    if (f_end || t_end) {
      if (f_end && t_end) return true;
      // "a/#" also matches "a": the filter's next level is a lone "#".
      return t_end && filter.substr(fe + 1) == "#";
    }
    f = fe + 1;
    t = te + 1;
  }
}

struct conn {
  int fd = -1;
  int version = 0;  // 0 until CONNECT; then 4 (3.1.1) or 5
  bool dead = false;
  bool dirty = false;     // in the flush list this turn
  bool want_out = false;  // EPOLLOUT registered (a previous write was partial)
  std::string in;         // an incomplete frame carried over to the next read
  std::string out;
  std::size_t out_off = 0;
  std::uint16_t next_id = 1;        // packet ids for QoS 1 deliveries to this subscriber
  std::vector<std::string> topics;  // subscribed, for removal at close
  bool wildcards = false;           // holds wildcard filters, removed at close
};

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class forwarder {
 public:
  // SIGTERM/SIGINT arrive through signal_fd (blocked, read in the loop): a handler setting a flag
  // races with the flag's check before epoll_wait, which ThreadSanitizer's deferred signal
  // delivery turns into a hang.
  forwarder(int listen_fd, int signal_fd) : lfd_(listen_fd), buf_(new char[read_size]) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{EPOLLIN, {.ptr = nullptr}};
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, lfd_, &ev);
    epoll_event sev{EPOLLIN, {.ptr = &signal_tag_}};
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, signal_fd, &sev);
  }

  void run() {
    std::vector<epoll_event> events(1024);
    for (;;) {
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("epoll_wait");
        return;
      }
      for (int i = 0; i < n; ++i) {
        if (events[i].data.ptr == &signal_tag_) return;  // SIGTERM or SIGINT
        auto* c = static_cast<conn*>(events[i].data.ptr);
        if (c == nullptr) {
          accept_all();
          continue;
        }
        if (c->dead) continue;
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(*c);
        if (!c->dead && (events[i].events & EPOLLOUT)) mark_dirty(*c);
      }
      flush_all();
      reap();
    }
  }

 private:
  void accept_all() {
    for (;;) {
      const int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<conn>();
      c->fd = fd;
      epoll_event ev{EPOLLIN, {.ptr = c.get()}};
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      conns_.push_back(std::move(c));
    }
  }

  void on_readable(conn& c) {
    const ssize_t n = ::recv(c.fd, buf_.get(), read_size, 0);
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) kill(c);
      return;
    }
    // Frames are parsed in place in the read buffer; only an incomplete tail is copied to the
    // connection (and then the next read is appended to it).
    std::string_view data(buf_.get(), static_cast<std::size_t>(n));
    if (!c.in.empty()) {
      c.in.append(data);
      data = c.in;
    }
    std::size_t used = 0;
    while (!c.dead) {
      const auto rest = data.substr(used);
      if (rest.size() < 2) break;
      std::uint32_t len = 0;
      std::size_t pos = 1;
      int shift = 0;
      bool complete = false;
      while (pos < rest.size() && pos <= 4) {
        const auto b = static_cast<std::uint8_t>(rest[pos++]);
        len |= static_cast<std::uint32_t>(b & 0x7F) << shift;
        shift += 7;
        if (!(b & 0x80)) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (pos > 4 || len > max_remaining) kill(c);  // a fifth length byte: malformed
        break;
      }
      if (rest.size() - pos < len) break;
      handle(c, rest.substr(0, pos + len), pos);
      used += pos + len;
    }
    if (c.dead) return;
    if (data.data() == c.in.data()) {
      c.in.erase(0, used);
    } else if (used < data.size()) {
      c.in.assign(data.substr(used));
    }
  }

  // One complete frame; `head` is the size of its fixed header.
  void handle(conn& c, std::string_view frame, std::size_t head) {
    const auto type = static_cast<std::uint8_t>(frame[0]) >> 4;
    const auto body = frame.substr(head);
    if (c.version == 0 && type != 1) return kill(c);
    switch (type) {
      case 1:
        return on_connect(c, body);
      case 3:
        return on_publish(c, frame, head);
      case 4:
        return;  // PUBACK from a subscriber: its ids are reused cyclically, nothing to track
      case 8:
        return on_subscribe(c, body);
      case 12:
        return append(c, "\xD0\x00", 2);  // PINGREQ -> PINGRESP
      case 14:
        return kill(c);  // DISCONNECT
      default:
        return kill(c);  // QoS 2, UNSUBSCRIBE, AUTH: not served (docs/adr/0026-edgemq-limit.md)
    }
  }

  void on_connect(conn& c, std::string_view body) {
    // Protocol name (2 + 4 bytes "MQTT") then the level: 4 = 3.1.1, 5 = 5.0.
    if (c.version != 0 || body.size() < 7) return kill(c);
    const int level = static_cast<std::uint8_t>(body[6]);
    if (level != 4 && level != 5) return kill(c);
    c.version = level;
    if (level == 5)
      append(c, "\x20\x03\x00\x00\x00", 5);  // CONNACK, no session, success, no properties
    else
      append(c, "\x20\x02\x00\x00", 4);
  }

  void on_subscribe(conn& c, std::string_view body) {
    if (body.size() < 3) return kill(c);
    std::size_t pos = 2;
    if (c.version == 5 && !skip_varint_block(body, pos)) return kill(c);
    std::string ack;
    while (pos < body.size()) {
      if (body.size() - pos < 3) return kill(c);
      const std::size_t n = static_cast<std::uint8_t>(body[pos]) << 8 | static_cast<std::uint8_t>(body[pos + 1]);
      if (body.size() - pos - 2 < n + 1) return kill(c);
      const std::string_view filter = body.substr(pos + 2, n);
      int qos = static_cast<std::uint8_t>(body[pos + 2 + n]) & 3;
      pos += 3 + n;
      if (qos > 1) qos = 1;  // QoS 2 is not served: granted as 1, which MQTT allows
      if (filter.empty()) return kill(c);
      if (filter.find_first_of("+#") != std::string_view::npos) {
        bool found = false;
        for (auto& w : wildcards_)
          if (w.c == &c && w.filter == filter) w.qos = qos, found = true;
        if (!found) wildcards_.push_back({std::string(filter), &c, qos});
        c.wildcards = true;
        ack.push_back(static_cast<char>(qos));
        continue;
      }
      auto& subs = topics_[std::string(filter)];
      bool found = false;
      for (auto& s : subs)
        if (s.c == &c) s.qos = qos, found = true;
      if (!found) {
        subs.push_back({&c, qos});
        c.topics.emplace_back(filter);
      }
      ack.push_back(static_cast<char>(qos));
    }
    const std::size_t rem = 2 + (c.version == 5 ? 1 : 0) + ack.size();
    char hdr[8] = {'\x90'};
    const std::size_t h = 1 + put_varint(hdr + 1, static_cast<std::uint32_t>(rem));
    append(c, hdr, h);
    append(c, body.data(), 2);  // the packet id
    if (c.version == 5) append(c, "\x00", 1);
    append(c, ack.data(), ack.size());
  }

  void on_publish(conn& c, std::string_view frame, std::size_t head) {
    const auto flags = static_cast<std::uint8_t>(frame[0]) & 0x0F;
    const int qos = (flags >> 1) & 3;
    if (qos > 1) return kill(c);
    const auto body = frame.substr(head);
    if (body.size() < 2) return kill(c);
    const std::size_t tlen = static_cast<std::uint8_t>(body[0]) << 8 | static_cast<std::uint8_t>(body[1]);
    std::size_t pos = 2 + tlen;
    if (pos + (qos ? 2 : 0) > body.size()) return kill(c);
    const std::string_view topic = body.substr(2, tlen);
    const std::size_t id_pos = pos;  // in body; meaningful for QoS 1 only
    if (qos) {
      append(c, "\x40\x02", 2);  // PUBACK (v5: success with no properties may omit the reason code)
      append(c, body.data() + id_pos, 2);
      pos += 2;
    }
    const std::size_t props_pos = pos;
    if (c.version == 5 && !skip_varint_block(body, pos)) return kill(c);
    const std::size_t payload_pos = pos;

    const publish_view pv{c, frame, body, head, id_pos, props_pos, payload_pos, tlen, flags, qos};
    if (const auto it = topics_.find(topic); it != topics_.end())
      for (const auto& s : it->second) deliver(pv, *s.c, s.qos);
    for (const auto& w : wildcards_)
      if (filter_matches(w.filter, topic)) deliver(pv, *w.c, w.qos);
  }

  // A PUBLISH as received, cut into its parts.
  struct publish_view {
    const conn& c;
    std::string_view frame, body;
    std::size_t head, id_pos, props_pos, payload_pos, tlen;
    int flags;
    int qos;
  };

  void deliver(const publish_view& p, conn& d, int sub_qos) {
    const conn& c = p.c;
    const std::string_view frame = p.frame, body = p.body;
    const std::size_t head = p.head, id_pos = p.id_pos, props_pos = p.props_pos, payload_pos = p.payload_pos,
                      tlen = p.tlen;
    const int flags = p.flags;
    const int qos = p.qos;
    if (d.dead) return;
    const int q = sub_qos < qos ? sub_qos : qos;
    if (q == qos && d.version == c.version) {
      // The common case: the frame as received; for QoS 1 only the packet id is the subscriber's.
      const std::size_t at = d.out.size();
      append(d, frame.data(), frame.size());
      if (q) set_id(d, at + head + id_pos);
      return;
    }
    // QoS downgraded, or the versions differ (v5 has a properties block, 3.1.1 none): rebuild the
    // variable header around the same topic and payload.
    const std::string_view props =
        c.version == 5 ? body.substr(props_pos, payload_pos - props_pos) : std::string_view("\x00", 1);
    const std::size_t rem = 2 + tlen + (q ? 2 : 0) + (d.version == 5 ? props.size() : 0) + (body.size() - payload_pos);
    char hdr[8] = {static_cast<char>(0x30 | (flags & 0x08) | (q << 1))};  // DUP kept, retain dropped
    append(d, hdr, 1 + put_varint(hdr + 1, static_cast<std::uint32_t>(rem)));
    append(d, body.data(), 2 + tlen);
    if (q) {
      append(d, "\x00\x00", 2);
      set_id(d, d.out.size() - 2);
    }
    if (d.version == 5) append(d, props.data(), props.size());
    append(d, body.data() + payload_pos, body.size() - payload_pos);
  }

  void set_id(conn& d, std::size_t at) {
    d.out[at] = static_cast<char>(d.next_id >> 8);
    d.out[at + 1] = static_cast<char>(d.next_id & 0xFF);
    d.next_id = static_cast<std::uint16_t>(d.next_id == 65535 ? 1 : d.next_id + 1);
  }

  // A v5 properties block: its varint length, then that many bytes.
  static bool skip_varint_block(std::string_view body, std::size_t& pos) {
    std::uint32_t len = 0;
    int shift = 0;
    for (int i = 0; i < 4; ++i) {
      if (pos >= body.size()) return false;
      const auto b = static_cast<std::uint8_t>(body[pos++]);
      len |= static_cast<std::uint32_t>(b & 0x7F) << shift;
      shift += 7;
      if (!(b & 0x80)) return body.size() - pos >= len ? (pos += len, true) : false;
    }
    return false;
  }

  static std::size_t put_varint(char* out, std::uint32_t v) {
    std::size_t n = 0;
    do {
      auto b = static_cast<std::uint8_t>(v & 0x7F);
      v >>= 7;
      if (v) b |= 0x80;
      out[n++] = static_cast<char>(b);
    } while (v);
    return n;
  }

  void append(conn& c, const char* p, std::size_t n) {
    c.out.append(p, n);
    mark_dirty(c);
  }

  void mark_dirty(conn& c) {
    if (!c.dirty) {
      c.dirty = true;
      dirty_.push_back(&c);
    }
  }

  void flush_all() {
    for (conn* c : dirty_) {
      c->dirty = false;
      if (c->dead) continue;
      const std::size_t pending = c->out.size() - c->out_off;
      ssize_t n = pending ? ::send(c->fd, c->out.data() + c->out_off, pending, MSG_NOSIGNAL) : 0;
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
          kill(*c);
          continue;
        }
        n = 0;
      }
      c->out_off += static_cast<std::size_t>(n);
      if (c->out_off == c->out.size()) {
        c->out.clear();
        c->out_off = 0;
      } else if (c->out_off > (1u << 20) && c->out_off * 2 > c->out.size()) {
        c->out.erase(0, c->out_off);  // keep a slow reader's buffer from only growing
        c->out_off = 0;
      }
      const bool want = !c->out.empty();
      if (want != c->want_out) {
        c->want_out = want;
        epoll_event ev{static_cast<std::uint32_t>(want ? EPOLLIN | EPOLLOUT : EPOLLIN), {.ptr = c}};
        ::epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
      }
    }
    dirty_.clear();
  }

  // Closed connections are only marked during a turn (others may still hold pointers to them in
  // the flush list or a subscriber list) and removed here.
  void kill(conn& c) {
    if (c.dead) return;
    c.dead = true;
    ++dead_count_;
  }

  void reap() {
    if (dead_count_ == 0) return;
    dead_count_ = 0;
    for (std::size_t i = 0; i < conns_.size();) {
      conn& c = *conns_[i];
      if (!c.dead) {
        ++i;
        continue;
      }
      for (const auto& t : c.topics) {
        auto it = topics_.find(t);
        if (it == topics_.end()) continue;
        std::erase_if(it->second, [&](const subscriber& s) { return s.c == &c; });
        if (it->second.empty()) topics_.erase(it);
      }
      if (c.wildcards) std::erase_if(wildcards_, [&](const wildcard_subscriber& w) { return w.c == &c; });
      ::close(c.fd);  // also leaves the epoll set
      conns_[i] = std::move(conns_.back());
      conns_.pop_back();
    }
  }

  int lfd_;
  int ep_ = -1;
  std::unique_ptr<char[]> buf_;
  std::vector<std::unique_ptr<conn>> conns_;
  std::vector<conn*> dirty_;
  std::size_t dead_count_ = 0;
  char signal_tag_ = 0;  // the address marks the signalfd's epoll events
  std::unordered_map<std::string, std::vector<subscriber>, string_hash, std::equal_to<>> topics_;
  std::vector<wildcard_subscriber> wildcards_;  // matched one by one against every PUBLISH
};

}  // namespace

int main(int argc, char** argv) {
  int port = 1883;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      char* end = nullptr;
      const long p = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || p < 0 || p > 65535) {
        std::fprintf(stderr, "edgemq-limit: --port must be 0..65535\n");
        return 2;
      }
      port = static_cast<int>(p);
    } else {
      std::fprintf(stderr,
                   "usage: edgemq-limit [--port P]\n"
                   "A minimal MQTT forwarder (QoS 0/1, naive wildcards, no broker logic) on 127.0.0.1:P, the\n"
                   "ceiling for the benchmark; P = 0 picks a free port. docs/adr/0026-edgemq-limit.md\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  sigset_t stop_signals;
  ::sigemptyset(&stop_signals);
  ::sigaddset(&stop_signals, SIGTERM);
  ::sigaddset(&stop_signals, SIGINT);
  ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  const int sfd = ::signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);

  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4096) != 0) {
    std::fprintf(stderr, "edgemq-limit: cannot listen on 127.0.0.1:%d: %s\n", port, std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("edgemq-limit ready on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  forwarder(fd, sfd).run();
  return 0;
}
