// SUBSCRIBE and UNSUBSCRIBE: the index, the session's record of it, retained delivery.
#include "broker/client_channel.hpp"
#include "broker/lifecycle_events.hpp"
#include "broker/topic_access.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::broker {

void client_channel::on_subscribe(const mqtt::subscribe& s) {
  const auto& lim = broker_.config();
  std::uint32_t sub_id = 0;
  if (v5() && !s.props.subscription_identifiers.empty()) {
    if (!lim.subscription_identifiers_available) return fail(mqtt::reason_code::subscription_identifiers_not_supported);
    sub_id = s.props.subscription_identifiers.front();
  }
  mqtt::suback ack;
  ack.packet_id = s.packet_id;
  std::vector<delivery> retained;
  const auto now = broker_.now();
  for (const auto& e : s.entries) {
    const bool shared = mqtt::is_shared_filter(e.filter);
    if (shared) {
      if (!lim.shared_subscription_available) {
        ack.codes.push_back(mqtt::reason_code::shared_subscriptions_not_supported);
        continue;
      }
      if (e.options.no_local) return fail(mqtt::reason_code::protocol_error);  // MQTT-3.8.3-4
      std::string_view name, filter;
      if (!parse_shared_filter(e.filter, name, filter)) {  // MQTT-4.8.2-1, 4.8.2-2
        ack.codes.push_back(mqtt::reason_code::topic_filter_invalid);
        continue;
      }
    }
    // Another client's state store topics are never subscribable (topic_access.hpp).
    std::string_view plain = e.filter;
    if (shared) {
      std::string_view name;
      parse_shared_filter(e.filter, name, plain);
    }
    // With a policy: the filter must be covered by a granted one (auth/topic_cover.hpp).
    // Under the private namespace only the lifecycle events are subscribable.
    if (filter_reaches_other_clients(plain, id()) || (private_filter(plain) && !events_filter(plain)) ||
        (permissions_ && !permissions_->may_subscribe(plain))) {
      bump(broker_.stats().subscribe_denied);
      ack.codes.push_back(mqtt::reason_code::not_authorized);  // 3.1.1: 0x80
      continue;
    }
    if (!lim.wildcard_subscription_available && e.filter.find_first_of("+#") != std::string::npos) {
      ack.codes.push_back(mqtt::reason_code::wildcard_subscriptions_not_supported);
      continue;
    }
    subscription_record rec;
    rec.options = e.options;
    if (static_cast<std::uint8_t>(rec.options.qos) > static_cast<std::uint8_t>(lim.maximum_qos))
      rec.options.qos = lim.maximum_qos;
    rec.subscription_id = sub_id;
    const bool existed = broker_.subscriptions().subscribe(e.filter, {session_.get(), rec.options, sub_id});
    bool ended = false;
    {
      auto sl = session_->lock();
      ended = session_->ended_;
      if (!ended) session_->subscriptions_.insert_or_assign(e.filter, rec);
    }
    if (ended) {  // taken over with clean start meanwhile: leave nothing behind in the index
      broker_.subscriptions().unsubscribe(e.filter, session_.get());
      ack.codes.push_back(mqtt::reason_code::unspecified_error);
      continue;
    }
    ack.codes.push_back(static_cast<mqtt::reason_code>(rec.options.qos));
    // No retained messages for shared subscriptions (MQTT 4.8.2); otherwise per Retain Handling
    // (MQTT-3.3.1-9, 3.3.1-10, 3.3.1-11).
    const auto rh = rec.options.retain_handling;
    if (!shared && (rh == mqtt::retain_handling::send || (rh == mqtt::retain_handling::send_if_new && !existed))) {
      broker_.retained().match(e.filter, now, [&](const message_ptr& m) {
        delivery d;
        d.msg = m;
        d.qos =
            static_cast<std::uint8_t>(m->qos) < static_cast<std::uint8_t>(rec.options.qos) ? m->qos : rec.options.qos;
        d.retain = true;  // retained on subscribe keeps its flag (MQTT-3.3.1-9 in 3.1.1, 3.3.1.3)
        if (sub_id) d.subscription_ids.push_back(sub_id);
        retained.push_back(std::move(d));
      });
    }
  }
  save_subscriptions();
  send(ack);  // SUBACK precedes the retained messages it triggers
  for (auto& d : retained) session_->enqueue(std::move(d));
  if (!retained.empty()) pull();
  emit_filters_event(
      true, s.entries.size(), [&](std::size_t i) { return std::string_view(s.entries[i].filter); }, ack.codes);
}

template <class FilterAt>
void client_channel::emit_filters_event(bool subscribed, std::size_t n, FilterAt&& filter_at,
                                        const std::vector<mqtt::reason_code>& codes) {
  if (!broker_.config().lifecycle_events) return;
  std::vector<event_filter> filters;
  filters.reserve(n);
  for (std::size_t i = 0; i < n && i < codes.size(); ++i) filters.push_back({filter_at(i), codes[i]});
  std::string listener;
  if (subscribed)
    broker_.events().subscribed(event_self(listener), filters);
  else
    broker_.events().unsubscribed(event_self(listener), filters);
}

void client_channel::on_unsubscribe(const mqtt::unsubscribe& u) {
  mqtt::unsuback ack;
  ack.packet_id = u.packet_id;
  for (const auto& f : u.filters) {
    const bool found = broker_.subscriptions().unsubscribe(f, session_.get());
    {
      auto sl = session_->lock();
      session_->subscriptions_.erase(f);
    }
    ack.codes.push_back(found ? mqtt::reason_code::success : mqtt::reason_code::no_subscription_existed);
  }
  save_subscriptions();
  send(ack);
  emit_filters_event(
      false, u.filters.size(), [&](std::size_t i) { return std::string_view(u.filters[i]); }, ack.codes);
}

void client_channel::save_subscriptions() {
  auto sl = session_->lock();
  if (auto* db = session_->durable()) db->save_session(session_->image_locked(0));
}

}  // namespace edgemq::broker
