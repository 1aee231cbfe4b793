#include "cli/session.hpp"

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <deque>
#include <span>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>

#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace edgemq::cli {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto version = mqtt::protocol_version::v5;
constexpr std::uint32_t max_incoming_packet = 268'435'460;  // the largest MQTT packet

std::string reason_text(mqtt::reason_code rc) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(rc));
  return std::string(mqtt::to_string(rc)) + " (" + buf + ")";
}

template <class Ack>
Ack ack(std::uint16_t packet_id) {
  Ack a;
  a.packet_id = packet_id;
  return a;
}

}  // namespace

struct session::impl {
  asio::io_context io{1};
  tcp::resolver resolver{io};
  tcp::socket sock{io};
  asio::signal_set signals{io, SIGINT, SIGTERM};
  bool interrupted = false;

  std::string client_id;
  bool open = false;
  std::vector<std::uint8_t> in;  // received, not yet framed
  std::array<std::uint8_t, 64 * 1024> chunk{};
  std::deque<mqtt::publish> inbox;  // application messages, acknowledged
  std::deque<mqtt::packet> acks;    // CONNACK/SUBACK/PUBACK... waiting to be claimed
  std::uint16_t next_id = 1;
  std::chrono::milliseconds ping_interval{0};
  steady::time_point last_send = steady::now();

  impl() {
    signals.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) interrupted = true;
    });
  }

  std::uint16_t new_packet_id() {
    const auto id = next_id++;
    if (next_id == 0) next_id = 1;
    return id;
  }

  // Runs the io_context until `done`, the deadline, or a signal. On timeout or signal the
  // pending operations are cancelled and their handlers drained before returning, so `done`
  // always holds afterwards. An operation that completed anyway (its handler was already
  // queued) keeps its result: callers tell a timeout by operation_aborted, never by the
  // clock, so no received bytes are dropped.
  void run_until(const bool& done, deadline d, bool interruptible = true) {
    io.restart();
    while (!done && !(interruptible && interrupted)) {
      if (d) {
        if (io.run_one_until(*d) == 0) {
          if (steady::now() >= *d) break;
          if (io.stopped()) io.restart();
        }
      } else {
        io.run_one();
      }
    }
    if (done) return;
    boost::system::error_code ignored;
    resolver.cancel();
    sock.cancel(ignored);
    io.restart();
    while (!done) io.run_one();  // the cancelled operation's handler sets `done`
  }

  static bool aborted(const boost::system::error_code& ec) { return ec == asio::error::operation_aborted; }

  void check_interrupt(bool interruptible) {
    if (interruptible && interrupted) throw interrupted_error();
  }

  void write(const std::string& bytes, deadline d, bool interruptible = true) {
    bool done = false;
    boost::system::error_code ec;
    asio::async_write(sock, asio::buffer(bytes), [&](const boost::system::error_code& e, std::size_t) {
      ec = e;
      done = true;
    });
    run_until(done, d, interruptible);
    check_interrupt(interruptible);
    if (aborted(ec)) throw cli_error(exit_failure, "timed out sending to the broker");
    if (ec) throw cli_error(exit_failure, "cannot send to the broker: " + ec.message());
    last_send = steady::now();
  }

  void send(const mqtt::packet& p, deadline d, bool interruptible = true) {
    std::string out;
    if (const auto ec = mqtt::encode(p, version, out))  // a key or value too long for MQTT's fields
      throw cli_error(exit_usage, std::string("cannot send the request: ") + ec.message());
    write(out, d, interruptible);
  }

  // The next packet from the broker, or nullopt at the deadline.
  std::optional<mqtt::packet> read_packet(deadline d) {
    for (;;) {
      const auto fr = mqtt::parse_frame(std::span<const std::uint8_t>(in.data(), in.size()), max_incoming_packet);
      if (fr.status == mqtt::frame_status::error)
        throw cli_error(exit_failure, "malformed data from the broker: " + reason_text(fr.error));
      if (fr.status == mqtt::frame_status::complete) {
        auto decoded = mqtt::decode(fr.value.header, fr.value.body, version);
        if (!decoded)
          throw cli_error(exit_failure, "undecodable " + std::string(mqtt::to_string(fr.value.type())) +
                                            " from the broker: " + decoded.error().message());
        in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(fr.value.size));
        return std::move(*decoded);
      }
      bool done = false;
      boost::system::error_code ec;
      std::size_t n = 0;
      sock.async_read_some(asio::buffer(chunk), [&](const boost::system::error_code& e, std::size_t got) {
        ec = e;
        n = got;
        done = true;
      });
      run_until(done, d);
      check_interrupt(true);
      if (aborted(ec)) return std::nullopt;
      if (ec == asio::error::eof) throw cli_error(exit_failure, "the broker closed the connection");
      if (ec) throw cli_error(exit_failure, "cannot read from the broker: " + ec.message());
      in.insert(in.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }

  // Reads and handles one packet (acknowledging messages, answering pings). Returns false at
  // the deadline.
  bool pump(deadline d) {
    for (;;) {
      deadline rd = d;
      if (ping_interval.count() > 0) {
        const auto due = last_send + ping_interval;
        if (!rd || due < *rd) rd = due;
      }
      auto pk = read_packet(rd);
      if (!pk) {
        if (d && steady::now() >= *d) return false;
        if (ping_interval.count() > 0 && steady::now() >= last_send + ping_interval) send(mqtt::pingreq{}, d);
        continue;
      }
      handle(std::move(*pk), d);
      return true;
    }
  }

  void handle(mqtt::packet pk, deadline d) {
    if (auto* m = std::get_if<mqtt::publish>(&pk)) {
      if (m->qos == mqtt::qos::at_least_once)
        send(ack<mqtt::puback>(m->packet_id), d);
      else if (m->qos == mqtt::qos::exactly_once)
        send(ack<mqtt::pubrec>(m->packet_id), d);
      inbox.push_back(std::move(*m));
    } else if (auto* r = std::get_if<mqtt::pubrel>(&pk)) {
      send(ack<mqtt::pubcomp>(r->packet_id), d);
    } else if (auto* dc = std::get_if<mqtt::disconnect>(&pk)) {
      std::string why = "the broker disconnected: " + reason_text(dc->code);
      if (dc->props.reason_string) why += ": " + *dc->props.reason_string;
      throw cli_error(exit_failure, why);
    } else if (std::holds_alternative<mqtt::pingresp>(pk)) {
      // keep-alive answered
    } else if (std::holds_alternative<mqtt::auth>(pk)) {
      throw cli_error(exit_failure, "the broker requested enhanced authentication, which edgemq-cli does not support");
    } else {
      acks.push_back(std::move(pk));
    }
  }

  // Waits for an acknowledgement that `match` accepts.
  template <class T, class Match>
  T await(Match match, deadline d, const char* what) {
    for (;;) {
      for (auto it = acks.begin(); it != acks.end(); ++it) {
        if (auto* a = std::get_if<T>(&*it); a && match(*a)) {
          T out = std::move(*a);
          acks.erase(it);
          return out;
        }
      }
      if (!pump(d)) throw cli_error(exit_failure, std::string("timed out waiting for ") + what);
    }
  }
};

session::session() : p_(std::make_unique<impl>()) {}
session::~session() {
  disconnect();
}

const std::string& session::client_id() const noexcept {
  return p_->client_id;
}

void session::connect(const connect_options& o, deadline d) {
  auto& s = *p_;
  s.client_id = o.client_id;
  {
    bool done = false;
    boost::system::error_code ec;
    tcp::resolver::results_type results;
    s.resolver.async_resolve(o.host, std::to_string(o.port),
                             [&](const boost::system::error_code& e, tcp::resolver::results_type r) {
                               ec = e;
                               results = std::move(r);
                               done = true;
                             });
    s.run_until(done, d);
    s.check_interrupt(true);
    if (impl::aborted(ec)) throw cli_error(exit_failure, "timed out resolving " + o.host);
    if (ec) throw cli_error(exit_failure, "cannot resolve " + o.host + ": " + ec.message());

    // One endpoint at a time (rather than asio::async_connect over the range), so that a
    // cancelled attempt at the deadline does not move on to the next address.
    const auto where = (o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host) + ":" +
                       std::to_string(o.port);  // [::1]:1883, as the daemon prints it
    ec = asio::error::host_not_found;
    for (const auto& entry : results) {
      boost::system::error_code ignored;
      s.sock.close(ignored);
      done = false;
      s.sock.async_connect(entry.endpoint(), [&](const boost::system::error_code& e) {
        ec = e;
        done = true;
      });
      s.run_until(done, d);
      s.check_interrupt(true);
      if (impl::aborted(ec)) throw cli_error(exit_failure, "timed out connecting to " + where);
      if (!ec) break;
    }
    if (ec) throw cli_error(exit_failure, "cannot connect to " + where + ": " + ec.message());
    s.sock.set_option(tcp::no_delay(true), ec);
  }
  s.open = true;

  mqtt::connect c;
  c.version = version;
  c.clean_start = true;
  c.keep_alive = o.keep_alive;
  c.client_id = o.client_id;
  c.username = o.username;
  c.password = o.password;
  s.send(c, d);
  auto ack = s.await<mqtt::connack>([](const mqtt::connack&) { return true; }, d, "CONNACK");
  if (mqtt::is_error(ack.code)) {
    std::string why = "the broker refused the connection: " + reason_text(ack.code);
    if (ack.props.reason_string) why += ": " + *ack.props.reason_string;
    throw cli_error(exit_failure, why);
  }
  if (ack.props.assigned_client_identifier) s.client_id = *ack.props.assigned_client_identifier;
  const std::uint16_t ka = ack.props.server_keep_alive.value_or(o.keep_alive);
  s.ping_interval = std::chrono::milliseconds(std::uint64_t{ka} * 1000 / 2);
}

void session::subscribe(const std::string& filter, deadline d) {
  auto& s = *p_;
  mqtt::subscribe sub;
  sub.packet_id = s.new_packet_id();
  mqtt::subscription e;
  e.filter = filter;
  e.options.qos = mqtt::qos::at_least_once;
  sub.entries.push_back(std::move(e));
  s.send(sub, d);
  const auto id = sub.packet_id;
  auto ack = s.await<mqtt::suback>([id](const mqtt::suback& a) { return a.packet_id == id; }, d, "SUBACK");
  if (ack.codes.size() != 1) throw cli_error(exit_failure, "malformed SUBACK from the broker");
  if (mqtt::is_error(ack.codes[0]))
    throw cli_error(exit_failure,
                    "the broker refused the subscription to " + filter + ": " + reason_text(ack.codes[0]));
}

void session::publish(mqtt::publish p, deadline d) {
  auto& s = *p_;
  p.qos = mqtt::qos::at_least_once;
  p.packet_id = s.new_packet_id();
  const auto id = p.packet_id;
  s.send(p, d);
  auto ack = s.await<mqtt::puback>([id](const mqtt::puback& a) { return a.packet_id == id; }, d, "PUBACK");
  if (mqtt::is_error(ack.code)) {
    std::string why = "the broker refused the request: " + reason_text(ack.code);
    if (ack.props.reason_string) why += ": " + *ack.props.reason_string;
    throw cli_error(exit_failure, why);
  }
}

std::optional<mqtt::publish> session::receive(deadline d) {
  auto& s = *p_;
  while (s.inbox.empty()) {
    if (!s.pump(d)) return std::nullopt;
  }
  auto m = std::move(s.inbox.front());
  s.inbox.pop_front();
  return m;
}

void session::disconnect() noexcept {
  if (!p_ || !p_->open) return;
  auto& s = *p_;
  s.open = false;
  try {
    s.send(mqtt::disconnect{}, steady::now() + std::chrono::seconds(1), /*interruptible=*/false);
  } catch (...) {
  }
  boost::system::error_code ignored;
  s.sock.shutdown(tcp::socket::shutdown_both, ignored);
  s.sock.close(ignored);
}

}  // namespace edgemq::cli
