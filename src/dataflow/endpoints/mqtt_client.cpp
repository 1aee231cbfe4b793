#include "dataflow/endpoints/mqtt_client.hpp"

#include <deque>
#include <fstream>
#include <map>
#include <sstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "dataflow/endpoints/mqtt_ws.hpp"
#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace edgemq::dataflow {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

constexpr std::uint32_t max_inbound_packet = 16 * 1024 * 1024;
constexpr auto connect_timeout = std::chrono::seconds(10);

std::string read_secret_file(const std::string& path, std::string& error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = "cannot read " + path;
    return {};
  }
  std::stringstream ss;
  ss << f.rdbuf();
  auto s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();  // `echo secret > file`
  return s;
}

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

struct mqtt_client::impl : std::enable_shared_from_this<impl> {
  enum class state { idle, connecting, connected, waiting, stopped };

  impl(asio::io_context& io, options o, std::shared_ptr<spdlog::logger> l)
      : io_(io), opts_(std::move(o)), log_(std::move(l)), resolver_(io), timer_(io), ping_timer_(io) {}

  asio::io_context& io_;
  options opts_;
  std::shared_ptr<spdlog::logger> log_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;       // connect timeout, then the backoff before the next attempt
  asio::steady_timer ping_timer_;  // keep alive
  std::shared_ptr<ssl::context> ctx_;
  std::string ctx_error_;
  std::unique_ptr<tcp::socket> sock_;
  std::unique_ptr<ssl::stream<tcp::socket>> tls_;
  state state_ = state::idle;
  std::uint64_t generation_ = 0;  // one per connection attempt: stale completions are ignored
  std::chrono::milliseconds backoff_{0};
  std::string last_error_ = "not connected yet";
  std::uint16_t server_receive_max_ = 65535;
  steady::time_point last_rx_{}, last_tx_{};

  // Output: what is being written, and what waits for the next write (with the QoS 0
  // completions each holds).
  std::string out_, writing_;
  std::vector<publish_done> out_done_, writing_done_;
  bool write_busy_ = false;
  // Input.
  std::vector<std::uint8_t> rbuf_ = std::vector<std::uint8_t>(64 * 1024);
  std::string acc_;
  // Publishes: in flight (QoS 1, by packet id) and waiting for a slot.
  std::map<std::uint16_t, publish_done> inflight_;
  std::deque<std::pair<mqtt::publish, publish_done>> waiting_;
  std::uint16_t next_id_ = 1;
  std::uint16_t sub_id_ = 1;

  std::vector<std::function<void()>> settle_waiters_;
  // WebSockets: the handshake's key and response, frames not yet complete, control frames to send.
  std::string ws_key_, ws_in_, ws_ctrl_, ws_handshake_;
  message_handler on_message_;
  std::function<void(bool, const std::string&)> on_state_;

  const mqtt_settings& s() const { return opts_.settings; }
  mqtt::protocol_version version() const {
    return s().v311 ? mqtt::protocol_version::v311 : mqtt::protocol_version::v5;
  }
  std::string where() const { return s().host + ":" + std::to_string(s().port); }

  std::size_t quota() const { return std::min<std::size_t>(s().max_inflight, server_receive_max_); }

  void make_context() {
    if (!s().tls || ctx_) return;
    try {
      auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
      ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      ctx->set_verify_mode(ssl::verify_peer);
      if (s().ca_file.empty())
        ctx->set_default_verify_paths();
      else
        ctx->load_verify_file(s().ca_file);
      if (s().auth_method == mqtt_settings::auth::x509) {
        ctx->use_certificate_chain_file(s().cert_file);
        ctx->use_private_key_file(s().key_file, ssl::context::pem);
      }
      ctx_ = std::move(ctx);
    } catch (const boost::system::system_error& e) {
      ctx_error_ = std::string("TLS settings: ") + e.what();
    }
  }

  template <class F>
  void with_stream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(*sock_);
  }

  void connect() {
    if (state_ == state::stopped) return;
    state_ = state::connecting;
    const auto gen = ++generation_;
    make_context();
    if (s().tls && !ctx_) return fail(gen, ctx_error_);
    auto self = shared_from_this();
    timer_.expires_after(connect_timeout);
    timer_.async_wait([self, gen](boost::system::error_code ec) {
      if (!ec && self->generation_ == gen && self->state_ == state::connecting) self->fail(gen, "connect timed out");
    });
    resolver_.async_resolve(s().host, std::to_string(s().port),
                            [self, gen](boost::system::error_code ec, tcp::resolver::results_type r) {
                              if (self->generation_ != gen || self->state_ != state::connecting) return;
                              if (ec) return self->fail(gen, "resolve " + self->s().host + ": " + ec.message());
                              self->open(gen, std::move(r));
                            });
  }

  void open(std::uint64_t gen, tcp::resolver::results_type endpoints) {
    auto self = shared_from_this();
    sock_.reset();
    tls_.reset();
    tcp::socket* raw = nullptr;
    if (s().tls) {
      tls_ = std::make_unique<ssl::stream<tcp::socket>>(io_, *ctx_);
      raw = &tls_->next_layer();
    } else {
      sock_ = std::make_unique<tcp::socket>(io_);
      raw = sock_.get();
    }
    asio::async_connect(*raw, endpoints, [self, gen](boost::system::error_code ec, const tcp::endpoint&) {
      if (self->generation_ != gen || self->state_ != state::connecting) return;
      if (ec) return self->fail(gen, "connect to " + self->where() + ": " + ec.message());
      boost::system::error_code ignored;
      (self->tls_ ? self->tls_->next_layer() : *self->sock_).set_option(tcp::no_delay(true), ignored);
      if (!self->tls_) return self->after_transport(gen);
      auto& t = *self->tls_;
      if (!is_ip_address(self->s().host)) SSL_set_tlsext_host_name(t.native_handle(), self->s().host.c_str());
      t.set_verify_callback(ssl::host_name_verification(self->s().host));
      t.async_handshake(ssl::stream_base::client, [self, gen](boost::system::error_code ec) {
        if (self->generation_ != gen || self->state_ != state::connecting) return;
        if (ec) return self->fail(gen, "TLS handshake with " + self->where() + ": " + ec.message());
        self->after_transport(gen);
      });
    });
  }

  void after_transport(std::uint64_t gen) {
    if (!s().websockets) return send_connect(gen);
    ws_key_ = ws_client::make_key();
    ws_in_.clear();
    ws_ctrl_.clear();
    ws_handshake_ = ws_client::upgrade_request(where(), s().ws_path, ws_key_);
    auto self = shared_from_this();
    with_stream([&](auto& stream) {
      asio::async_write(stream, asio::buffer(ws_handshake_), [self, gen](boost::system::error_code ec, std::size_t) {
        if (self->generation_ != gen || self->state_ != state::connecting) return;
        if (ec) return self->fail(gen, "WebSocket handshake with " + self->where() + ": " + ec.message());
        self->ws_handshake_.clear();
        self->read_ws_response(gen);
      });
    });
  }

  void read_ws_response(std::uint64_t gen) {
    auto self = shared_from_this();
    with_stream([&](auto& stream) {
      stream.async_read_some(asio::buffer(rbuf_), [self, gen](boost::system::error_code ec, std::size_t n) {
        if (self->generation_ != gen || self->state_ != state::connecting) return;
        if (ec) return self->fail(gen, "WebSocket handshake with " + self->where() + ": " + ec.message());
        auto& r = self->ws_handshake_;
        r.append(reinterpret_cast<const char*>(self->rbuf_.data()), n);
        const auto end = r.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (r.size() > 16384) return self->fail(gen, "WebSocket handshake: response too large");
          return self->read_ws_response(gen);
        }
        const std::string head = r.substr(0, end);
        self->ws_in_ = r.substr(end + 4);  // frames that came with the response
        r.clear();
        if (auto why = ws_client::check_upgrade_response(head, self->ws_key_); !why.empty())
          return self->fail(gen, why + " (" + self->where() + ")");
        self->send_connect(gen);  // the server speaks only after our CONNECT: ws_in_ is empty
      });
    });
  }

  // WebSocket frames from the server in ws_in_ into acc_; pings answered. False: failed.
  bool unframe(std::uint64_t gen) {
    if (auto why = ws_client::unframe(ws_in_, acc_, ws_ctrl_, max_inbound_packet); !why.empty()) {
      fail(gen, why);
      return false;
    }
    if (!ws_ctrl_.empty()) flush();
    return true;
  }

  void send_connect(std::uint64_t gen) {
    mqtt::connect c;
    c.version = version();
    c.client_id = opts_.client_id;
    c.clean_start = opts_.clean_start;
    c.keep_alive = s().keep_alive_s;
    if (opts_.session_expiry_s) c.props.session_expiry_interval = opts_.session_expiry_s;
    c.props.receive_maximum = s().max_inflight;  // for subscriptions: how many unacknowledged we take
    if (s().auth_method == mqtt_settings::auth::username_password) {
      std::string err;
      auto user = read_secret_file(s().username_file, err);
      auto pass = read_secret_file(s().password_file, err);
      if (!err.empty()) return fail(gen, "credentials: " + err);
      c.username = std::move(user);
      c.password = std::move(pass);
    }
    acc_.clear();
    out_.clear();
    out_done_.clear();
    write_busy_ = false;
    last_rx_ = last_tx_ = steady::now();
    send(c);
    read(gen);
  }

  void send(const mqtt::packet& p, publish_done done = nullptr) {
    if (mqtt::encode(p, version(), out_)) {
      if (done) post_done(std::move(done), false, "the message cannot be encoded as MQTT (too large?)");
      return;
    }
    if (done) out_done_.push_back(std::move(done));
    flush();
  }

  void flush() {
    if (write_busy_ || (out_.empty() && ws_ctrl_.empty()) || (!sock_ && !tls_)) return;
    write_busy_ = true;
    if (s().websockets) {
      writing_.clear();
      writing_.swap(ws_ctrl_);
      if (!out_.empty()) ws_client::append_frame(writing_, 2, out_);  // one binary frame per write
    } else {
      writing_.swap(out_);
    }
    out_.clear();
    writing_done_.swap(out_done_);
    out_done_.clear();
    last_tx_ = steady::now();
    auto self = shared_from_this();
    const auto gen = generation_;
    with_stream([&](auto& stream) {
      asio::async_write(stream, asio::buffer(writing_), [self, gen](boost::system::error_code ec, std::size_t) {
        if (self->generation_ != gen) return;
        self->write_busy_ = false;
        auto done = std::move(self->writing_done_);
        self->writing_done_.clear();
        self->writing_.clear();
        if (ec) {
          for (auto& d : done) d(false, "write: " + ec.message());
          return self->fail(gen, "write to " + self->where() + ": " + ec.message());
        }
        for (auto& d : done) d(true, {});
        self->flush();
      });
    });
  }

  void read(std::uint64_t gen) {
    auto self = shared_from_this();
    with_stream([&](auto& stream) {
      stream.async_read_some(asio::buffer(rbuf_), [self, gen](boost::system::error_code ec, std::size_t n) {
        if (self->generation_ != gen || self->state_ == state::stopped) return;
        if (ec) return self->fail(gen, "connection to " + self->where() + " lost: " + ec.message());
        self->last_rx_ = steady::now();
        if (self->s().websockets) {
          self->ws_in_.append(reinterpret_cast<const char*>(self->rbuf_.data()), n);
          if (!self->unframe(gen)) return;
        } else {
          self->acc_.append(reinterpret_cast<const char*>(self->rbuf_.data()), n);
        }
        if (!self->parse(gen)) return;
        self->read(gen);
      });
    });
  }

  // False when the connection failed on what came in.
  bool parse(std::uint64_t gen) {
    std::size_t used = 0;
    while (used < acc_.size()) {
      std::span<const std::uint8_t> rest(reinterpret_cast<const std::uint8_t*>(acc_.data()) + used, acc_.size() - used);
      const auto f = mqtt::parse_frame(rest, max_inbound_packet);
      if (f.status == mqtt::frame_status::need_more) break;
      if (f.status == mqtt::frame_status::error) {
        fail(gen, std::string("malformed input from the broker: ") + std::string(mqtt::to_string(f.error)));
        return false;
      }
      auto p = mqtt::decode(f.value.header, f.value.body, version());
      used += f.value.size;
      if (!p) {
        fail(gen, "undecodable packet from the broker: " + p.error().message());
        return false;
      }
      on_packet(gen, std::move(*p));
      if (generation_ != gen || state_ == state::stopped) return false;
    }
    acc_.erase(0, used);
    return true;
  }

  void on_packet(std::uint64_t gen, mqtt::packet p) {
    if (auto* ack = std::get_if<mqtt::connack>(&p)) return on_connack(gen, *ack);
    if (state_ != state::connected) return fail(gen, "a packet before CONNACK");
    if (auto* pa = std::get_if<mqtt::puback>(&p)) {
      auto it = inflight_.find(pa->packet_id);
      if (it == inflight_.end()) return;
      auto done = std::move(it->second);
      inflight_.erase(it);
      if (mqtt::is_error(pa->code))
        done(false, "PUBACK: " + std::string(mqtt::to_string(pa->code)));
      else
        done(true, {});
      return drain_waiting();
    }
    if (auto* pub = std::get_if<mqtt::publish>(&p)) return on_publish(gen, std::move(*pub));
    if (auto* sa = std::get_if<mqtt::suback>(&p)) {
      for (std::size_t i = 0; i < sa->codes.size(); ++i)
        if (mqtt::is_error(sa->codes[i]) && log_)
          log_->warn("MQTT endpoint {}: subscription {} refused: {}", where(),
                     i < opts_.subscriptions.size() ? opts_.subscriptions[i] : std::string("?"),
                     mqtt::to_string(sa->codes[i]));
      return;
    }
    if (auto* d = std::get_if<mqtt::disconnect>(&p))
      return fail(gen, "DISCONNECT from " + where() + ": " + std::string(mqtt::to_string(d->code)));
    // PINGRESP: last_rx_ moved already. Anything else (QoS 2 acks, AUTH) is not ours to handle.
  }

  void on_connack(std::uint64_t gen, const mqtt::connack& ack) {
    if (state_ != state::connecting) return fail(gen, "a second CONNACK");
    if (ack.code != mqtt::reason_code::success)
      return fail(gen, "CONNACK from " + where() + ": " + std::string(mqtt::to_string(ack.code)));
    timer_.cancel();
    state_ = state::connected;
    backoff_ = std::chrono::milliseconds(0);
    last_error_.clear();
    server_receive_max_ = ack.props.receive_maximum.value_or(65535);
    if (log_)
      log_->info("MQTT endpoint {}: connected as '{}' (session present {})", where(), opts_.client_id,
                 ack.session_present);
    if (!opts_.subscriptions.empty()) {
      mqtt::subscribe sub;
      sub.packet_id = sub_id_++;
      if (sub_id_ == 0) sub_id_ = 1;
      for (const auto& f : opts_.subscriptions) {
        mqtt::subscription e;
        e.filter = f;
        e.options.qos = static_cast<mqtt::qos>(s().qos);
        sub.entries.push_back(std::move(e));
      }
      send(sub);
    }
    schedule_ping(gen);
    drain_waiting();
    if (on_state_) on_state_(true, {});
    settled();
  }

  void settled() {
    auto waiters = std::move(settle_waiters_);
    settle_waiters_.clear();
    for (auto& w : waiters) w();
  }

  void on_publish(std::uint64_t gen, mqtt::publish p) {
    std::function<void()> ack = [] {};
    if (p.qos == mqtt::qos::at_least_once) {
      std::weak_ptr<impl> weak = shared_from_this();
      ack = [weak, gen, id = p.packet_id] {
        auto self = weak.lock();
        if (!self || self->generation_ != gen || self->state_ != state::connected) return;
        mqtt::encode_plain_ack(mqtt::packet_type::puback, id, mqtt::reason_code::success, self->version(), self->out_);
        self->flush();
      };
    } else if (p.qos == mqtt::qos::exactly_once) {
      return fail(gen, "a QoS 2 message although we subscribed at QoS 1 at most");
    }
    if (on_message_) on_message_(std::move(p), std::move(ack));
  }

  void schedule_ping(std::uint64_t gen) {
    const auto ka = s().keep_alive_s;
    if (ka == 0) return;
    auto self = shared_from_this();
    ping_timer_.expires_after(std::chrono::milliseconds(ka * 500));
    ping_timer_.async_wait([self, gen, ka](boost::system::error_code ec) {
      if (ec || self->generation_ != gen || self->state_ != state::connected) return;
      const auto now = steady::now();
      if (now - self->last_rx_ > std::chrono::milliseconds(ka * 1500))
        return self->fail(gen, "keep alive: no answer from " + self->where());
      if (now - self->last_tx_ >= std::chrono::milliseconds(ka * 500)) self->send(mqtt::pingreq{});
      self->schedule_ping(gen);
    });
  }

  void drain_waiting() {
    while (state_ == state::connected && !waiting_.empty() && inflight_.size() < quota()) {
      auto [p, done] = std::move(waiting_.front());
      waiting_.pop_front();
      send_publish(std::move(p), std::move(done));
    }
  }

  void send_publish(mqtt::publish p, publish_done done) {
    if (p.qos == mqtt::qos::at_most_once) {
      p.packet_id = 0;
      return send(p, std::move(done));
    }
    while (inflight_.contains(next_id_) || next_id_ == 0) ++next_id_;
    p.packet_id = next_id_++;
    inflight_.emplace(p.packet_id, std::move(done));
    send(p);
  }

  void post_done(publish_done done, bool ok, std::string why) {
    asio::post(io_, [done = std::move(done), ok, why = std::move(why)] { done(ok, why); });
  }

  void publish(mqtt::publish p, publish_done done) {
    if (state_ != state::connected) return post_done(std::move(done), false, "not connected: " + last_error_);
    // Completions must not run inside publish(): the PUBACK path and write path are asynchronous
    // already; waiting_ is drained from them.
    if (inflight_.size() >= quota())
      waiting_.emplace_back(std::move(p), std::move(done));
    else
      send_publish(std::move(p), std::move(done));
  }

  // The connection attempt or connection `gen` failed: everything in flight fails, then a retry
  // after the backoff.
  void fail(std::uint64_t gen, const std::string& why) {
    if (gen != generation_ || state_ == state::stopped || state_ == state::waiting) return;
    const bool was_up = state_ == state::connected;
    ++generation_;  // stale completions of this connection are ignored from now on
    last_error_ = why;
    close_streams();
    state_ = state::waiting;
    if (log_) {
      if (was_up)
        log_->warn("MQTT endpoint {}: {}", where(), why);
      else
        log_->info("MQTT endpoint {}: {}", where(), why);
    }
    auto inflight = std::move(inflight_);
    inflight_.clear();
    auto waiting = std::move(waiting_);
    waiting_.clear();
    auto queued = std::move(out_done_);
    out_done_.clear();
    out_.clear();
    for (auto& [id, d] : inflight) d(false, "connection lost before PUBACK: " + why);
    for (auto& [p, d] : waiting) d(false, "connection lost: " + why);
    for (auto& d : queued) d(false, "connection lost: " + why);
    if (was_up && on_state_) on_state_(false, why);
    if (!was_up) settled();
    if (state_ != state::waiting) return;  // a callback stopped us
    backoff_ = backoff_.count() == 0 ? opts_.backoff_min : std::min(backoff_ * 2, opts_.backoff_max);
    auto self = shared_from_this();
    const auto at = generation_;
    timer_.expires_after(backoff_);
    timer_.async_wait([self, at](boost::system::error_code ec) {
      if (!ec && self->generation_ == at && self->state_ == state::waiting) self->connect();
    });
  }

  void close_streams() {
    boost::system::error_code ignored;
    resolver_.cancel();
    ping_timer_.cancel();
    timer_.cancel();
    if (tls_) tls_->next_layer().close(ignored);
    if (sock_) sock_->close(ignored);
    // The objects stay until the next attempt: handlers still queued may refer to them.
    write_busy_ = false;
    writing_done_.clear();
    ws_ctrl_.clear();
  }

  void stop() {
    if (state_ == state::stopped) return;
    if (state_ == state::connected && !write_busy_) {
      // A polite DISCONNECT when the socket is idle (best effort, without waiting).
      std::string packet, bye;
      mqtt::encode(mqtt::disconnect{}, version(), packet);
      if (s().websockets)
        ws_client::append_frame(bye, 2, packet);
      else
        bye = std::move(packet);
      boost::system::error_code ignored;
      with_stream([&](auto& stream) {
        if constexpr (std::is_same_v<std::decay_t<decltype(stream)>, tcp::socket>)
          stream.write_some(asio::buffer(bye), ignored);
      });
    }
    state_ = state::stopped;
    ++generation_;
    close_streams();
    inflight_.clear();
    waiting_.clear();
    out_done_.clear();
    on_message_ = nullptr;
    on_state_ = nullptr;
    settle_waiters_.clear();
  }
};

mqtt_client::mqtt_client(asio::io_context& io, options o, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<impl>(io, std::move(o), std::move(log))) {}

mqtt_client::~mqtt_client() {
  stop();
}

void mqtt_client::on_message(message_handler h) {
  impl_->on_message_ = std::move(h);
}
void mqtt_client::on_state(std::function<void(bool, const std::string&)> f) {
  impl_->on_state_ = std::move(f);
}
void mqtt_client::start() {
  if (impl_->state_ == impl::state::idle) impl_->connect();
}
void mqtt_client::stop() {
  impl_->stop();
}
bool mqtt_client::connected() const {
  return impl_->state_ == impl::state::connected;
}
bool mqtt_client::connecting() const {
  return impl_->state_ == impl::state::connecting;
}
void mqtt_client::when_settled(std::function<void()> f) {
  if (impl_->state_ == impl::state::connecting)
    impl_->settle_waiters_.push_back(std::move(f));
  else
    asio::post(impl_->io_, std::move(f));
}
std::size_t mqtt_client::send_quota() const {
  return impl_->quota();
}
std::string mqtt_client::last_error() const {
  return impl_->last_error_;
}
void mqtt_client::publish(mqtt::publish p, publish_done done) {
  impl_->publish(std::move(p), std::move(done));
}

}  // namespace edgemq::dataflow
