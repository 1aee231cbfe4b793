// Inbound PUBLISH and the QoS 1/2 acknowledgement state machines in both directions.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "broker/client_channel.hpp"
#include "broker/log_safe.hpp"
#include "broker/message_pool.hpp"
#include "broker/topic_access.hpp"
#include "edgemq/mqtt/utf8.hpp"

namespace edgemq::broker {

void client_channel::on_publish(mqtt::publish& p, bool has_props) {
  const auto& lim = broker_.config();
  if (static_cast<std::uint8_t>(p.qos) > static_cast<std::uint8_t>(lim.maximum_qos))
    return fail(mqtt::reason_code::qos_not_supported);                                            // MQTT-3.2.2-11
  if (p.retain && !lim.retain_available) return fail(mqtt::reason_code::retain_not_supported);    // MQTT-3.2.2-14
  if (!p.props.subscription_identifiers.empty()) return fail(mqtt::reason_code::protocol_error);  // MQTT-3.3.4-6

  if (v5() && p.props.topic_alias) {
    const auto alias = *p.props.topic_alias;
    if (alias > lim.topic_alias_maximum) return fail(mqtt::reason_code::topic_alias_invalid);  // MQTT-3.3.2-9
    if (p.topic.empty()) {
      const std::string* known = nullptr;
      if (rare_) {
        if (auto it = rare_->inbound_aliases.find(alias); it != rare_->inbound_aliases.end()) known = &it->second;
      }
      if (!known) return fail(mqtt::reason_code::protocol_error);
      p.topic = *known;
    } else {
      rare().inbound_aliases[alias] = p.topic;
    }
  }

  if (broker_owned_topic(p.topic)) return deny_publish(p);
  if (permissions_ && !permissions_->may_publish(p.topic)) return deny_publish(p);  // the policy's
  if (auto* svc = broker_.services().find(p.topic)) {
    // A reserved topic: its service consumes the message; it is not routed (unless the service
    // says so: publish_context::route).
    if (p.qos == mqtt::qos::exactly_once) {
      auto sl = session_->lock();
      if (auto* st = session_->state(); st && st->inbound_qos2_.contains(p.packet_id)) {
        // Re-sent before PUBREL (MQTT 4.3.3): acknowledged, not executed a second time.
        sl.unlock();
        return send_plain_ack(mqtt::packet_type::pubrec, p.packet_id, mqtt::reason_code::success);
      }
    }
    const publish_context ctx{id(), connection_id_, version_, permissions_};
    const auto rc = svc->on_publish(ctx, p);
    if (mqtt::is_error(rc)) return fail(rc);
    if (ctx.route) {
      has_props = true;  // the service may have added properties
    } else {
      pull_hint_ = true;
      if (p.qos == mqtt::qos::at_least_once) send_plain_ack(mqtt::packet_type::puback, p.packet_id, rc);
      if (p.qos == mqtt::qos::exactly_once) {
        send_plain_ack(mqtt::packet_type::pubrec, p.packet_id, rc);
        auto sl = session_->lock();
        session_->ensure_state().inbound_qos2_.insert(p.packet_id);
      }
      return;
    }
  }

  mqtt::reason_code ack = mqtt::reason_code::success;
  if (v5() && p.props.payload_format_indicator == 1 && !mqtt::is_valid_mqtt_utf8(p.payload)) {
    if (p.qos == mqtt::qos::at_most_once) return fail(mqtt::reason_code::payload_format_invalid);
    ack = mqtt::reason_code::payload_format_invalid;  // answered, not routed (MQTT 3.3.2.3.2)
  }

  // The disk refuses writes: a QoS 1/2 message is refused before it is routed, so a publisher
  // that sends it again cannot cause a second delivery (exactly once stays exactly once).
  if (auto* db = broker_.durable(); db && p.qos != mqtt::qos::at_most_once && !db->healthy()) {
    bump(broker_.stats().refused_storage);
    const auto type = p.qos == mqtt::qos::at_least_once ? mqtt::packet_type::puback : mqtt::packet_type::pubrec;
    auto sl = session_->lock();
    const auto* st = session_->state();
    const bool resent = p.qos == mqtt::qos::exactly_once && st && st->inbound_qos2_.contains(p.packet_id);
    sl.unlock();
    if (resent) return send_ack(mqtt::packet_type::pubrec, p.packet_id, mqtt::reason_code::success, 0);
    return refuse_ack(type, p.packet_id, db->refusal());
  }

  bool route = mqtt::is_error(ack) == false;
  std::uint64_t ticket = 0;
  if (p.qos == mqtt::qos::exactly_once) {
    auto sl = session_->lock();
    auto& qos2 = session_->ensure_state().inbound_qos2_;
    if (qos2.contains(p.packet_id)) {
      route = false;  // a re-sent QoS 2 message already routed: acknowledge only (MQTT 4.3.3)
    } else if (route) {
      if (qos2.size() >= lim.receive_maximum) {
        sl.unlock();
        return fail(mqtt::reason_code::receive_maximum_exceeded);  // MQTT-3.3.4-7
      }
      qos2.insert(p.packet_id);
      // Remembered across a crash too, or a re-sent PUBLISH would be routed twice.
      if (auto* db = session_->durable()) ticket = db->put_inbound_qos2(id(), p.packet_id);
    }
  }

  std::size_t receivers = 0;
  if (route) {
    auto m = make_pooled_message();  // recycled, with its buffers
    // Swapped, not copied: the message takes the decoded buffers, the decoder gets the recycled
    // message's for the next packet; both keep their capacity.
    m->topic.swap(p.topic);
    m->payload.swap(p.payload);
    m->qos = p.qos;
    m->retain = p.retain;
    if (has_props) {  // a pooled message has none
      auto& props = m->props.mut();
      props = p.props;
      props.topic_alias.reset();
      props.subscription_identifiers.clear();
    }
    m->origin_client_id.assign(id());
    if (m->props->message_expiry_interval)
      m->expires_at = broker_.now() + std::chrono::seconds(*m->props->message_expiry_interval);
    std::uint64_t routed_ticket = 0;
    receivers = broker_.publish(m, &routed_ticket);
    ticket = std::max(ticket, routed_ticket);
  }
  if (ack == mqtt::reason_code::success && route && receivers == 0) ack = mqtt::reason_code::no_matching_subscribers;
  switch (p.qos) {
    case mqtt::qos::at_most_once:
      break;
    case mqtt::qos::at_least_once:
      send_ack(mqtt::packet_type::puback, p.packet_id, ack, ticket);
      break;
    case mqtt::qos::exactly_once:
      if (!route && !mqtt::is_error(ack)) ack = mqtt::reason_code::success;
      send_ack(mqtt::packet_type::pubrec, p.packet_id, ack, ticket);
      break;
  }
}

void client_channel::send_ack(mqtt::packet_type type, std::uint16_t packet_id, mqtt::reason_code code,
                              std::uint64_t ticket) {
  auto* db = broker_.durable();
  // Acknowledged only once durable (persistent subscribers matched), and never ahead of an
  // earlier acknowledgement that still waits.
  if (!db || ((!deferred_acks_ || deferred_acks_->empty()) && (ticket == 0 || ticket <= db->decided()))) {
    if (db && ticket && db->outcome_of(ticket) == durable_store::outcome::failed)
      return refuse_ack(type, packet_id, db->refusal());
    return send_plain_ack(type, packet_id, code);
  }
  if (!deferred_acks_) deferred_acks_ = std::make_unique<std::vector<deferred_ack>>();
  deferred_acks_->push_back({ticket, type, packet_id, code});
  // Registered unconditionally: the decision may land between the check above and here, and the
  // store notifies at once when it has.
  db->notify_when_decided(ticket, self_);
}

void client_channel::flush_deferred_acks() {
  auto* db = broker_.durable();
  if (!db || !deferred_acks_) return;
  auto& acks = *deferred_acks_;
  const auto done = db->decided();
  std::size_t sent = 0;
  for (; sent < acks.size() && acks[sent].ticket <= done && !closing_; ++sent) {
    const auto& a = acks[sent];
    if (db->outcome_of(a.ticket) == durable_store::outcome::failed)
      refuse_ack(a.type, a.packet_id, db->refusal());
    else
      send_plain_ack(a.type, a.packet_id, a.code);
  }
  if (closing_) sent = acks.size();  // a 3.1.1 client refused: the rest are never sent
  if (sent) acks.erase(acks.begin(), acks.begin() + static_cast<std::ptrdiff_t>(sent));
}

void client_channel::refuse_ack(mqtt::packet_type type, std::uint16_t packet_id, mqtt::reason_code why) {
  bump(broker_.stats().refused_storage);
  if (type == mqtt::packet_type::pubrec) {
    auto sl = session_->lock();
    if (auto* st = session_->state(); st && st->inbound_qos2_.erase(packet_id))
      if (auto* db = session_->durable()) db->erase_inbound_qos2(id(), packet_id);
  }
  if (log_)
    log_->warn("client '{}': message {} refused: storage failing ({})", log_safe(id()), packet_id,
               mqtt::to_string(why));
  if (v5()) return send_plain_ack(type, packet_id, why);
  kick(why);
}

void client_channel::on_ack(mqtt::packet_type type, std::uint16_t packet_id, mqtt::reason_code code) {
  switch (type) {
    case mqtt::packet_type::puback:
      return on_puback(packet_id);
    case mqtt::packet_type::pubrec:
      return on_pubrec(packet_id, code);
    case mqtt::packet_type::pubrel:
      return on_pubrel(packet_id);
    default:
      return on_pubcomp(packet_id);
  }
}

void client_channel::on_puback(std::uint16_t packet_id) {
  {
    auto sl = session_->lock();
    if (auto* st = session_->state()) {
      auto it = st->inflight_.find(packet_id);
      if (it != st->inflight_.end() && it->second.d.qos == mqtt::qos::at_least_once) {
        if (auto* db = session_->durable(); db && it->second.d.seq) db->erase_message(id(), it->second.d.seq);
        st->inflight_.erase(it);
      }
    }
  }
  pull();
}

void client_channel::on_pubrec(std::uint16_t packet_id, mqtt::reason_code code) {
  bool known = false;
  {
    auto sl = session_->lock();
    auto* st = session_->state();
    auto it = st ? st->inflight_.find(packet_id) : decltype(st->inflight_)::iterator{};  // unused without st
    if (st && it != st->inflight_.end() && it->second.d.qos == mqtt::qos::exactly_once) {
      known = true;
      auto* db = it->second.d.seq ? session_->durable() : nullptr;
      if (mqtt::is_error(code)) {  // the receiver refused it: done
        if (db) db->erase_message(id(), it->second.d.seq);
        st->inflight_.erase(it);
      } else {
        it->second.stage = inflight_stage::awaiting_pubcomp;
        if (db) db->put_message(id(), it->second.d.seq, stored_stage::awaiting_pubcomp, packet_id, it->second.d);
      }
    }
  }
  if (known && mqtt::is_error(code)) return pull();
  send_plain_ack(mqtt::packet_type::pubrel, packet_id,
                 known ? mqtt::reason_code::success : mqtt::reason_code::packet_identifier_not_found);
}

void client_channel::on_pubrel(std::uint16_t packet_id) {
  bool known = false;
  {
    auto sl = session_->lock();
    auto* st = session_->state();
    known = st && st->inbound_qos2_.erase(packet_id) > 0;
    if (auto* db = session_->durable(); db && known) db->erase_inbound_qos2(id(), packet_id);
  }
  send_plain_ack(mqtt::packet_type::pubcomp, packet_id,
                 known ? mqtt::reason_code::success : mqtt::reason_code::packet_identifier_not_found);
}

void client_channel::on_pubcomp(std::uint16_t packet_id) {
  {
    auto sl = session_->lock();
    if (auto* st = session_->state()) {
      auto it = st->inflight_.find(packet_id);
      if (it != st->inflight_.end() && it->second.stage == inflight_stage::awaiting_pubcomp) {
        if (auto* db = session_->durable(); db && it->second.d.seq) db->erase_message(id(), it->second.d.seq);
        st->inflight_.erase(it);
      }
    }
  }
  pull();
}

}  // namespace edgemq::broker
