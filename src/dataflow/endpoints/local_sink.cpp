// The `default` endpoint as a destination: republishes each record at QoS 1 through an
// in-process client of the local broker (local_client). A batch is acknowledged once every
// record of it has its PUBACK, which the broker sends only when the message is durable under its
// persistence policy; a refused PUBACK (reason code >= 0x80) fails the batch from that record on.
#include <chrono>
#include <map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"
#include "dataflow/endpoints/kinds.hpp"
#include "dataflow/endpoints/local_client.hpp"

namespace edgemq::dataflow {
namespace {

namespace asio = boost::asio;

constexpr std::size_t batch_max = 128;

// dataDestination may name parts of the source topic as AIO's MQTT destinations do:
// ${inputTopic} is the whole topic, ${inputTopic.N} its N-th level (from 1; empty if absent).
std::string expand_topic(const std::string& tmpl, const std::string& input) {
  if (tmpl.find("${") == std::string::npos) return tmpl;
  std::string out;
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const auto open = tmpl.find("${inputTopic", i);
    const auto close = open == std::string::npos ? open : tmpl.find('}', open);
    if (close == std::string::npos) break;
    out.append(tmpl, i, open - i);
    const auto inner = tmpl.substr(open + 2, close - open - 2);  // inputTopic or inputTopic.N
    if (inner == "inputTopic") {
      out += input;
    } else if (inner.size() > 11 && inner[10] == '.') {
      std::size_t level = 0;
      for (char c : inner.substr(11)) level = c >= '0' && c <= '9' ? level * 10 + (c - '0') : 0;
      std::size_t start = 0;
      for (std::size_t n = 1; n < level && start != std::string::npos; ++n) {
        start = input.find('/', start);
        if (start != std::string::npos) ++start;
      }
      if (level > 0 && start != std::string::npos) out.append(input.substr(start, input.find('/', start) - start));
    } else {
      out.append(tmpl, open, close + 1 - open);
    }
    i = close + 1;
  }
  out.append(tmpl, std::min(i, tmpl.size()));
  return out;
}  // within the broker's default Receive Maximum (1024)

class local_sink final : public sink {
 public:
  explicit local_sink(const endpoint_args& a)
      : io_(a.io),
        core_(a.core),
        log_(a.log),
        client_id_("$edgemq-dataflow-" + a.dataflow + "-out"),
        destination_(a.data_destination),
        alive_(std::make_shared<bool>(true)) {}
  ~local_sink() override {
    *alive_ = false;
    stop();
  }

  void start() override { connect(); }
  void stop() override {
    fail_batch("sink stopped");
    if (client_) client_->close();
    client_.reset();
    connected_ = false;
  }
  std::size_t max_batch() const override { return std::min<std::size_t>(batch_max, receive_maximum_); }

  void send(std::span<const record> batch, std::function<void(send_result)> done) override {
    if (!connected_) {
      if (!client_) connect();  // it was closed by the broker: try again with this batch
      if (!connected_) return post(std::move(done), {false, "the local broker did not accept the connection", 0});
    }
    done_ = std::move(done);
    acked_.assign(batch.size(), false);
    pending_.clear();
    refused_.reset();
    in_send_ = true;
    for (std::size_t i = 0; i < batch.size() && client_; ++i) {
      const auto& r = batch[i];
      mqtt::publish p;
      p.topic = expand_topic(destination_, r.topic);
      p.payload = r.payload;
      p.qos = mqtt::qos::at_least_once;
      p.packet_id = next_id();
      p.props.user_properties = r.properties;
      p.props.content_type = r.content_type;
      p.props.response_topic = r.response_topic;
      p.props.correlation_data = r.correlation_data;
      p.props.message_expiry_interval = r.message_expiry_s;
      pending_[p.packet_id] = i;
      client_->send(p);
    }
    in_send_ = false;
    // Every PUBACK may already have come (no persistence: acknowledged at once); done() is
    // never called from inside send().
    if (done_ && pending_.empty()) finish();
  }

 private:
  void connect() {
    client_ = std::make_shared<local_client>(
        io_, core_, log_,
        local_client::handlers{
            .on_connack =
                [this](const mqtt::connack& c) {
                  connected_ = !mqtt::is_error(c.code);
                  if (c.props.receive_maximum) receive_maximum_ = *c.props.receive_maximum;
                  if (!connected_ && log_)
                    log_->error("dataflow sink {}: the broker refused the connection ({})", log_safe(client_id_),
                                mqtt::to_string(c.code));
                },
            .on_publish = {},
            .on_puback = [this](std::uint16_t id, mqtt::reason_code rc) { on_puback(id, rc); },
            .on_suback = {},
            .on_closed =
                [this](const std::string& why) {
                  connected_ = false;
                  fail_batch("local broker connection closed: " + why);
                  // Reconnected by the next send(); the client goes once this handler returns.
                  asio::post(io_, [this, alive = alive_] {
                    if (*alive && client_ && !client_->open()) client_.reset();
                  });
                },
        });
    mqtt::connect c;
    c.client_id = client_id_;
    c.clean_start = true;
    c.keep_alive = 0;
    client_->send(c);
  }

  std::uint16_t next_id() {
    if (++packet_id_ == 0) packet_id_ = 1;
    return packet_id_;
  }

  void on_puback(std::uint16_t id, mqtt::reason_code rc) {
    const auto it = pending_.find(id);
    if (it == pending_.end()) return;
    const auto i = it->second;
    pending_.erase(it);
    if (mqtt::is_error(rc)) {
      if (!refused_ || *refused_ > i) refused_ = i;
      refused_code_ = rc;
    } else {
      acked_[i] = true;
    }
    if (pending_.empty() && done_) {
      // Called from inside send() when the broker acknowledged at once: send() finishes.
      if (!in_send_) finish();
    }
  }

  void finish() {
    send_result res;
    std::size_t leading = 0;
    while (leading < acked_.size() && acked_[leading]) ++leading;
    if (leading < acked_.size()) {
      res.ok = false;
      res.accepted = leading;
      res.error = refused_ ? "the local broker refused a message (" + std::string(mqtt::to_string(refused_code_)) + ")"
                           : "the local broker did not acknowledge every message";
    }
    post(std::exchange(done_, {}), std::move(res));
  }

  void fail_batch(const std::string& why) {
    if (!done_) return;
    std::size_t leading = 0;
    while (leading < acked_.size() && acked_[leading]) ++leading;
    pending_.clear();
    post(std::exchange(done_, {}), {false, why, leading});
  }

  void post(std::function<void(send_result)> done, send_result r) {
    if (!done) return;
    asio::post(io_, [done = std::move(done), r = std::move(r)] { done(r); });
  }

  asio::io_context& io_;
  broker::broker& core_;
  std::shared_ptr<spdlog::logger> log_;
  std::string client_id_;
  std::string destination_;
  std::shared_ptr<bool> alive_;
  std::shared_ptr<local_client> client_;
  bool connected_ = false;
  bool in_send_ = false;
  std::uint16_t receive_maximum_ = 65535;
  std::uint16_t packet_id_ = 0;
  std::function<void(send_result)> done_;
  std::map<std::uint16_t, std::size_t> pending_;  // packet id -> index in the batch
  std::vector<bool> acked_;
  std::optional<std::size_t> refused_;
  mqtt::reason_code refused_code_ = mqtt::reason_code::success;
};

}  // namespace

std::unique_ptr<sink> make_local_sink(const endpoint_args& a) {
  return std::make_unique<local_sink>(a);
}

}  // namespace edgemq::dataflow
