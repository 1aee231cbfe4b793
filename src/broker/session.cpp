#include "broker/session.hpp"

namespace edgemq::broker {

std::uint64_t session::enqueue(delivery d) {
  std::shared_ptr<link> to_wake;
  std::uint64_t ticket = 0;
  {
    std::lock_guard<small_mutex> g(mu_);
    if (ended_) return 0;
    const auto& lim = env_.lim;
    session_state* known = state_.get();
    if ((!known || !known->link_) && d.qos == mqtt::qos::at_most_once && !lim.queue_qos0_offline) {
      bump(env_.stats.dropped_qos0_offline);  // offline
      return 0;
    }
    const std::size_t size = d.msg->payload.size() + d.msg->topic.size();
    const std::size_t queued = known ? known->queue_.size() : 0;
    const std::size_t queued_bytes = known ? known->queued_bytes_ : 0;
    if (queued >= lim.max_queued_messages || queued_bytes + size > lim.max_queued_bytes) {
      bump(env_.stats.dropped_queue_full);
      return 0;
    }
    // Only now: a dropped delivery leaves an idle session without a state.
    auto& st = known ? *known : create_state();
    st.queued_bytes_ += size;
    if (auto* db = durable(); db && d.qos != mqtt::qos::at_most_once) {
      d.seq = next_seq_++;
      ticket = db->put_message(client_id_, d.seq, stored_stage::queued, 0, d);
    }
    st.queue_.push_back(std::move(d));
    if (st.link_ && !st.notified_) {
      st.notified_ = true;
      to_wake = st.link_;
    }
  }
  if (to_wake) to_wake->notify();
  return ticket;
}

session_image session::image_locked(std::uint64_t disconnected_wall_ms) const {
  session_image img;
  img.client_id = client_id_;
  img.expiry_interval = expiry_interval_;
  img.disconnected_wall_ms = disconnected_wall_ms;
  for (const auto& [f, rec] : subscriptions_) img.subscriptions.push_back({f, rec.options, rec.subscription_id});
  return img;
}

session_state& session::create_state() {
  state_ = std::make_unique<session_state>();
  return *state_;
}

std::uint16_t session_state::allocate_packet_id() {
  for (std::uint32_t tries = 0; tries < 65535; ++tries) {
    const std::uint16_t id = next_packet_id_;
    next_packet_id_ = next_packet_id_ == 65535 ? 1 : next_packet_id_ + 1;
    if (!inflight_.contains(id)) return id;
  }
  return 0;
}

}  // namespace edgemq::broker
