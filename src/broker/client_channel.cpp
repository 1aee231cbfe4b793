// Framing, dispatch, output assembly and the connection's end of life.
#include "broker/client_channel.hpp"

#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"

namespace edgemq::broker {

namespace {
std::atomic<std::uint64_t> next_connection_id{1};
}

const std::string client_channel::no_id_;

client_channel::client_channel(broker& b, std::shared_ptr<link> self, std::shared_ptr<spdlog::logger> log)
    : broker_(b),
      self_(std::move(self)),
      log_(std::move(log)),
      connection_id_(next_connection_id.fetch_add(1, std::memory_order_relaxed)) {}

void client_channel::on_data(std::span<const std::uint8_t> data, clock::time_point now) {
  if (closing_ || state_ == state::closed) return;
  last_rx_ = now;
  std::span<const std::uint8_t> buf = data;
  // rare_ is never released once made: the pointer stays valid while frames are handled.
  std::string* const carried = rare_ && !rare_->partial.empty() ? &rare_->partial : nullptr;
  if (carried) {
    carried->append(reinterpret_cast<const char*>(data.data()), data.size());
    buf = {reinterpret_cast<const std::uint8_t*>(carried->data()), carried->size()};
  }
  std::size_t used = 0;
  while (!closing_ && used < buf.size()) {
    const auto r = mqtt::parse_frame(buf.subspan(used), broker_.config().max_packet_size);
    if (r.status == mqtt::frame_status::need_more) break;
    if (r.status == mqtt::frame_status::error) {
      if (state_ == state::awaiting_connect)
        closing_ = true;
      else
        fail(r.error);
      break;
    }
    on_frame(r.value);
    used += r.value.size;
  }
  if (closing_) {
    if (rare_) std::string().swap(rare_->partial);
    return;
  }
  if (carried) {
    carried->erase(0, used);
  } else if (used < buf.size()) {
    rare().partial.assign(reinterpret_cast<const char*>(buf.data()) + used, buf.size() - used);
  }
  // An idle connection keeps no buffer: the capacity of a large packet is given back.
  if (rare_ && rare_->partial.empty() && rare_->partial.capacity() > 256) std::string().swap(rare_->partial);
}

void client_channel::on_frame(const mqtt::frame& f) {
  if (state_ == state::awaiting_connect) {
    on_connect_frame(f);
    return;
  }
  if (f.type() == mqtt::packet_type::publish && state_ == state::connected) {
    // The hot path: decoded into a per-thread value whose buffers are reused packet after packet.
    thread_local mqtt::publish scratch;
    thread_local bool scratch_props = false;
    if (const auto rc = mqtt::decode_publish(f.header, f.body, version_, scratch, scratch_props);
        rc != mqtt::reason_code::success)
      return fail(rc);
    return on_publish(scratch, scratch_props);
  }
  if (state_ == state::connected) {
    std::uint16_t id = 0;
    mqtt::reason_code code{};
    if (mqtt::decode_plain_ack(f.header, f.body, version_, id, code)) return on_ack(f.type(), id, code);
  }
  auto decoded = mqtt::decode(f.header, f.body, version_);
  if (!decoded) {
    fail(mqtt::to_reason_code(decoded.error()));
    return;
  }
  auto& p = *decoded;
  if (state_ == state::authenticating) {
    // Between CONNECT and CONNACK only AUTH may flow (MQTT 4.12).
    if (mqtt::type_of(p) == mqtt::packet_type::auth) return on_auth(std::get<mqtt::auth>(p));
    return fail(mqtt::reason_code::protocol_error);
  }
  switch (mqtt::type_of(p)) {
    case mqtt::packet_type::publish:
      on_publish(std::get<mqtt::publish>(p));
      break;
    case mqtt::packet_type::puback:
      on_puback(std::get<mqtt::puback>(p).packet_id);
      break;
    case mqtt::packet_type::pubrec:
      on_pubrec(std::get<mqtt::pubrec>(p).packet_id, std::get<mqtt::pubrec>(p).code);
      break;
    case mqtt::packet_type::pubrel:
      on_pubrel(std::get<mqtt::pubrel>(p).packet_id);
      break;
    case mqtt::packet_type::pubcomp:
      on_pubcomp(std::get<mqtt::pubcomp>(p).packet_id);
      break;
    case mqtt::packet_type::subscribe:
      on_subscribe(std::get<mqtt::subscribe>(p));
      break;
    case mqtt::packet_type::unsubscribe:
      on_unsubscribe(std::get<mqtt::unsubscribe>(p));
      break;
    case mqtt::packet_type::pingreq:
      send(mqtt::pingresp{});
      break;
    case mqtt::packet_type::disconnect:
      on_disconnect(std::get<mqtt::disconnect>(p));
      break;
    case mqtt::packet_type::auth:
      on_auth(std::get<mqtt::auth>(p));
      break;
    default:
      // A second CONNECT (MQTT-3.1.0-2) or a packet only a server sends.
      fail(mqtt::reason_code::protocol_error);
  }
}

void client_channel::fail(mqtt::reason_code rc) {
  if (closing_) return;
  bump(broker_.stats().protocol_errors);
  if (log_)
    log_->info("client '{}': closing on {} (0x{:02X})", log_safe(id()), mqtt::to_string(rc), static_cast<int>(rc));
  note_close(fmt::format("protocol error: {} (0x{:02X})", mqtt::to_string(rc), static_cast<int>(rc)), rc);
  // No DISCONNECT before a successful CONNACK (MQTT-3.14.0-1): during enhanced authentication
  // the refusal is the CONNACK itself.
  if (v5() && state_ == state::connected)
    send(mqtt::disconnect{rc, {}});
  else if (v5() && state_ == state::authenticating)
    send(mqtt::connack{false, rc, {}});
  closing_ = true;
}

void client_channel::kick(mqtt::reason_code why) {
  if (closing_ || state_ == state::closed) return;
  if (why == mqtt::reason_code::maximum_connect_time) bump(broker_.stats().auth_expired);
  if (v5() && state_ == state::connected) send(mqtt::disconnect{why, {}});
  switch (why) {
    case mqtt::reason_code::keep_alive_timeout:
      note_close("keep-alive timeout", why);
      break;
    case mqtt::reason_code::session_taken_over:
      note_close("taken over by a new connection", why);
      break;
    case mqtt::reason_code::administrative_action:
      note_close("administrative action", why);
      break;
    case mqtt::reason_code::server_shutting_down:
      note_close("server shutdown", why);
      break;
    case mqtt::reason_code::maximum_connect_time:
      note_close("credentials expired", why);
      break;
    default:
      note_close(fmt::format("{} (0x{:02X})", mqtt::to_string(why), static_cast<int>(why)), why);
  }
  closing_ = true;
}

void client_channel::on_disconnect(const mqtt::disconnect& d) {
  if (v5() && d.props.session_expiry_interval) {
    auto sl = session_->lock();
    // A session that was to end with the connection cannot be given a lifetime now.
    if (session_->expiry_interval_ == 0 && *d.props.session_expiry_interval != 0) {
      sl.unlock();
      fail(mqtt::reason_code::protocol_error);  // MQTT-3.14.2-2
      return;
    }
    session_->expiry_interval_ = std::min(*d.props.session_expiry_interval, broker_.config().max_session_expiry);
  }
  if ((!v5() || d.code != mqtt::reason_code::disconnect_with_will) && rare_) rare_->will.reset();  // MQTT-3.14.4-3
  if (v5() && d.code != mqtt::reason_code::success)
    note_close(fmt::format("DISCONNECT {} (0x{:02X})", mqtt::to_string(d.code), static_cast<int>(d.code)), d.code);
  else
    note_close("normal DISCONNECT", mqtt::reason_code::normal_disconnection);
  closing_ = true;
}

void client_channel::on_close(clock::time_point now) {
  if (state_ == state::connected) {
    if (log_) log_->info("client '{}' disconnected from {}: {}", log_safe(id()), peer_address_, close_reason());
    std::uint32_t delay = 0;
    message_ptr will = this->will() ? will_message(now, delay) : nullptr;
    if (rare_) rare_->will.reset();
    bool still_ours = false;
    {
      auto sl = session_->lock();
      still_ours = session_->current_link() == self_.get();
    }
    // Cluster mode: the will kept for other nodes is this node's again. Not when the session has
    // another connection now: that one's own will (or none) is what the directory holds.
    if (will_armed_ && still_ours)
      if (auto* dir = broker_.directory()) dir->disarm_will(id());
    // A session taken over belongs to the new connection: its messages stay with it.
    if (still_ours) broker_.reroute_shared(session_);
    broker_.services().connection_closed(id(), connection_id_);
    // The will waits in the session for its delay, unless the session ends first (MQTT-3.1.3-9).
    if (auto now_will = broker_.sessions().detach(session_, self_.get(), now, std::move(will), delay)) {
      bump(broker_.stats().wills_published);
      broker_.publish(now_will);
    }
    std::string listener;
    broker_.events().disconnected(event_self(listener), rare_ ? rare_->close_code : std::nullopt, close_reason());
  }
  state_ = state::closed;
  closing_ = true;
  self_.reset();  // break the link <-> channel cycle
}

message_ptr client_channel::will_message(clock::time_point now, std::uint32_t& delay) const {
  const auto& w = *will();
  auto m = std::make_shared<message>();
  delay = w.props.will_delay_interval.value_or(0);
  m->topic = w.topic;
  m->payload = w.payload;
  m->qos = w.qos;
  m->retain = w.retain;
  auto props = w.props;
  props.will_delay_interval.reset();
  if (props != mqtt::properties{}) m->props = std::move(props);
  if (m->props->message_expiry_interval)  // counts from publication, after the delay
    m->expires_at = now + std::chrono::seconds(delay) + std::chrono::seconds(*m->props->message_expiry_interval);
  m->origin_client_id = id();
  return m;
}

event_client client_channel::event_self(std::string& listener) const {
  listener = listener_name_ ? *listener_name_ : std::to_string(listener_);
  return {id(), principal_ ? &principal_->username : nullptr, listener, version_};
}

bool client_channel::keep_alive_expired(clock::time_point now) const {
  return keep_alive_ != 0 && now - last_rx_ > keep_alive_timeout();
}

std::chrono::milliseconds client_channel::keep_alive_timeout() const {
  return std::chrono::milliseconds(keep_alive_ * 1500);
}

std::chrono::milliseconds client_channel::keep_alive_remaining(clock::time_point now) const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(last_rx_ + keep_alive_timeout() - now);
  return std::max(left, std::chrono::milliseconds(1)) + std::chrono::milliseconds(1);
}

mqtt::reason_code client_channel::timer_expired(clock::time_point now) const {
  if (credentials_expired(now)) return mqtt::reason_code::maximum_connect_time;
  if (keep_alive_expired(now)) return mqtt::reason_code::keep_alive_timeout;
  return mqtt::reason_code::success;
}

std::chrono::milliseconds client_channel::timer_remaining(clock::time_point now) const {
  auto next = keep_alive_ != 0 ? keep_alive_remaining(now) : std::chrono::milliseconds::max();
  if (const auto expire = credentials_expiry(); expire != clock::time_point::max()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(expire - now);
    next = std::min(next, std::max(left, std::chrono::milliseconds(1)));
  }
  return next;
}

template <class Encode>
void client_channel::append_head(Encode&& encode) {
  if (!out_) out_ = std::make_unique<channel_output>();
  auto& heads = out_->heads;
  auto& chunks = out_->chunks;
  if (chunks.empty() || chunks.back().body) chunks.push_back({heads.size(), heads.size(), nullptr});
  const auto before = heads.size();
  encode(heads);
  chunks.back().head_end = heads.size();
  out_bytes_ += heads.size() - before;
}

void client_channel::send_plain_ack(mqtt::packet_type type, std::uint16_t packet_id, mqtt::reason_code code) {
  append_head([&](std::string& out) { mqtt::encode_plain_ack(type, packet_id, code, version_, out); });
}

void client_channel::send(const mqtt::packet& p) {
  std::error_code ec;
  append_head([&](std::string& out) { ec = mqtt::encode(p, version_, out); });
  if (!ec) return;
  // A reply that does not fit MQTT's fields (nothing was appended) is never sent malformed; the
  // conversation cannot go on without it, so the connection ends.
  if (log_)
    log_->warn("client '{}': cannot encode {} ({}), closing", log_safe(id()), mqtt::to_string(mqtt::type_of(p)),
               mqtt::to_string(mqtt::to_reason_code(ec)));
  closing_ = true;
}

bool client_channel::send_publish(const mqtt::publish_head& h, const message_ptr& body) {
  const auto& payload = body->payload;
  // A small payload is copied behind its head: cheaper than holding a reference (an atomic
  // count shared with every other subscriber's thread) and one more iovec per message.
  const bool inline_payload = payload.size() <= inline_payload_max;
  std::error_code ec;
  append_head([&](std::string& out) {
    ec = mqtt::encode_publish_head(h, version_, out);
    if (!ec && inline_payload) out.append(payload);
  });
  if (ec) return false;
  if (inline_payload) return true;
  out_->chunks.back().body = body;  // a larger one follows the head, shared
  out_bytes_ += payload.size();
  return true;
}

}  // namespace edgemq::broker
