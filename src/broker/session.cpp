#include "broker/session.hpp"

namespace edgemq::broker {

void session::enqueue(delivery d) {
  std::shared_ptr<link> to_wake;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (ended_) return;
    const bool offline = link_ == nullptr;
    if (offline && d.qos == mqtt::qos::at_most_once && !limits_.queue_qos0_offline) {
      bump(stats_.dropped_qos0_offline);
      return;
    }
    const std::size_t size = d.msg->payload.size() + d.msg->topic.size();
    if (queue_.size() >= limits_.max_queued_messages || queued_bytes_ + size > limits_.max_queued_bytes) {
      bump(stats_.dropped_queue_full);
      return;
    }
    queued_bytes_ += size;
    queue_.push_back(std::move(d));
    if (link_ && !notified_) {
      notified_ = true;
      to_wake = link_;
    }
  }
  if (to_wake) to_wake->notify();
}

std::uint16_t session::allocate_packet_id() {
  for (std::uint32_t tries = 0; tries < 65535; ++tries) {
    const std::uint16_t id = next_packet_id_;
    next_packet_id_ = next_packet_id_ == 65535 ? 1 : next_packet_id_ + 1;
    if (!inflight_.contains(id)) return id;
  }
  return 0;
}

}  // namespace edgemq::broker
