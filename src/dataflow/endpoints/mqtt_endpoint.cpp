#include "dataflow/endpoints/mqtt_endpoint.hpp"

#include <chrono>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"
#include "dataflow/endpoints/kinds.hpp"
#include "dataflow/endpoints/publish_record.hpp"

namespace edgemq::dataflow {
namespace {

mqtt::publish to_publish(const record& r, std::string topic, const mqtt_settings& s) {
  mqtt::publish p;
  p.topic = std::move(topic);
  p.payload = r.payload;
  p.qos = static_cast<mqtt::qos>(s.qos);
  p.retain = s.retain_keep && r.retain;
  p.props.user_properties = r.properties;
  p.props.content_type = r.content_type;
  p.props.response_topic = r.response_topic;
  p.props.correlation_data = r.correlation_data;
  p.props.message_expiry_interval = r.message_expiry_s;
  return p;
}

mqtt_client::options client_options(const endpoint_args& a, bool source) {
  mqtt_client::options o;
  o.settings = read_mqtt_settings(a.spec);
  o.client_id = mqtt_client_id(o.settings, a.dataflow, source);
  // The source resumes its session (messages queued on the remote broker while we were away);
  // the sink's in-flight messages are sent again by the runtime, so it starts clean.
  o.clean_start = !source;
  o.session_expiry_s = o.settings.session_expiry_s;
  if (source) o.subscriptions = a.topics;
  return o;
}

}  // namespace

std::string mqtt_client_id(const mqtt_settings& s, const std::string& dataflow, bool source) {
  return (s.client_id_prefix.empty() ? std::string("edgemq") : s.client_id_prefix) + "-" + dataflow +
         (source ? "-src" : "");
}

// ---------------------------------------------------------------------------------------- sink

mqtt_sink::mqtt_sink(const endpoint_args& a, mqtt_client::options o)
    : io_(a.io),
      log_(a.log),
      template_(a.data_destination),
      settings_(o.settings),
      client_(std::make_unique<mqtt_client>(a.io, std::move(o), a.log)),
      dataflow_(a.dataflow) {}

void mqtt_sink::start() {
  client_->start();
}

std::size_t mqtt_sink::max_batch() const {
  return client_->send_quota();
}

void mqtt_sink::stop() {
  client_->stop();
}

void mqtt_sink::send(std::span<const record> batch, std::function<void(send_result)> done) {
  if (!client_->connected() && client_->connecting()) {
    // Connecting (at start-up, or retrying): answer once this attempt has its outcome rather than
    // failing a batch that a few milliseconds would have let through.
    auto copy = std::make_shared<std::vector<record>>(batch.begin(), batch.end());
    client_->when_settled([this, copy, done = std::move(done)]() mutable {
      send_now(std::span<const record>(*copy), [copy, done = std::move(done)](send_result r) { done(std::move(r)); });
    });
    return;
  }
  send_now(batch, std::move(done));
}

void mqtt_sink::send_now(std::span<const record> batch, std::function<void(send_result)> done) {
  struct state {
    std::vector<char> acked;
    std::size_t pending = 0;
    std::string error;
    std::function<void(send_result)> done;
    void finish() {
      send_result r;
      while (r.accepted < acked.size() && acked[r.accepted]) ++r.accepted;
      r.ok = r.accepted == acked.size();
      if (!r.ok) r.error = error.empty() ? "not acknowledged" : error;
      done(std::move(r));
    }
  };
  auto st = std::make_shared<state>();
  st->acked.assign(batch.size(), 0);
  st->done = std::move(done);
  if (!client_->connected()) {
    // A down broker: the whole batch fails now, the runtime tries again after its backoff.
    boost::asio::post(io_, [st, why = client_->last_error()] {
      st->error = "not connected: " + why;
      st->finish();
    });
    return;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto topic = expand_topic_template(template_, batch[i].topic);
    if (!topic) {
      // It can never be sent: counted as taken (dropped), or it would block the buffer forever.
      if (log_)
        log_->warn("dataflow '{}': no topic for a record from '{}' with dataDestination '{}': dropped", dataflow_,
                   log_safe(batch[i].topic), template_);
      st->acked[i] = 1;
      continue;
    }
    ++st->pending;
    client_->publish(to_publish(batch[i], std::move(*topic), settings_), [st, i](bool ok, const std::string& err) {
      st->acked[i] = ok ? 1 : 0;
      if (!ok && st->error.empty()) st->error = err;
      if (--st->pending == 0) st->finish();
    });
  }
  if (st->pending == 0) boost::asio::post(io_, [st] { st->finish(); });
}

// -------------------------------------------------------------------------------------- source

mqtt_source::mqtt_source(const endpoint_args& a, mqtt_client::options o)
    : client_(std::make_unique<mqtt_client>(a.io, std::move(o), a.log)) {}

void mqtt_source::start(handler on_record) {
  on_record_ = std::move(on_record);
  client_->on_message([this](mqtt::publish p, std::function<void()> ack) {
    if (paused_)
      held_.emplace_back(std::move(p), std::move(ack));
    else
      deliver(std::move(p), std::move(ack));
  });
  client_->start();
}

void mqtt_source::deliver(mqtt::publish p, std::function<void()> ack) {
  // The PUBACK goes when the runtime says the record is safe (in its buffer): at least once.
  on_record_(record_from_publish(std::move(p)), std::move(ack));
}

void mqtt_source::pause() {
  paused_ = true;
}

void mqtt_source::resume() {
  paused_ = false;
  auto held = std::move(held_);
  held_.clear();
  for (auto& [p, ack] : held) {
    if (paused_) {
      held_.emplace_back(std::move(p), std::move(ack));
      continue;
    }
    deliver(std::move(p), std::move(ack));
  }
}

void mqtt_source::stop() {
  client_->stop();
  held_.clear();
}

// ---------------------------------------------------------------------------------------- kind

endpoint_kind mqtt_endpoint_kind() {
  endpoint_kind k;
  k.type = "Mqtt";
  k.validate = [](const nlohmann::json& spec, const std::string& path, problems& out) {
    validate_mqtt_settings(spec, path, out);
  };
  k.make_sink = [](const endpoint_args& a) -> std::unique_ptr<sink> {
    return std::make_unique<mqtt_sink>(a, client_options(a, false));
  };
  k.make_source = [](const endpoint_args& a) -> std::unique_ptr<source> {
    return std::make_unique<mqtt_source>(a, client_options(a, true));
  };
  return k;
}

}  // namespace edgemq::dataflow
