// One client connection's MQTT protocol state machine, free of I/O: bytes in, encoded packets
// out. The net layer feeds it what it reads, writes what it produces and closes the transport
// when it says so. Not thread-safe: every method is called with the connection's owner lock
// held, usually on the connection's worker, but pull() and the output accessors also from another
// worker writing to a quiet connection (ADR 0006). Threads and lock order:
// docs/adr/0001-layering-and-threading.md, "Threads and locks today".
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/authenticator.hpp"
#include "broker/broker.hpp"
#include "broker/listener_security.hpp"
#include "broker/string_map.hpp"
#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace spdlog {
class logger;
}

namespace edgemq::broker {

// Payloads up to this size are copied into the head buffer; larger ones are shared.
inline constexpr std::size_t inline_payload_max = 2048;
// Output moved from the session queue per pull() at most (about what a socket takes at once).
inline constexpr std::size_t pull_bytes = 64 * 1024;

// One piece of output: a range of the output's head buffer (encoded packets, small payloads), then
// optionally a shared payload. All heads of a wake-up share one buffer, so steady traffic allocates nothing.
struct out_chunk {
  std::size_t head_begin = 0;
  std::size_t head_end = 0;
  message_ptr body;  // its payload follows the head bytes on the wire
};

// A channel's pending output, handed to the writer whole (take_output): made when the channel
// first has something to send, so an idle connection whose writer let it go holds none.
struct channel_output {
  std::string heads;
  std::vector<out_chunk> chunks;
};

class client_channel {
 public:
  client_channel(broker& b, std::shared_ptr<link> self, std::shared_ptr<spdlog::logger> log);

  // Bytes received from the peer. Any number of frames, or part of one.
  void on_data(std::span<const std::uint8_t> data, clock::time_point now);
  // Moves queued deliveries of the session into the output, within the client's Receive
  // Maximum and our output budget. Call on link::notify and when a write completes; may run on
  // another worker's thread (under the owner lock), so it never assumes the connection's executor.
  void pull();
  // Close the connection for `why` (takeover, shutdown): MQTT 5 clients get a DISCONNECT.
  void kick(mqtt::reason_code why);
  // The transport is gone. Publishes the will unless the client disconnected normally and
  // hands the session back to the registry. Idempotent.
  void on_close(clock::time_point now);

  // 1.5 times the keep alive has passed without a packet from the client (MQTT-3.1.2-22).
  bool keep_alive_expired(clock::time_point now) const;
  std::chrono::milliseconds keep_alive_timeout() const;  // 0: no keep alive
  // Time until keep_alive_expired() could first become true (at least 1 ms).
  std::chrono::milliseconds keep_alive_remaining(clock::time_point now) const;

  // The credentials the client authenticated with (a token) have expired without a successful
  // re-authentication: the connection ends with DISCONNECT 0xA0 (maximum connect time).
  bool credentials_expired(clock::time_point now) const { return now >= credentials_expiry(); }
  // When they expire (time_point::max(): never). Moves with each re-authentication.
  clock::time_point credentials_expiry() const noexcept {
    return rare_ ? rare_->credentials_expire : clock::time_point::max();
  }
  // What the connection's timer checks: the keep alive and the credentials' expiry. The reason
  // to close with when one of them has run out now, else success; and when to check next (at
  // least 1 ms; milliseconds::max() when neither applies).
  mqtt::reason_code timer_expired(clock::time_point now) const;
  std::chrono::milliseconds timer_remaining(clock::time_point now) const;

  bool connected() const noexcept { return state_ == state::connected; }
  bool closing() const noexcept { return closing_; }
  const std::string& client_id() const noexcept { return id(); }
  mqtt::protocol_version version() const noexcept { return version_; }
  // The listener this connection came through (its index; its security settings apply) and
  // the client certificate its TLS handshake verified, if any. Set before the first byte.
  void set_listener(std::uint32_t listener) noexcept { listener_ = listener; }
  void set_peer_certificate(peer_certificate cert) {
    rare().peer_cert = std::make_unique<peer_certificate>(std::move(cert));
  }
  // The peer's address ("127.0.0.1:5555") and the listener as the ready line names it, for the
  // connect and disconnect log lines. Set by net before the first byte, like set_listener.
  void set_peer(std::string address, std::shared_ptr<const std::string> listener_name) {
    peer_address_ = std::move(address);
    listener_name_ = std::move(listener_name);
  }
  // Who the client is: null until CONNECT is accepted, and for an anonymous client (no vouched-for
  // username, no certificate or authenticator attributes), which keeps none.
  const std::shared_ptr<const principal>& who() const noexcept { return principal_; }
  // Its authorization (null: no policy on its listener).
  const client_permissions* permissions() const noexcept { return permissions_.get(); }

  bool has_output() const noexcept { return out_ && !out_->chunks.empty(); }
  // The last pull() left deliveries queued only because its output budget (pull_bytes, or the
  // output limit) was spent: pull again once this output is written (nothing else will prompt it).
  bool budget_hit() const noexcept { return budget_hit_; }
  // A service answered a request of this client while its data was handled (the state store's
  // reply, ADR 0030): the reader pulls before it writes, so the acknowledgement and the answer
  // leave in one write instead of two. Reset by reading it.
  bool take_pull_hint() noexcept { return std::exchange(pull_hint_, false); }
  std::size_t output_bytes() const noexcept { return out_bytes_; }
  // Hands the pending output to the writer: `heads` and `chunks` must be empty and are swapped
  // with the channel's (so their capacity is reused on the next wake-up).
  void take_output(std::string& heads, std::vector<out_chunk>& chunks) noexcept {
    if (out_) {
      heads.swap(out_->heads);
      chunks.swap(out_->chunks);
    }
    out_bytes_ = 0;
  }
  // The same, swapping the whole output: `out` is null or empty, and comes back to the channel at
  // the next take (its capacity reused); a writer that drops it leaves the channel none.
  void take_output(std::unique_ptr<channel_output>& out) noexcept {
    out.swap(out_);
    out_bytes_ = 0;
  }

 private:
  enum class state : std::uint8_t { awaiting_connect, authenticating, connected, closed };

  void on_frame(const mqtt::frame& f);
  void on_connect_frame(const mqtt::frame& f);
  void on_connect(mqtt::connect& c);
  void accept(mqtt::connect& c, const auth_step* enhanced);
  // Builds principal_ and asks the listener's authorizer for permissions_; false: may not connect.
  bool authorize_connect(const mqtt::connect& c, const auth_step* enhanced, const std::string& client_id);
  mqtt::reason_code check_credentials(const mqtt::connect& c) const;
  void deny_publish(const mqtt::publish& p);
  bool may_publish_will(std::string_view topic) const;
  // A resumed session keeps only the subscriptions this connection's permissions grant.
  void drop_unauthorized_subscriptions();
  void on_auth(const mqtt::auth& a);
  // Applies one authenticator step: accept, continue with AUTH 0x18, or refuse.
  void apply_auth_step(const auth_step& step);
  void on_publish(mqtt::publish& p, bool has_props = true);  // false: p.props is known empty
  // Acknowledgements: their properties (a reason string at most) change nothing here.
  void on_ack(mqtt::packet_type type, std::uint16_t packet_id, mqtt::reason_code code);
  void on_puback(std::uint16_t packet_id);
  void on_pubrec(std::uint16_t packet_id, mqtt::reason_code code);
  void on_pubrel(std::uint16_t packet_id);
  void on_pubcomp(std::uint16_t packet_id);
  void on_subscribe(const mqtt::subscribe& s);
  void on_unsubscribe(const mqtt::unsubscribe& u);
  // The subscribed/unsubscribed lifecycle event: filter i and its SUBACK/UNSUBACK code.
  template <class FilterAt>
  void emit_filters_event(bool subscribed, std::size_t n, FilterAt&& filter_at,
                          const std::vector<mqtt::reason_code>& codes);
  void on_disconnect(const mqtt::disconnect& d);

  void resend_inflight();
  std::uint16_t outbound_alias(std::string_view topic, bool& first_use);
  // Protocol violation: DISCONNECT with `rc` for MQTT 5, then close.
  void fail(mqtt::reason_code rc);
  void send(const mqtt::packet& p);
  // False (nothing sent) when `h` cannot be encoded; pull() checks that first.
  bool send_publish(const mqtt::publish_head& h, const message_ptr& body);
  // Appends what `encode(out_heads_)` writes to the last chunk's head bytes (a new chunk after a
  // shared payload) and counts it in the output.
  template <class Encode>
  void append_head(Encode&& encode);
  bool v5() const noexcept { return version_ == mqtt::protocol_version::v5; }
  // The session holds the client id (the channel keeps no copy); empty before CONNECT is accepted.
  const std::string& id() const noexcept { return session_ ? session_->client_id() : no_id_; }
  static const std::string no_id_;

  // What few connections use, or only around CONNECT and close: made on first use, so that an
  // idle connection carries a pointer instead (an eighth of its channel).
  struct rare_state {
    // Why the connection ends, for the disconnect line (set where the end is decided; empty: the
    // socket closed under us). Static strings, except protocol errors that name their code.
    std::string close_reason;
    // The reason code the end came with (a DISCONNECT's, or the broker's own), for the
    // disconnected event; unset when the socket closed under us.
    std::optional<mqtt::reason_code> close_code;
    std::unique_ptr<mqtt::will_message> will;
    // Topic aliases both ways (MQTT 3.3.2.3.4): most clients use none.
    std::unordered_map<std::uint16_t, std::string> inbound_aliases;
    string_map<std::uint16_t> outbound_aliases;
    std::unique_ptr<mqtt::connect> pending_connect;  // while enhanced authentication runs
    std::unique_ptr<connect_decision> dialect;       // from CONNECT to CONNACK: the interceptor let it in
    std::unique_ptr<auth_exchange> auth;
    std::string auth_method;
    clock::time_point credentials_expire = clock::time_point::max();
    std::unique_ptr<peer_certificate> peer_cert;  // until CONNECT: the verified TLS client certificate
    std::string partial;                          // an incomplete frame carried to the next read; empty when idle
  };
  rare_state& rare() {
    if (!rare_) rare_ = std::make_unique<rare_state>();
    return *rare_;
  }
  void note_close(std::string why) {
    auto& r = rare();
    if (r.close_reason.empty()) r.close_reason = std::move(why);
  }
  void note_close(std::string why, mqtt::reason_code rc) {
    auto& r = rare();
    if (r.close_reason.empty()) {
      r.close_reason = std::move(why);
      r.close_code = rc;
    }
  }
  std::string_view close_reason() const noexcept {
    return rare_ && !rare_->close_reason.empty() ? std::string_view(rare_->close_reason) : "socket closed";
  }
  mqtt::will_message* will() const noexcept { return rare_ ? rare_->will.get() : nullptr; }
  auth_exchange* auth() const noexcept { return rare_ ? rare_->auth.get() : nullptr; }
  connect_decision* dialect() const noexcept { return rare_ ? rare_->dialect.get() : nullptr; }
  const peer_certificate* peer_cert() const noexcept { return rare_ ? rare_->peer_cert.get() : nullptr; }
  void drop_peer_cert() noexcept {
    if (rare_) rare_->peer_cert.reset();
  }

  // Fields ordered by size (no padding between the small ones).
  broker& broker_;
  std::shared_ptr<link> self_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<rare_state> rare_;
  std::string peer_address_;                          // for log lines only
  std::shared_ptr<const std::string> listener_name_;  // shared by the listener's connections
  // The will as it would be published if the connection closed at `now` (`delay`: its Will Delay
  // Interval, taken out of the message's properties).
  message_ptr will_message(clock::time_point now, std::uint32_t& delay) const;
  // This connection as lifecycle events describe it; `listener` holds the listener's name.
  event_client event_self(std::string& listener) const;
  std::shared_ptr<const listener_security> security_;  // taken at CONNECT
  std::shared_ptr<const principal> principal_;
  std::shared_ptr<const client_permissions> permissions_;
  session_ptr session_;
  clock::time_point last_rx_{};
  // Acknowledgements waiting for their messages to be durable, in the order the PUBLISHes came
  // (MQTT-4.6.0-2); sent by pull() once the store has decided their ticket: as they are if it is
  // durable, refused if the write failed (docs/persistence.md).
  struct deferred_ack {
    std::uint64_t ticket;
    mqtt::packet_type type;
    std::uint16_t packet_id;
    mqtt::reason_code code;
  };
  // Allocated with the first deferred acknowledgement (a connection that never publishes to
  // persistent subscribers keeps 8 bytes, not 24); not a deque: that allocates even when empty.
  std::unique_ptr<std::vector<deferred_ack>> deferred_acks_;
  void send_ack(mqtt::packet_type type, std::uint16_t packet_id, mqtt::reason_code code, std::uint64_t ticket);
  void send_plain_ack(mqtt::packet_type type, std::uint16_t packet_id, mqtt::reason_code code);
  void flush_deferred_acks();
  // The store could not make a message durable: an MQTT 5 client gets the acknowledgement with
  // the store's reason code (QoS 2: the exchange ends, its packet id is free again); a 3.1.1
  // client, whose acknowledgements carry no code, is disconnected unacknowledged so it resends.
  void refuse_ack(mqtt::packet_type type, std::uint16_t packet_id, mqtt::reason_code why);
  void save_subscriptions();
  const std::uint64_t connection_id_;
  std::unique_ptr<channel_output> out_;
  std::size_t out_bytes_ = 0;
  std::uint32_t listener_ = 0;
  std::uint32_t client_max_packet_size_ = 0xFFFFFFFF;
  std::uint16_t keep_alive_ = 0;
  std::uint16_t client_receive_maximum_ = 65535;
  std::uint16_t client_topic_alias_maximum_ = 0;
  state state_ = state::awaiting_connect;
  mqtt::protocol_version version_ = mqtt::protocol_version::v5;
  bool closing_ = false;
  bool budget_hit_ = false;  // see budget_hit()
  bool pull_hint_ = false;   // see take_pull_hint()
  bool will_armed_ = false;  // the session directory holds this connection's will (cluster mode)
};

}  // namespace edgemq::broker
