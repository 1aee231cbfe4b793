// One client connection over any transport: a chain of readiness waits feeding the protocol channel,
// a single writer flushing everything the channel produced in one gathered write per wake-up,
// and one deadline in its worker's deadline_wheel for the CONNECT timeout, keep alive and the
// linger after close (ADR 0037). Written once for every transport.
// Include only from src/net .cpp files: it pulls in Asio.
//
// Threading: a connection is served by its worker's thread, except that a worker which has just
// routed messages to it may pull and write them itself when nobody is working on the connection
// (try_wake_here): the message goes out at once instead of after waking the other worker. The
// owner lock (`busy_`, owner_guard) makes the two exclusive; every handler takes it, the foreign
// side only ever tries it. Lock order: docs/adr/0001-layering-and-threading.md, "Threads and
// locks today". The deadline (its wheel hook) is only armed, cancelled and fired on the
// connection's own worker, under the owner lock.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "broker/client_channel.hpp"
#include "broker/log_safe.hpp"
#include "net/connection_set.hpp"
#include "net/deadline_wheel.hpp"
#include "net/worker_inbox.hpp"

namespace edgemq::net {

namespace asio = boost::asio;

// Each worker thread reads into this buffer; a connection that waits holds none.
std::span<std::uint8_t> thread_read_buffer();

// What the connections of one worker share, held once by the server (declared before its
// io_contexts, so it outlives every connection): one reference in each connection instead of
// five. The wheel is touched only on its worker's thread; the inbox takes wake-ups from any
// thread (worker_inbox.hpp).
struct worker_context {
  worker_context(broker::broker& b, connection_set& set, std::shared_ptr<worker_inbox> in,
                 std::shared_ptr<spdlog::logger> l)
      : broker(b), connections(set), inbox(std::move(in)), log(std::move(l)) {}
  broker::broker& broker;
  connection_set& connections;
  std::shared_ptr<worker_inbox> inbox;
  deadline_wheel wheel{deadline_wheel::clock::now()};
  std::shared_ptr<spdlog::logger> log;
};

template <class Transport>
class basic_connection final : public broker::link,
                               public closable,
                               public wakeable,
                               private deadline_wheel::entry,
                               public std::enable_shared_from_this<basic_connection<Transport>> {
 public:
  // `w`: the connection's worker; it outlives the connection.
  basic_connection(Transport t, worker_context& w)
      : deadline_wheel::entry(&on_deadline), transport_(std::move(t)), w_(w) {}
  // Only ever destroyed finished and out of the wheel, except when the io_context is torn down
  // with its handlers (every worker stopped): then it leaves the wheel and the set here.
  ~basic_connection() override {
    w_.wheel.cancel(*this);
    w_.connections.remove(this);
  }

  // `listener`: the listener's index (its security settings apply); `listener_name`: its name
  // for log lines.
  void start(std::uint32_t listener, std::shared_ptr<const std::string> listener_name) {
    const owner_guard g(*this);
    auto self = this->shared_from_this();
    channel_.emplace(w_.broker, self, w_.log);
    channel_->set_listener(listener);
    channel_->set_peer(transport_.remote_endpoint(), std::move(listener_name));
    if (auto cert = transport_.peer_certificate()) channel_->set_peer_certificate(std::move(*cert));
    w_.connections.add(*this);
    wait_readable();
    arm_timer();
  }

  // broker::link — any thread. Batched per worker (see worker_inbox).
  void notify() override { w_.inbox->wake(this->shared_from_this()); }
  // wakeable — the worker's thread.
  void on_wake() override {
    const owner_guard g(*this);
    on_wake_locked();
  }
  // wakeable — any worker thread, at the end of a wake_batch.
  bool try_wake_here() override {
    const owner_guard g(*this, std::try_to_lock);
    if (!g.owns()) return false;  // its worker is on it: post
    // A write in flight pulls again when it completes; a closing connection is its worker's.
    if (finished_ || writing_) return true;
    if (channel_->closing()) return false;
    // Only a quiet connection is written from here: its message goes out now instead of after
    // waking its worker. A busy one is left to its worker, which batches what many readers
    // routed to it into one write.
    if (std::chrono::steady_clock::now() - last_write_ < quiet_after) return false;
    // One write at most from here, so the owner never waits long for `busy_`; a failed write
    // or a backlog is left to the owner.
    channel_->pull();
    flush(1, true);
    return true;
  }
  void kick(mqtt::reason_code why) override {
    asio::post(transport_.get_executor(), [self = this->shared_from_this(), why] {
      const owner_guard g(*self);
      if (self->finished_) return;
      self->channel_->kick(why);
      self->flush();
    });
  }
  // closable — any thread.
  void shutdown(mqtt::reason_code why) override { kick(why); }
  std::shared_ptr<closable> lock() noexcept override { return this->weak_from_this().lock(); }
  void abort() override {
    const owner_guard g(*this);
    finish();
    close_transport();  // the worker has stopped: no drain
  }

  auto executor() { return transport_.get_executor(); }

 private:
  void on_wake_locked() {
    if (finished_) return;
    channel_->pull();
    flush();
  }

  // Holds `busy_`. The worker's handlers for this connection spin for it while another worker
  // writes to it (a pull and a non-blocking write: microseconds); that other worker only tries
  // (std::try_to_lock), with a plain load first so a busy connection's lock is not bounced.
  class owner_guard {
   public:
    explicit owner_guard(basic_connection& c) noexcept : busy_(c.busy_), owns_(true) {
      while (busy_.exchange(true, std::memory_order_acquire)) {
        while (busy_.load(std::memory_order_relaxed)) std::this_thread::yield();
      }
    }
    owner_guard(basic_connection& c, std::try_to_lock_t) noexcept
        : busy_(c.busy_),
          owns_(!busy_.load(std::memory_order_relaxed) && !busy_.exchange(true, std::memory_order_acquire)) {}
    ~owner_guard() {
      if (owns_) busy_.store(false, std::memory_order_release);
    }
    owner_guard(const owner_guard&) = delete;
    owner_guard& operator=(const owner_guard&) = delete;
    bool owns() const noexcept { return owns_; }

   private:
    std::atomic<bool>& busy_;
    const bool owns_;
  };

  // Reading is a chain of readiness waits, not a coroutine: an idle connection holds only the
  // pending wait (no frame, no buffer); data is read into the worker's buffer when it is there.
  void wait_readable() {
    transport_.async_wait_readable([self = this->shared_from_this()](boost::system::error_code ec) {
      const owner_guard g(*self);
      self->on_readable(ec);
    });
  }

  void on_readable(boost::system::error_code ec) {
    if (ec && ec != asio::error::operation_aborted) return finish();
    if (ec || finished_) return flush();  // closed by us, or closing after the last write
    wake_batch batch(w_.inbox.get());     // connections this read routed to: woken once, after it
    read_available();
    batch.flush();
  }

  // Reads and handles what the socket holds, writes our answers, then waits for more (or closes).
  void read_available() {
    bool eof = false;
    auto buf = thread_read_buffer();
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
    if (channel_->take_pull_hint()) channel_->pull();  // a service's answer joins its ack (ADR 0030)
    flush();
    if (eof) return finish();
    arm_keep_alive_after_connect();
    if (channel_->closing()) return flush();  // flush() closes the transport once output is written
    if (writing_ && channel_->output_bytes() > w_.broker.config().max_output_bytes) {
      // The client does not read what we send: stop reading its requests until it does.
      read_paused_ = true;
      return;
    }
    wait_readable();
  }

  // Writes what the channel produced: first straight away without blocking (the usual case: all
  // of it fits in the socket buffer, no handler is queued, nobody is woken); whatever does not
  // fit is handed to an async write whose completion continues.
  // `foreign`: called from another worker (try_wake_here); closing on a failed write is then left
  // to the owner, whose handlers would otherwise wait for a will to be published and more.
  void flush(int rounds = 8, bool foreign = false) {
    for (int round = 0; round < rounds; ++round) {
      if (writing_ || finished_) return;
      if (!channel_->has_output()) {
        // Closing runs the session's end (will, registry): the owner's work, never a foreign
        // worker's (a pull from here can close: a 3.1.1 client refused on a storage failure).
        if (channel_->closing()) {
          if (foreign) return post_to_owner([](basic_connection& c) { c.finish(true); });
          finish(true);
        }
        return;
      }
      if (!out_) out_ = std::make_unique<write_state>();
      auto& out = *out_;
      channel_->take_output(out.output);
      const auto& heads = out.output->heads;
      out.buffers.clear();
      std::size_t total = 0;
      for (const auto& c : out.output->chunks) {
        if (c.head_end > c.head_begin) out.buffers.emplace_back(heads.data() + c.head_begin, c.head_end - c.head_begin);
        if (c.body) out.buffers.emplace_back(c.body->payload.data(), c.body->payload.size());
      }
      for (const auto& b : out.buffers) total += b.size();
      boost::system::error_code ec;
      const std::size_t n = transport_.write_some(out.buffers, ec);
      last_write_ = std::chrono::steady_clock::now();
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
        written();
        if (foreign) return post_to_owner([](basic_connection& c) { c.finish(); });
        return finish();
      }
      if (n < total) return write_rest(n);
      written();
      resume_reading();
      // New deliveries notify again; only a backlog cut short by the output budget needs
      // pulling from here, and a closing connection goes round once more to close.
      if (channel_->budget_hit())
        channel_->pull();
      else if (!channel_->closing())
        return;
    }
    // Still more after the rounds: the owner goes on, after its other connections had a turn.
    if (writing_ || finished_) return;
    if (channel_->has_output() || channel_->budget_hit())
      return post_to_owner([](basic_connection& c) { c.on_wake_locked(); });
    if (channel_->closing()) {
      if (foreign) return post_to_owner([](basic_connection& c) { c.finish(true); });
      finish(true);
    }
  }

  template <class F>
  void post_to_owner(F f) {
    asio::post(transport_.get_executor(), [self = this->shared_from_this(), f] {
      const owner_guard g(*self);
      f(*self);
    });
  }

  // The socket took `done` bytes of out_->buffers: the rest goes by async write.
  void write_rest(std::size_t done) {
    auto& buffers = out_->buffers;
    std::size_t skip = 0;
    while (skip < buffers.size() && done >= buffers[skip].size()) done -= buffers[skip++].size();
    buffers.erase(buffers.begin(), buffers.begin() + static_cast<std::ptrdiff_t>(skip));
    if (!buffers.empty()) buffers.front() += done;
    writing_ = true;
    transport_.async_write(buffers, [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
      const owner_guard g(*self);
      self->writing_ = false;
      self->written();
      if (ec) return self->finish();
      if (self->finished_) return;
      self->resume_reading();
      self->channel_->pull();
      self->flush();
    });
  }

  // A write finished: release its buffers.
  void written() {
    if (!out_) return;
    auto& out = *out_;
    out.buffers.clear();
    if (!out.output) return;
    out.output->chunks.clear();
    // Keep the buffers for the next wake-up, except after the first write (the CONNACK: many
    // connections then idle, and should hold nothing), a burst that made them large, or when a
    // burst is over (this write used a small part of them): idle connections stay small, and
    // hold no write state at all (out_ is made again by the next write).
    auto& heads = out.output->heads;
    const auto cap = heads.capacity();
    if (!first_write_done_ || cap > 128 * 1024 || (cap > 16 * 1024 && heads.size() < cap / 8)) {
      first_write_done_ = true;
      out_.reset();
    } else {
      heads.clear();
    }
  }

  // Reading was paused while the client did not read our output; a write went through.
  void resume_reading() {
    if (read_paused_ && !finished_ && !channel_->closing()) {
      read_paused_ = false;
      wait_readable();
    }
  }

  // The connection's end. `linger`: we close it after our last packet (a DISCONNECT, a refusing
  // CONNACK): the transport is half-closed and the peer's unread input drained before it is
  // released (see linger()); otherwise (the peer closed, an error) it is released at once.
  void finish(bool linger = false) {
    if (finished_) return;
    finished_ = true;
    w_.wheel.cancel(*this);
    channel_->on_close(broker::clock::now());
    w_.connections.remove(this);
    if (linger)
      start_linger();
    else
      close_transport();
  }

  void close_transport() {
    if (transport_closed_) return;
    transport_closed_ = true;
    w_.wheel.cancel(*this);
    transport_.close();
  }

  // Closing a socket whose receive queue holds unread bytes makes the kernel send a reset, and a
  // reset can reach the peer before it has read our last packet (a PUBLISH over the Maximum
  // Packet Size is still being sent when the DISCONNECT 0x95 goes out): the client sees a broken
  // pipe instead of the reason. So: FIN after the last write, then read and discard until the
  // peer closes too, for at most linger_time and linger_bytes, then release. Asynchronous (the
  // worker goes on with other connections), and the connection has already left the broker
  // (on_close ran, it is out of the connection set): only the socket and its deadline are left.
  void start_linger() {
    transport_.shutdown_send();
    linger_left_ = linger_bytes;
    w_.wheel.arm(*this, deadline_wheel::clock::now() + linger_time);  // on_deadline closes
    drain();
  }

  void drain() {
    transport_.async_wait_readable([self = this->shared_from_this()](boost::system::error_code ec) {
      const owner_guard g(*self);
      if (self->transport_closed_) return;
      if (ec) return self->close_transport();
      auto buf = thread_read_buffer();
      for (;;) {
        boost::system::error_code rec;
        const std::size_t n = self->transport_.read_some(asio::buffer(buf.data(), buf.size()), rec);
        if (rec == asio::error::would_block || rec == asio::error::try_again) return self->drain();
        if (rec || n == 0 || n >= self->linger_left_) return self->close_transport();  // peer done, or enough
        self->linger_left_ -= static_cast<std::uint32_t>(n);
      }
    });
  }

  // Until CONNECT is accepted the deadline is the connect timeout.
  void arm_timer() { w_.wheel.arm(*this, deadline_wheel::clock::now() + w_.broker.config().connect_timeout); }

  // The wheel fired this connection's deadline (on its worker, from the worker's ticker).
  static void on_deadline(deadline_wheel::entry& e) {
    auto& c = static_cast<basic_connection&>(e);
    const auto self = c.shared_from_this();  // whatever the handling drops, not us meanwhile
    const owner_guard g(c);
    c.deadline_passed();
  }

  void deadline_passed() {
    if (finished_) return close_transport();  // the linger is over
    if (!keep_alive_armed_) {                 // the connect timeout
      if (channel_->connected()) return;
      if (w_.log) w_.log->info("{}: no CONNECT within the connect timeout, closing", transport_.remote_endpoint());
      return finish();
    }
    const auto now = broker::clock::now();
    if (const auto rc = channel_->timer_expired(now); rc != mqtt::reason_code::success) {
      if (rc == mqtt::reason_code::maximum_connect_time && w_.log)
        w_.log->info("client '{}': credentials expired without re-authentication, closing (0xA0)",
                     log_safe(channel_->client_id()));
      channel_->kick(rc);
      flush();
      return;
    }
    // Check again when the first deadline would end at the earliest.
    const auto next = channel_->timer_remaining(now);
    if (next != std::chrono::milliseconds::max()) return wait_deadlines(next);
    timer_due_ = broker::clock::time_point::max();
  }

  // After CONNECT the deadline watches the channel's: the keep alive and, for a client that
  // authenticated with a token, the token's expiry (client_channel::timer_remaining).
  void arm_keep_alive_after_connect() {
    if (!channel_->connected()) return;
    if (keep_alive_armed_) {
      // A re-authentication may have moved the credentials' expiry before the next wake-up.
      if (channel_->credentials_expiry() < timer_due_) wait_deadlines(channel_->timer_remaining(broker::clock::now()));
      return;
    }
    keep_alive_armed_ = true;
    w_.wheel.cancel(*this);
    const auto after = channel_->timer_remaining(broker::clock::now());
    if (after != std::chrono::milliseconds::max()) wait_deadlines(after);
  }

  // The wheel fires up to one slot after `after`, never before.
  void wait_deadlines(std::chrono::milliseconds after) {
    timer_due_ = broker::clock::now() + after;
    w_.wheel.arm(*this, timer_due_);
  }

  // What one write needs, made by the first write and released after it (the CONNACK), after a
  // burst that made it large and when a burst is over: an idle connection holds none.
  struct write_state {
    std::unique_ptr<broker::channel_output> output;  // swapped with the channel's (take_output)
    std::vector<asio::const_buffer> buffers;
  };

  Transport transport_;
  worker_context& w_;
  std::unique_ptr<write_state> out_;
  std::chrono::steady_clock::time_point last_write_{};
  broker::clock::time_point timer_due_ = broker::clock::time_point::max();  // the deadline wait's end
  static constexpr std::chrono::microseconds quiet_after{200};
  // Draining a closed connection's input (start_linger): long enough for a client to finish
  // sending what it had started and read our last packet, bounded against one that never stops.
  static constexpr std::chrono::milliseconds linger_time{2000};
  static constexpr std::uint32_t linger_bytes = 64 * 1024 * 1024;
  std::uint32_t linger_left_ = 0;
  std::atomic<bool> busy_{false};  // see owner_guard and try_wake_here
  bool transport_closed_ = false;
  bool writing_ = false;
  bool first_write_done_ = false;
  bool finished_ = false;
  bool read_paused_ = false;
  bool keep_alive_armed_ = false;
  // Made by start(), in the connection's own allocation (one allocation, not two).
  std::optional<broker::client_channel> channel_;
};

}  // namespace edgemq::net
