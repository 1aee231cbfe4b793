// The `default` endpoint as a source: an in-process client of the local broker (local_client)
// subscribed to the dataflow's dataSources at QoS 1 with a persistent session, so the broker
// queues what arrives while the dataflow is paused, disabled or the daemon restarts. A message
// is acknowledged (PUBACK) only once the runtime has it in the disk buffer; until then the broker
// keeps it in the session and sends it again after a reconnect (at least once).
#include <algorithm>
#include <chrono>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"
#include "dataflow/endpoints/kinds.hpp"
#include "dataflow/endpoints/local_client.hpp"
#include "dataflow/endpoints/publish_record.hpp"

namespace edgemq::dataflow {
namespace {

namespace asio = boost::asio;

// The session outlives a restart of the daemon or a paused dataflow by this much (seconds).
constexpr std::uint32_t session_expiry_s = 24 * 3600;
// PUBLISHes the broker sends before our acknowledgements: past it, the session queues the rest.
constexpr std::uint16_t receive_maximum = 256;
constexpr auto reconnect_after = std::chrono::seconds(1);

class local_source final : public source {
 public:
  explicit local_source(const endpoint_args& a)
      : io_(a.io),
        core_(a.core),
        log_(a.log),
        client_id_("$edgemq-dataflow-" + a.dataflow),
        topics_(a.topics),
        timer_(a.io) {}
  ~local_source() override { stop(); }

  void start(handler on_record) override {
    on_record_ = std::move(on_record);
    stopped_ = false;
    connect();
  }
  void stop() override {
    stopped_ = true;
    timer_.cancel();
    if (client_) client_->close();
    client_.reset();
  }

 private:
  void connect() {
    ++generation_;
    client_ = std::make_shared<local_client>(io_, core_, log_,
                                             local_client::handlers{
                                                 .on_connack = [this](const mqtt::connack& c) { on_connack(c); },
                                                 .on_publish = [this](mqtt::publish& p) { on_publish(p); },
                                                 .on_puback = {},
                                                 .on_suback = [this](const mqtt::suback& s) { on_suback(s); },
                                                 .on_closed = [this](const std::string& why) { on_closed(why); },
                                             });
    mqtt::connect c;
    c.client_id = client_id_;
    c.clean_start = false;
    c.keep_alive = 0;  // no transport to lose: no keep alive
    c.props.session_expiry_interval = session_expiry_s;
    c.props.receive_maximum = receive_maximum;
    client_->send(c);
  }

  void on_connack(const mqtt::connack& c) {
    if (mqtt::is_error(c.code)) {
      if (log_)
        log_->error("dataflow source {}: the broker refused the connection ({})", log_safe(client_id_),
                    mqtt::to_string(c.code));
      return;
    }
    // A resumed session keeps the filters of an earlier definition: those no longer listed go.
    if (c.session_present) {
      mqtt::unsubscribe u;
      u.packet_id = 2;
      if (const auto d = core_.sessions().describe(client_id_))
        for (const auto& sub : d->subscriptions)
          if (std::find(topics_.begin(), topics_.end(), sub.filter) == topics_.end()) u.filters.push_back(sub.filter);
      if (!u.filters.empty()) client_->send(u);
    }
    // Subscribed again even with a session present: the definition may list new topics. Retained
    // messages only for a new subscription, not again after every restart.
    mqtt::subscribe s;
    s.packet_id = 1;
    for (const auto& t : topics_)
      s.entries.push_back({t, {mqtt::qos::at_least_once, true, true, mqtt::retain_handling::send_if_new}});
    if (!s.entries.empty()) client_->send(s);
  }

  void on_suback(const mqtt::suback& s) {
    for (std::size_t i = 0; i < s.codes.size() && i < topics_.size(); ++i)
      if (mqtt::is_error(s.codes[i]) && log_)
        log_->error("dataflow source {}: subscription to '{}' refused ({})", log_safe(client_id_), log_safe(topics_[i]),
                    mqtt::to_string(s.codes[i]));
  }

  void on_publish(mqtt::publish& p) {
    const auto id = p.packet_id;
    const bool needs_ack = p.qos != mqtt::qos::at_most_once;
    auto r = record_from_publish(std::move(p));
    // The acknowledgement goes to the connection that received the message: after a reconnect
    // the broker sends it again anyway.
    std::weak_ptr<local_client> client = client_;
    on_record_(std::move(r), [client, id, needs_ack] {
      if (!needs_ack) return;
      if (auto c = client.lock(); c && c->open()) c->puback(id);
    });
  }

  void on_closed(const std::string& why) {
    if (log_) log_->warn("dataflow source {}: {}; reconnecting", log_safe(client_id_), why);
    timer_.expires_after(reconnect_after);
    timer_.async_wait([this, gen = generation_](boost::system::error_code ec) {
      if (ec || stopped_ || gen != generation_) return;
      connect();
    });
  }

  asio::io_context& io_;
  broker::broker& core_;
  std::shared_ptr<spdlog::logger> log_;
  std::string client_id_;
  std::vector<std::string> topics_;
  asio::steady_timer timer_;
  handler on_record_;
  std::shared_ptr<local_client> client_;
  std::uint64_t generation_ = 0;
  bool stopped_ = true;
};

}  // namespace

std::unique_ptr<source> make_local_source(const endpoint_args& a) {
  return std::make_unique<local_source>(a);
}

}  // namespace edgemq::dataflow
