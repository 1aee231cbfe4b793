#include "dataflow/endpoints/kafka_sink.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "broker/log_safe.hpp"

namespace edgemq::dataflow {

namespace {

namespace asio = boost::asio;

// One batch in flight: a slot per record is what librdkafka hands back in the delivery report.
struct batch_state;
struct slot {
  batch_state* batch;
  std::size_t index;
};
struct batch_state {
  std::vector<rd_kafka_resp_err_t> results;
  std::vector<slot> slots;
  std::size_t outstanding = 0;
  std::function<void(send_result)> done;
};

// A secret file's content without the trailing newline `echo` or an editor leaves.
bool read_secret(const std::string& file, std::string& out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return true;
}

class kafka_sink final : public sink {
 public:
  kafka_sink(kafka_settings s, std::string topic, std::string dataflow, asio::io_context& io,
             std::shared_ptr<spdlog::logger> log)
      : s_(std::move(s)),
        topic_(std::move(topic)),
        dataflow_(std::move(dataflow)),
        io_(io),
        log_(std::move(log)),
        wakeup_(io),
        deadline_(io) {}
  ~kafka_sink() override { stop(); }

  void start() override {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      setup_error_ = "kafka: pipe: " + std::string(std::strerror(errno));
      return;
    }
    wakeup_.assign(fds[0]);
    pipe_write_ = fds[1];
    create_producer();
    wait();
  }

  std::size_t max_batch() const override { return kafka_max_batch(s_); }

  void send(std::span<const record> batch, std::function<void(send_result)> done) override {
    // An idempotent producer that hit a fatal error (a sequence gap it cannot repair) stays
    // unusable: make a new one. Nothing is in flight between batches, so nothing is lost.
    if (rk_ && rd_kafka_fatal_error(rk_, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (log_) log_->warn("kafka sink {}: producer failed fatally; making a new one", dataflow_);
      destroy_producer();
      create_producer();
    }
    if (!rk_) {
      finish(std::move(done), send_result{false, setup_error_.empty() ? "kafka: not started" : setup_error_, 0});
      return;
    }
    auto b = std::make_unique<batch_state>();
    b->results.assign(batch.size(), RD_KAFKA_RESP_ERR__FAIL);
    b->slots.resize(batch.size());
    b->done = std::move(done);
    std::string local_error;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      b->slots[i] = slot{b.get(), i};
      const auto err = produce(batch[i], &b->slots[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        // Queue full or the like: the rest of the batch waits for the next attempt (order kept).
        b->results[i] = err;
        local_error = std::string("produce: ") + rd_kafka_err2str(err);
        break;
      }
      ++b->outstanding;
    }
    inflight_ = std::move(b);
    arm_deadline();
    if (inflight_->outstanding == 0)
      complete(local_error);
    else
      first_local_error_ = local_error;
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    *alive_ = false;
    destroy_producer();
    deadline_.cancel();
    boost::system::error_code ec;
    wakeup_.close(ec);
    if (pipe_write_ >= 0) ::close(pipe_write_);
    pipe_write_ = -1;
  }

 private:
  void create_producer() {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    auto set = [&](const char* k, const std::string& v) {
      if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
        if (setup_error_.empty()) setup_error_ = std::string("kafka: ") + k + ": " + err;
      }
    };
    setup_error_.clear();
    set("bootstrap.servers", s_.host);
    set("client.id", "edgemq-" + dataflow_);
    set("acks", s_.acks);
    // Order per partition survives retries: idempotence where acks=all allows it, else one
    // request in flight per connection.
    if (s_.acks == "all")
      set("enable.idempotence", "true");
    else
      set("max.in.flight.requests.per.connection", "1");
    set("compression.codec", s_.compression);
    set("linger.ms", std::to_string(s_.batching ? s_.latency_ms : 0));
    set("batch.num.messages", std::to_string(s_.batching ? s_.max_messages : 1));
    set("batch.size", std::to_string(s_.max_bytes));
    set("message.timeout.ms", std::to_string(s_.timeout_seconds * 1000));
    if (s_.timeout_seconds * 1000 < 30000) set("request.timeout.ms", std::to_string(s_.timeout_seconds * 1000));
    const bool sasl = !s_.sasl_mechanism.empty();
    set("security.protocol", s_.tls ? (sasl ? "SASL_SSL" : "SSL") : (sasl ? "SASL_PLAINTEXT" : "PLAINTEXT"));
    if (s_.tls && !s_.ca_location.empty()) set("ssl.ca.location", s_.ca_location);
    if (sasl) {
      std::string user, password;
      if (!read_secret(s_.sasl_secret + "/username", user) || !read_secret(s_.sasl_secret + "/password", password)) {
        setup_error_ = "kafka: secretRef " + s_.sasl_secret + ": needs readable files username and password";
      }
      set("sasl.mechanisms", s_.sasl_mechanism);
      set("sasl.username", user);
      set("sasl.password", password);
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &kafka_sink::on_delivery);
    rd_kafka_conf_set_error_cb(conf, &kafka_sink::on_error);
    rd_kafka_conf_set_log_cb(conf, &kafka_sink::on_log);  // into the daemon's log, not stderr
    if (!setup_error_.empty()) {
      rd_kafka_conf_destroy(conf);
      if (log_) log_->error("kafka sink {}: {}", dataflow_, setup_error_);
      return;
    }
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);  // takes conf on success only
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      setup_error_ = std::string("kafka: ") + err;
      if (log_) log_->error("kafka sink {}: {}", dataflow_, setup_error_);
      return;
    }
    // Delivery reports and errors land on the main queue; librdkafka writes to the pipe when
    // that queue turns non-empty, and the I/O thread then serves it (wait()).
    rd_kafka_queue_t* q = rd_kafka_queue_get_main(rk_);
    rd_kafka_queue_io_event_enable(q, pipe_write_, "1", 1);
    rd_kafka_queue_destroy(q);
    // librdkafka signals only when the queue turns non-empty: an event queued before the line
    // above would never be signalled, nor anything after it. One drain now closes that gap.
    signal_self();
  }

  void destroy_producer() {
    if (!rk_) return;
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    serving_ = false;  // no callbacks reach a batch that nobody waits for any more
    rd_kafka_poll(rk_, 0);
    serving_ = true;
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    inflight_.reset();
  }

  rd_kafka_resp_err_t produce(const record& r, slot* opaque) {
    rd_kafka_headers_t* headers = nullptr;
    if (s_.copy_mqtt_properties) {
      headers = rd_kafka_headers_new(r.properties.size() + 4);
      for (const auto& [k, v] : r.properties) rd_kafka_header_add(headers, k.data(), k.size(), v.data(), v.size());
      // The MQTT message's own properties, under names of ours (docs/dataflows.md).
      auto add = [&](const char* k, const std::string& v) { rd_kafka_header_add(headers, k, -1, v.data(), v.size()); };
      add("mqtt-topic", r.topic);
      if (r.content_type) add("mqtt-content-type", *r.content_type);
      if (r.response_topic) add("mqtt-response-topic", *r.response_topic);
      if (r.correlation_data) add("mqtt-correlation-data", *r.correlation_data);
    }
    const std::string* key = nullptr;
    switch (s_.partitioning) {
      case kafka_partitioning::by_default:
        break;
      case kafka_partitioning::fixed:
        key = &dataflow_;
        break;
      case kafka_partitioning::by_topic:
        key = &r.topic;
        break;
      case kafka_partitioning::by_property:
        for (const auto& [k, v] : r.properties)
          if (k == "partitionKey") {
            key = &v;
            break;
          }
        break;
    }
    const auto err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_VALUE(const_cast<char*>(r.payload.data()), r.payload.size()),
                                       RD_KAFKA_V_KEY(key ? key->data() : nullptr, key ? key->size() : 0),
                                       RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && headers) rd_kafka_headers_destroy(headers);  // not taken on failure
    return err;
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<kafka_sink*>(opaque);
    auto* sl = static_cast<slot*>(m->_private);
    if (!self->serving_ || !sl || !self->inflight_ || sl->batch != self->inflight_.get()) return;
    auto& b = *self->inflight_;
    b.results[sl->index] = m->err;
    if (--b.outstanding == 0) self->complete(self->first_local_error_);
  }

  static void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<kafka_sink*>(opaque);
    if (self->log_)
      self->log_->warn("kafka sink {}: {}: {}", self->dataflow_,
                       rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), log_safe(reason));
  }

  // librdkafka's own threads call this: spdlog loggers are thread-safe.
  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    auto* self = static_cast<kafka_sink*>(rd_kafka_opaque(rk));
    if (!self || !self->log_) return;
    if (level <= 4)
      self->log_->warn("kafka sink {}: {}: {}", self->dataflow_, fac, log_safe(buf));
    else
      self->log_->debug("kafka sink {}: {}: {}", self->dataflow_, fac, log_safe(buf));
  }

  // Every record of the batch has its report: ok only if all were acknowledged; otherwise the
  // leading acknowledged ones still leave the buffer.
  void complete(const std::string& local_error) {
    deadline_.cancel();
    auto b = std::move(inflight_);
    send_result r;
    const auto n = b->results.size();
    while (r.accepted < n && b->results[r.accepted] == RD_KAFKA_RESP_ERR_NO_ERROR) ++r.accepted;
    r.ok = r.accepted == n;
    if (!r.ok) {
      std::size_t failed = 0;
      rd_kafka_resp_err_t first = RD_KAFKA_RESP_ERR_NO_ERROR;
      for (auto e : b->results)
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
          ++failed;
          if (first == RD_KAFKA_RESP_ERR_NO_ERROR) first = e;
        }
      r.error = "kafka " + topic_ + ": " + std::to_string(failed) + " of " + std::to_string(n) +
                " records not delivered: " + (local_error.empty() ? rd_kafka_err2str(first) : local_error);
      if (log_) log_->warn("kafka sink {}: {}", dataflow_, r.error);
    }
    finish(std::move(b->done), std::move(r));
  }

  // Never from inside send() or a librdkafka callback: through the I/O thread's queue.
  void finish(std::function<void(send_result)> done, send_result r) {
    asio::post(io_, [alive = alive_, done = std::move(done), r = std::move(r)]() mutable {
      if (*alive) done(std::move(r));
    });
  }

  void signal_self() {
    // Non-blocking: when the pipe is full, the reader is woken anyway.
    if (pipe_write_ >= 0 && ::write(pipe_write_, "1", 1) < 0) {
    }
  }

  // A safety net over message.timeout.ms: should librdkafka never report on a record (it
  // should), the batch would hold the dataflow forever. Purging makes librdkafka report every
  // record still queued or in flight as failed, and the batch completes the usual way.
  void arm_deadline() {
    deadline_.expires_after(std::chrono::seconds(s_.timeout_seconds + 5));
    deadline_.async_wait([this, alive = alive_, batch = inflight_.get()](boost::system::error_code ec) {
      if (ec || !*alive || !rk_ || inflight_.get() != batch) return;
      if (log_) log_->warn("kafka sink {}: no delivery report in time; purging the batch", dataflow_);
      rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      signal_self();
    });
  }

  void wait() {
    wakeup_.async_wait(asio::posix::stream_descriptor::wait_read, [this, alive = alive_](boost::system::error_code ec) {
      if (ec || !*alive) return;
      char buf[64];
      while (::read(wakeup_.native_handle(), buf, sizeof buf) > 0) {
      }
      if (rk_)
        while (rd_kafka_poll(rk_, 0) > 0) {
        }
      wait();
    });
  }

  kafka_settings s_;
  std::string topic_;
  std::string dataflow_;
  asio::io_context& io_;
  std::shared_ptr<spdlog::logger> log_;
  asio::posix::stream_descriptor wakeup_;
  asio::steady_timer deadline_;
  int pipe_write_ = -1;
  rd_kafka_t* rk_ = nullptr;
  std::string setup_error_;
  std::unique_ptr<batch_state> inflight_;
  std::string first_local_error_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool serving_ = true;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<sink> make_kafka_sink(kafka_settings settings, std::string topic, std::string dataflow,
                                      boost::asio::io_context& io, std::shared_ptr<spdlog::logger> log) {
  return std::make_unique<kafka_sink>(std::move(settings), std::move(topic), std::move(dataflow), io, std::move(log));
}

}  // namespace edgemq::dataflow
