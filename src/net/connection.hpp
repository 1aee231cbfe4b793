// One client connection over any transport: a chain of readiness waits feeding the protocol channel,
// a single writer flushing everything the channel produced in one gathered write per wake-up,
// and one timer for the CONNECT deadline and keep alive. Written once for every transport.
// Include only from src/net .cpp files: it pulls in Asio.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "broker/client_channel.hpp"
#include "net/connection_set.hpp"
#include "net/worker_inbox.hpp"

namespace edgemq::net {

namespace asio = boost::asio;

// Each worker thread reads into this buffer; a connection that waits holds none.
std::span<std::uint8_t> thread_read_buffer();

template <class Transport>
class basic_connection final : public broker::link,
                               public closable,
                               public wakeable,
                               public std::enable_shared_from_this<basic_connection<Transport>> {
 public:
  basic_connection(Transport t, broker::broker& b, connection_set& set, std::shared_ptr<worker_inbox> inbox,
                   std::shared_ptr<spdlog::logger> log)
      : transport_(std::move(t)),
        broker_(b),
        set_(set),
        inbox_(std::move(inbox)),
        log_(std::move(log)),
        timer_(transport_.get_executor()) {}

  void start() {
    auto self = this->shared_from_this();
    channel_ = std::make_unique<broker::client_channel>(broker_, self, log_);
    set_.add(self);
    wait_readable();
    arm_timer();
  }

  // broker::link — any thread. Batched per worker (see worker_inbox).
  void notify() override { inbox_->wake(this->shared_from_this()); }
  // wakeable — the worker's thread.
  void on_wake() override {
    if (finished_) return;
    channel_->pull();
    flush();
  }
  void kick(mqtt::reason_code why) override {
    asio::post(transport_.get_executor(), [self = this->shared_from_this(), why] {
      if (self->finished_) return;
      self->channel_->kick(why);
      self->flush();
    });
  }
  // closable — any thread.
  void shutdown(mqtt::reason_code why) override { kick(why); }
  void abort() override { finish(); }

  auto executor() { return transport_.get_executor(); }

 private:
  // Reading is a chain of readiness waits, not a coroutine: an idle connection holds only the
  // pending wait (no frame, no buffer); data is read into the worker's buffer when it is there.
  void wait_readable() {
    transport_.async_wait_readable([self = this->shared_from_this()](boost::system::error_code ec) {
      self->on_readable(ec);
    });
  }

  void on_readable(boost::system::error_code ec) {
    if (ec && ec != asio::error::operation_aborted) return finish();
    if (ec || finished_) return flush();  // closed by us, or closing after the last write
    bool eof = false;
    auto buf = thread_read_buffer();
    const wake_batch batch;  // subscribers on other connections are woken once, after this read
    for (;;) {
      boost::system::error_code rec;
      const std::size_t n = transport_.read_some(asio::buffer(buf.data(), buf.size()), rec);
      if (rec == asio::error::would_block || rec == asio::error::try_again) break;
      if (rec || n == 0) {
        eof = true;
        break;
      }
      channel_->on_data(std::span<const std::uint8_t>(buf.data(), n), broker::clock::now());
      if (n < buf.size() || channel_->closing()) break;
    }
    flush();
    if (eof) return finish();
    arm_keep_alive_after_connect();
    if (channel_->closing()) return flush();  // flush() closes the transport once output is written
    if (writing_ && channel_->output_bytes() > broker_.config().max_output_bytes) {
      // The client does not read what we send: stop reading its requests until it does.
      read_paused_ = true;
      return;
    }
    wait_readable();
  }

  void flush() {
    if (writing_ || finished_) return;
    if (!channel_->has_output()) {
      if (channel_->closing()) finish();
      return;
    }
    channel_->take_output(writing_heads_, writing_chunks_);
    buffers_.clear();
    for (const auto& c : writing_chunks_) {
      if (c.head_end > c.head_begin) buffers_.emplace_back(writing_heads_.data() + c.head_begin, c.head_end - c.head_begin);
      if (c.body) buffers_.emplace_back(c.body->payload.data(), c.body->payload.size());
    }
    writing_ = true;
    transport_.async_write(buffers_, [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->writing_ = false;
      self->writing_chunks_.clear();
      self->buffers_.clear();
      // Keep the buffers for the next wake-up, except after the first write (the CONNACK: many
      // connections then idle, and should hold nothing) or a burst that made them large.
      if (++self->writes_done_ == 1 || self->writing_heads_.capacity() > 32 * 1024) {
        std::string().swap(self->writing_heads_);
        std::vector<broker::out_chunk>().swap(self->writing_chunks_);
        std::vector<asio::const_buffer>().swap(self->buffers_);
      } else {
        self->writing_heads_.clear();
      }
      if (ec) return self->finish();
      if (self->finished_) return;
      self->channel_->pull();
      self->flush();
      if (self->read_paused_ && !self->finished_ && !self->channel_->closing()) {
        self->read_paused_ = false;
        self->wait_readable();
      }
    });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    channel_->on_close(broker::clock::now());
    transport_.close();
    set_.remove(this);
  }

  void arm_timer() {
    timer_.expires_after(broker_.config().connect_timeout);
    timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (ec || self->finished_ || self->channel_->connected()) return;
      if (self->log_) self->log_->info("{}: no CONNECT within the connect timeout, closing", self->transport_.remote_endpoint());
      self->finish();
    });
  }

  void arm_keep_alive_after_connect() {
    if (keep_alive_armed_ || !channel_->connected()) return;
    keep_alive_armed_ = true;
    timer_.cancel();
    if (channel_->keep_alive_timeout().count() > 0) wait_keep_alive(channel_->keep_alive_timeout());
  }

  void wait_keep_alive(std::chrono::milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (ec || self->finished_) return;
      const auto now = broker::clock::now();
      if (self->channel_->keep_alive_expired(now)) {
        self->channel_->kick(mqtt::reason_code::keep_alive_timeout);
        self->flush();
        return;
      }
      // Check again when the current window would end at the earliest.
      self->wait_keep_alive(self->channel_->keep_alive_remaining(now));
    });
  }

  Transport transport_;
  broker::broker& broker_;
  connection_set& set_;
  std::shared_ptr<worker_inbox> inbox_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<broker::client_channel> channel_;
  asio::steady_timer timer_;
  std::string writing_heads_;
  std::vector<broker::out_chunk> writing_chunks_;
  std::vector<asio::const_buffer> buffers_;
  bool writing_ = false;
  std::uint64_t writes_done_ = 0;
  bool finished_ = false;
  bool read_paused_ = false;
  bool keep_alive_armed_ = false;
};

}  // namespace edgemq::net
