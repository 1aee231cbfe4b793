// Outbound delivery: session queue -> encoded PUBLISH, within Receive Maximum, the client's
// Maximum Packet Size and the output budget; re-sending in-flight messages on resume.
#include "broker/client_channel.hpp"

namespace edgemq::broker {

namespace {
mqtt::publish_head head_of(const delivery& d, std::uint16_t packet_id, bool dup) {
  mqtt::publish_head h;
  h.topic = d.msg->topic;
  h.qos = d.qos;
  h.retain = d.retain;
  h.dup = dup;
  h.packet_id = packet_id;
  h.props = &d.msg->props;
  h.subscription_ids = d.subscription_ids;
  h.payload_size = d.msg->payload.size();
  return h;
}
}  // namespace

void client_channel::pull() {
  if (state_ != state::connected || closing_) return;
  const auto& lim = broker_.config();
  const std::size_t max_inflight = std::min<std::size_t>(client_receive_maximum_, lim.max_inflight);
  std::size_t delivered = 0;
  std::size_t dropped = 0;
  auto sl = session_->lock();
  session_->notified_ = false;
  auto& q = session_->queue_;
  while (!q.empty() && out_bytes_ < lim.max_output_bytes) {
    delivery& d = q.front();
    std::uint16_t id = 0;
    if (d.qos != mqtt::qos::at_most_once) {
      if (session_->inflight_.size() >= max_inflight) break;  // MQTT-4.9.0-2: wait for acks
      id = session_->allocate_packet_id();
      if (id == 0) break;
    }
    const auto h = head_of(d, id, false);
    session_->queued_bytes_ -= d.msg->payload.size() + d.msg->topic.size();
    if (mqtt::encoded_size(h, version_) > client_max_packet_size_) {
      ++dropped;  // MQTT-3.1.2-25: never send a client more than it accepts
      q.pop_front();
      continue;
    }
    send_publish(h, d.msg);
    ++delivered;
    if (id != 0) session_->inflight_.emplace(id, inflight_message{std::move(d), inflight_stage::awaiting_ack});
    q.pop_front();
  }
  if (dropped) broker_.stats().messages_dropped.fetch_add(dropped, std::memory_order_relaxed);
}

void client_channel::resend_inflight() {
  auto sl = session_->lock();
  for (auto& [id, m] : session_->inflight_) {
    if (m.stage == inflight_stage::awaiting_ack) send_publish(head_of(m.d, id, true), m.d.msg);  // MQTT-4.4.0-1
    else send(mqtt::pubrel{id, mqtt::reason_code::success, {}});
  }
}

}  // namespace edgemq::broker
