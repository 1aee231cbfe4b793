#include "broker/lifecycle_events.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "broker/broker.hpp"

namespace edgemq::broker {
namespace {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;  // MQTT strings are valid UTF-8 (the codec checked them)
        }
    }
  }
  out += '"';
}

// "2026-12-03T16:41:52.123Z"
std::string iso_now() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// {"event":"...","clientId":"...",["username":"...",]"listener":"...","protocolVersion":"5"
void open_client(std::string& out, std::string_view event, const event_client& c) {
  out += "{\"event\":";
  append_json_string(out, event);
  out += ",\"clientId\":";
  append_json_string(out, c.client_id);
  if (c.username && *c.username) {
    out += ",\"username\":";
    append_json_string(out, **c.username);
  }
  out += ",\"listener\":";
  append_json_string(out, c.listener);
  out += ",\"protocolVersion\":";
  out += c.version == mqtt::protocol_version::v5 ? "\"5\"" : "\"3.1.1\"";
}

void close_event(std::string& out) {
  out += ",\"time\":";
  append_json_string(out, iso_now());
  out += '}';
}

void append_filters(std::string& out, const std::vector<event_filter>& filters, bool with_qos) {
  out += ",\"filters\":[";
  bool first = true;
  for (const auto& f : filters) {
    if (!first) out += ',';
    first = false;
    out += "{\"filter\":";
    append_json_string(out, f.filter);
    const auto code = static_cast<unsigned>(f.code);
    if (with_qos && !mqtt::is_error(f.code)) out += ",\"qos\":" + std::to_string(code);
    out += ",\"reasonCode\":" + std::to_string(code);
    out += ",\"reasonName\":";
    append_json_string(out, with_qos && code <= 2 ? std::string_view("granted") : mqtt::to_string(f.code));
    out += '}';
  }
  out += ']';
}

}  // namespace

bool events_filter(std::string_view filter) {
  return filter.starts_with(events_prefix) &&
         (filter.size() == events_prefix.size() || filter[events_prefix.size()] == '/');
}

std::string event_topic_level(std::string_view client_id) {
  std::string out;
  out.reserve(client_id.size());
  for (const char c : client_id) {
    switch (c) {
      case '%':
        out += "%25";
        break;
      case '/':
        out += "%2F";
        break;
      case '+':
        out += "%2B";
        break;
      case '#':
        out += "%23";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool lifecycle_events::on() const {
  return broker_.config().lifecycle_events;
}

std::string lifecycle_events::listened_topic(std::string_view kind, std::string_view client_id) const {
  std::string topic;
  topic.reserve(events_prefix.size() + kind.size() + client_id.size() + 2);
  topic.append(events_prefix).append("/").append(kind).append("/").append(event_topic_level(client_id));
  bool any = false;
  broker_.subscriptions().match(
      topic, [&](const subscriber&) { any = true; }, [&](const std::shared_ptr<share_group>&) { any = true; });
  if (!any) topic.clear();
  return topic;
}

void lifecycle_events::emit(std::string topic, std::string payload) {
  auto m = std::make_shared<message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = mqtt::qos::at_least_once;  // as a subscriber asks: dataflows take them at least once
  m->props.mut().content_type = "application/json";
  m->props.mut().payload_format_indicator = 1;
  broker_.publish(m);
  published_.fetch_add(1, std::memory_order_relaxed);
}

void lifecycle_events::connected(const event_client& c, bool clean_start, bool session_present) {
  if (!on()) return;
  auto topic = listened_topic("clients/connected", c.client_id);
  if (topic.empty()) return;
  std::string p;
  open_client(p, "connected", c);
  p += ",\"cleanStart\":";
  p += clean_start ? "true" : "false";
  p += ",\"sessionPresent\":";
  p += session_present ? "true" : "false";
  close_event(p);
  emit(std::move(topic), std::move(p));
}

void lifecycle_events::disconnected(const event_client& c, std::optional<mqtt::reason_code> code,
                                    std::string_view reason) {
  if (!on()) return;
  auto topic = listened_topic("clients/disconnected", c.client_id);
  if (topic.empty()) return;
  std::string p;
  open_client(p, "disconnected", c);
  if (code) {
    p += ",\"reasonCode\":" + std::to_string(static_cast<unsigned>(*code));
    p += ",\"reasonName\":";
    append_json_string(p, mqtt::to_string(*code));
  } else {
    p += ",\"reasonCode\":null,\"reasonName\":null";
  }
  p += ",\"reason\":";
  append_json_string(p, reason);
  close_event(p);
  emit(std::move(topic), std::move(p));
}

void lifecycle_events::subscribed(const event_client& c, const std::vector<event_filter>& filters) {
  if (!on() || filters.empty()) return;
  auto topic = listened_topic("clients/subscribed", c.client_id);
  if (topic.empty()) return;
  std::string p;
  open_client(p, "subscribed", c);
  append_filters(p, filters, true);
  close_event(p);
  emit(std::move(topic), std::move(p));
}

void lifecycle_events::unsubscribed(const event_client& c, const std::vector<event_filter>& filters) {
  if (!on() || filters.empty()) return;
  auto topic = listened_topic("clients/unsubscribed", c.client_id);
  if (topic.empty()) return;
  std::string p;
  open_client(p, "unsubscribed", c);
  append_filters(p, filters, false);
  close_event(p);
  emit(std::move(topic), std::move(p));
}

void lifecycle_events::session_expired(std::string_view client_id) {
  if (!on()) return;
  auto topic = listened_topic("sessions/expired", client_id);
  if (topic.empty()) return;
  std::string p = "{\"event\":\"sessionExpired\",\"clientId\":";
  append_json_string(p, client_id);
  close_event(p);
  emit(std::move(topic), std::move(p));
}

}  // namespace edgemq::broker
