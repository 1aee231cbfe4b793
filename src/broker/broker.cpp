#include "broker/broker.hpp"

#include <algorithm>
#include <vector>

namespace edgemq::broker {

broker::broker(limits lim) : limits_(lim), sessions_(tree_, limits_) {}

namespace {

struct match_entry {
  session* s;
  mqtt::qos qos;
  bool retain_as_published;
  std::uint32_t subscription_id;
};

mqtt::qos min_qos(mqtt::qos a, mqtt::qos b) {
  return static_cast<std::uint8_t>(a) < static_cast<std::uint8_t>(b) ? a : b;
}

}  // namespace

std::size_t broker::publish(const message_ptr& msg) {
  counters_.messages_received.fetch_add(1, std::memory_order_relaxed);
  if (msg->retain && limits_.retain_available) retained_.put(msg);

  thread_local std::vector<match_entry> matches;
  matches.clear();
  std::size_t delivered = 0;
  tree_.match(
      msg->topic,
      [&](const subscriber& sub) {
        if (sub.options.no_local && sub.s->client_id() == msg->origin_client_id) return;
        matches.push_back(
            {sub.s, min_qos(msg->qos, sub.options.qos), sub.options.retain_as_published, sub.subscription_id});
      },
      [&] {
        // Overlapping subscriptions of one session: deliver once at the highest QoS, with every
        // matching subscription identifier (MQTT-3.3.4-3, 3.3.4-4). Sorting keeps this O(n log n).
        std::sort(matches.begin(), matches.end(), [](const match_entry& a, const match_entry& b) { return a.s < b.s; });
        for (std::size_t i = 0; i < matches.size();) {
          std::size_t j = i;
          delivery d;
          d.msg = msg;
          bool rap = false;
          for (; j < matches.size() && matches[j].s == matches[i].s; ++j) {
            if (static_cast<std::uint8_t>(matches[j].qos) > static_cast<std::uint8_t>(d.qos)) d.qos = matches[j].qos;
            rap = rap || matches[j].retain_as_published;
            if (matches[j].subscription_id) d.subscription_ids.push_back(matches[j].subscription_id);
          }
          d.retain = rap && msg->retain;  // MQTT-3.3.1-12/13: retain flag only with Retain As Published
          // Still under the tree's shared lock: a session leaves the tree before it is destroyed.
          matches[i].s->enqueue(std::move(d));
          ++delivered;
          i = j;
        }
      });
  counters_.messages_delivered.fetch_add(delivered, std::memory_order_relaxed);
  return delivered;
}

}  // namespace edgemq::broker
