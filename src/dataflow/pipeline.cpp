#include "dataflow/pipeline.hpp"

#include <ctime>

#include <spdlog/spdlog.h>

namespace edgemq::dataflow {

void dataflow_stats::error(const std::string& why) {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
  std::lock_guard g(mu);
  last_error = why;
  last_error_time = buf;
}

pipeline::pipeline(boost::asio::io_context& io, buffer_db& db, std::string name, pipeline_settings settings,
                   std::shared_ptr<dataflow_stats> stats, std::shared_ptr<spdlog::logger> log)
    : io_(io),
      name_(std::move(name)),
      settings_(settings),
      stats_(std::move(stats)),
      log_(std::move(log)),
      buffer_(db, name_),
      retry_timer_(io) {
  publish_depth();
}

pipeline::~pipeline() {
  *alive_ = false;
  stop();
}

void pipeline::start(std::unique_ptr<source> src, std::unique_ptr<transform> t, std::unique_ptr<sink> dst) {
  stop();
  ++generation_;
  source_ = std::move(src);
  transform_ = std::move(t);
  sink_ = std::move(dst);
  backoff_ = std::chrono::milliseconds(0);
  sink_->start();
  source_->start([this](record r, std::function<void()> ack) { on_record(std::move(r), std::move(ack)); });
  pump();
}

void pipeline::stop() {
  ++generation_;
  retry_timer_.cancel();
  waiting_retry_ = false;
  in_flight_ = false;
  in_flight_batch_.clear();
  // Held records were never acknowledged upstream: the source delivers them again.
  held_.clear();
  stats_->source_paused = false;
  if (source_) source_->stop();
  if (sink_) sink_->stop();
  source_.reset();
  sink_.reset();
  transform_.reset();
}

void pipeline::erase() {
  try {
    buffer_.erase_all();
  } catch (const buffer_error& e) {
    stats_->error(e.what());
  }
  publish_depth();
}

void pipeline::on_record(record r, std::function<void()> ack) {
  ++stats_->received;
  if (transform_) {
    std::string why;
    switch (transform_->apply(r, why)) {
      case transform::outcome::pass:
        break;
      case transform::outcome::dropped:
        ++stats_->dropped;
        return ack();  // filtered records take no buffer space
      case transform::outcome::error:
        ++stats_->failed;
        stats_->error("transformation: " + why);
        return ack();
    }
  }
  if (!held_.empty()) {  // behind records waiting for room: order is kept
    held_.emplace_back(std::move(r), std::move(ack));
    return;
  }
  if (store(r, ack)) pump();
}

bool pipeline::store(record& r, std::function<void()>& ack) {
  std::uint64_t evicted = 0;
  disk_buffer::push_result res;
  try {
    res = buffer_.push(r, settings_.limits, evicted);
  } catch (const buffer_error& e) {
    // Not acknowledged: the source keeps it (the broker's session sends it again after a reconnect).
    stats_->error(e.what());
    if (log_) log_->error("dataflow '{}': {}", name_, e.what());
    return false;
  }
  switch (res) {
    case disk_buffer::push_result::stored:
      stats_->evicted += evicted;
      break;
    case disk_buffer::push_result::too_large:
      ++stats_->evicted;
      stats_->error("a record of " + std::to_string(r.payload.size()) + " bytes is larger than the buffer");
      break;
    case disk_buffer::push_result::full:
      held_.emplace_back(std::move(r), std::move(ack));
      if (!stats_->source_paused.exchange(true)) {
        if (log_) log_->warn("dataflow '{}': buffer full, source paused (when_full: stop)", name_);
        if (source_) source_->pause();
      }
      return false;
  }
  publish_depth();
  ack();
  return true;
}

void pipeline::release_held() {
  while (!held_.empty()) {
    auto& [r, ack] = held_.front();
    std::uint64_t evicted = 0;
    disk_buffer::push_result res;
    try {
      res = buffer_.push(r, settings_.limits, evicted);
    } catch (const buffer_error& e) {
      stats_->error(e.what());
      return;
    }
    if (res == disk_buffer::push_result::full) break;
    if (res == disk_buffer::push_result::too_large) ++stats_->evicted;
    ack();
    held_.pop_front();
  }
  publish_depth();
  if (held_.empty() && stats_->source_paused.exchange(false)) {
    if (log_) log_->info("dataflow '{}': buffer has room again, source resumed", name_);
    if (source_) source_->resume();
  }
}

void pipeline::pump() {
  if (!sink_ || in_flight_ || waiting_retry_ || buffer_.messages() == 0) return;
  try {
    in_flight_batch_ = buffer_.peek(std::max<std::size_t>(1, sink_->max_batch()));
  } catch (const buffer_error& e) {
    stats_->error(e.what());
    return;
  }
  if (in_flight_batch_.empty()) return;
  in_flight_ = true;
  sink_->send(in_flight_batch_, [this, alive = std::weak_ptr<bool>(alive_), gen = generation_](send_result res) {
    const auto a = alive.lock();
    if (!a || !*a) return;
    on_sent(gen, res);
  });
}

void pipeline::on_sent(std::uint64_t generation, const send_result& res) {
  if (generation != generation_ || !in_flight_) return;
  in_flight_ = false;
  const auto n = in_flight_batch_.size();
  const auto accepted = res.ok ? n : std::min(res.accepted, n);
  try {
    if (accepted > 0) buffer_.remove_through(in_flight_batch_[accepted - 1].seq);
  } catch (const buffer_error& e) {
    stats_->error(e.what());  // sent again: at least once allows it
  }
  stats_->sent += accepted;
  in_flight_batch_.clear();
  if (res.ok) {
    backoff_ = std::chrono::milliseconds(0);
    release_held();
    return pump();
  }
  ++stats_->send_failures;
  stats_->error(res.error);
  backoff_ = backoff_.count() == 0 ? settings_.retry_initial : std::min(backoff_ * 2, settings_.retry_max);
  if (log_)
    log_->warn("dataflow '{}': send failed ({}); {} of {} taken, retrying in {} ms", name_, res.error, accepted, n,
               backoff_.count());
  release_held();
  waiting_retry_ = true;
  retry_timer_.expires_after(backoff_);
  retry_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_), gen = generation_](boost::system::error_code ec) {
    if (ec) return;
    const auto a = alive.lock();
    if (!a || !*a || gen != generation_) return;
    waiting_retry_ = false;
    pump();
  });
}

void pipeline::publish_depth() {
  stats_->buffered_messages = buffer_.messages();
  stats_->buffered_bytes = buffer_.bytes();
}

}  // namespace edgemq::dataflow
