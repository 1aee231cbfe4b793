// Outbound delivery: session queue -> encoded PUBLISH, within Receive Maximum, the client's
// Maximum Packet Size and the output budget; expiry, outbound topic aliases; re-sending
// in-flight messages on resume.
#include <array>

#include "broker/client_channel.hpp"

namespace edgemq::broker {

namespace {
mqtt::publish_head head_of(const delivery& d, std::uint16_t packet_id, bool dup, clock::time_point now) {
  mqtt::publish_head h;
  h.topic = d.msg->topic;
  h.qos = d.qos;
  h.retain = d.retain;
  h.dup = dup;
  h.packet_id = packet_id;
  h.props = d.msg->props.ptr();
  h.subscription_ids = d.subscription_ids;
  h.message_expiry = d.msg->remaining_expiry(now);  // MQTT-3.3.2-6: minus the time waited
  h.payload_size = d.msg->payload.size();
  return h;
}
}  // namespace

std::uint16_t client_channel::outbound_alias(std::string_view topic, bool& first_use) {
  first_use = false;
  if (client_topic_alias_maximum_ == 0) return 0;
  auto& out = rare().outbound_aliases;
  if (auto it = out.find(topic); it != out.end()) return it->second;
  // New topics get the next alias while any are left (MQTT-3.3.2-8: never above the client's
  // Topic Alias Maximum); once all are taken, further topics go without an alias.
  if (out.size() >= client_topic_alias_maximum_) return 0;
  const auto alias = static_cast<std::uint16_t>(out.size() + 1);
  out.emplace(topic, alias);
  first_use = true;
  return alias;
}

void client_channel::pull() {
  budget_hit_ = false;
  if (state_ != state::connected || closing_) return;
  flush_deferred_acks();
  const auto& lim = broker_.config();
  auto& stats = broker_.stats();
  const auto now = broker_.now();
  const std::size_t max_inflight = std::min<std::size_t>(client_receive_maximum_, lim.max_inflight);
  std::array<std::uint64_t, 3> sent_qos{};  // bumped once per pull, not per message
  std::uint64_t sent_bytes = 0;
  auto sl = session_->lock();
  // Taken over (the kick is on its way): the session's messages are the new connection's now.
  if (session_->current_link() != self_.get()) return;
  auto& st = *session_->state();  // attached: it has one
  st.notified_ = false;
  auto& q = st.queue_;
  // One pull moves at most pull_bytes: a backlog goes out in socket-sized writes, and the session
  // lock (which publishers need to queue more) is held briefly.
  const std::size_t budget = std::min(lim.max_output_bytes, out_bytes_ + pull_bytes);
  while (!q.empty() && out_bytes_ < budget) {
    delivery& d = q.front();
    auto* db = d.seq ? session_->durable() : nullptr;
    if (d.msg->expired(now)) {  // MQTT-3.3.2-5: not delivered once expired
      if (db) db->erase_message(this->id(), d.seq);
      st.queued_bytes_ -= d.msg->payload.size() + d.msg->topic.size();
      q.pop_front();
      bump(stats.dropped_expired);
      continue;
    }
    std::uint16_t id = 0;
    if (d.qos != mqtt::qos::at_most_once) {
      if (st.inflight_.size() >= max_inflight) break;  // MQTT-4.9.0-2: wait for acks
      id = st.allocate_packet_id();
      if (id == 0) break;
    }
    auto h = head_of(d, id, false, now);
    st.queued_bytes_ -= d.msg->payload.size() + d.msg->topic.size();
    const auto size = mqtt::encoded_size(h, version_);
    if (!size || *size > client_max_packet_size_) {
      // MQTT-3.1.2-25: never send a client more than it accepts; and never a packet whose topic,
      // properties or length do not fit their fields (a state store topic built from a long
      // client id or key): dropped and counted, never sent wrapped.
      bump(size ? stats.dropped_too_large : stats.dropped_unencodable);
      if (db) db->erase_message(this->id(), d.seq);
      q.pop_front();
      continue;
    }
    bool first_use = false;
    h.topic_alias = outbound_alias(h.topic, first_use);
    if (h.topic_alias && !first_use) h.topic = {};  // the alias alone names the topic
    send_publish(h, d.msg);
    ++sent_qos[static_cast<std::size_t>(d.qos)];
    sent_bytes += d.msg->payload.size();
    if (id != 0) {
      if (db) db->put_message(this->id(), d.seq, stored_stage::awaiting_ack, id, d);  // resumes with DUP
      st.inflight_.emplace(id, inflight_message{std::move(d), inflight_stage::awaiting_ack});
    }
    q.pop_front();
  }
  for (std::size_t q = 0; q < sent_qos.size(); ++q)
    if (sent_qos[q]) bump(stats.sent_by_qos[q], sent_qos[q]);
  if (sent_bytes) bump(stats.payload_bytes_sent, sent_bytes);
  budget_hit_ = !q.empty() && out_bytes_ >= budget;
}

void client_channel::resend_inflight() {
  const auto now = broker_.now();
  auto sl = session_->lock();
  auto* st = session_->state();
  if (!st) return;  // nothing in flight
  for (auto it = st->inflight_.begin(); it != st->inflight_.end();) {
    auto& [id, m] = *it;
    if (m.stage == inflight_stage::awaiting_ack) {
      // Onward delivery has started: expiry no longer applies (MQTT-3.3.2-5 covers messages not
      // yet sent), the flow is completed (MQTT-4.3.3-7, 4.4.0-1: re-sent with DUP).
      send_publish(head_of(m.d, id, true, now), m.d.msg);
    } else {
      send_plain_ack(mqtt::packet_type::pubrel, id, mqtt::reason_code::success);
    }
    ++it;
  }
}

}  // namespace edgemq::broker
