#include "admin/command_service.hpp"

#include <random>

#include "broker/topic_access.hpp"

namespace edgemq::admin {

command_service::command_service(broker::broker& core) : core_(core) {
  std::random_device rd;
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) nonce_ += hex[rd() & 15];
  core_.services().add(std::string(broker::command_reply_topic), this);
}

std::function<void()> command_service::start(command_request r, std::function<void(command_reply)> done) {
  std::string correlation;
  {
    std::lock_guard g(mu_);
    correlation = nonce_ + "-" + std::to_string(++next_);
    waiting_.emplace(correlation, waiting{r.client_id, std::move(done)});
  }
  auto m = std::make_shared<broker::message>();
  m->topic = std::move(r.topic);
  m->payload = std::move(r.payload);
  m->qos = mqtt::qos::at_least_once;
  m->origin_client_id = "$admin";
  auto& props = m->props.mut();
  props.response_topic = std::string(broker::command_reply_topic);
  props.correlation_data = correlation;
  // Whole seconds, rounded up: the request is not delivered once the caller has stopped waiting.
  const auto seconds = static_cast<std::uint32_t>((r.timeout.count() + 999) / 1000);
  props.message_expiry_interval = seconds;
  m->expires_at = core_.now() + r.timeout;
  if (r.content_type) props.content_type = std::move(r.content_type);
  props.user_properties = std::move(r.properties);
  core_.publish(m);
  return [this, correlation] {
    std::lock_guard g(mu_);
    waiting_.erase(correlation);
  };
}

mqtt::reason_code command_service::on_publish(const broker::publish_context& ctx, mqtt::publish& p) {
  if (!p.props.correlation_data) return mqtt::reason_code::success;  // not an answer: dropped
  std::function<void(command_reply)> done;
  {
    std::lock_guard g(mu_);
    auto it = waiting_.find(*p.props.correlation_data);
    // Only the addressed device answers its command.
    if (it == waiting_.end() || it->second.client_id != ctx.client_id) return mqtt::reason_code::success;
    done = std::move(it->second.done);
    waiting_.erase(it);
  }
  done({std::move(p.payload), std::move(p.props.content_type), std::move(p.props.user_properties)});
  return mqtt::reason_code::success;
}

std::size_t command_service::pending() const {
  std::lock_guard g(mu_);
  return waiting_.size();
}

}  // namespace edgemq::admin
