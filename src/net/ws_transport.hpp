// WebSocket (RFC 6455) as a transport for basic_connection, layered on another transport (TCP
// for ws://, TLS for wss://): the same members as tcp_transport (wait readable, non-blocking
// read_some and write_some, async write for the rest, shutdown_send, close), so the connection
// code is the one every transport uses. Reading strips the frames in place in the caller's
// buffer (ws_frame.hpp); writing sends each gathered write as one binary frame. And
// async_ws_accept runs the opening handshake (ws_handshake.hpp) before the connection exists.
// Include only from src/net .cpp files: it pulls in Asio. ADR 0013 says why not Beast's
// websocket::stream.
//
// Threading (ADR 0006): read_some, write_some, shutdown_send and close are called under the
// connection's owner lock (its worker, or a foreign worker for write_some). Control frames we
// must answer (pong, close) may have to wait for a data write in flight, and a data write for a
// control frame in flight; that queue and the socket writes are guarded by the transport's
// mutex, because write completions run on the worker without the owner lock. State shared with
// pending operations lives in a shared_ptr: a completion may come after the connection is gone.
#pragma once

#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"
#include "broker/principal.hpp"
#include "net/ws_frame.hpp"
#include "net/ws_handshake.hpp"

namespace edgemq::net {

// A one-buffer sequence: the inner transports take buffer sequences (TLS iterates them).
inline std::array<boost::asio::const_buffer, 1> one_buffer(const void* data, std::size_t n) {
  return {boost::asio::const_buffer(data, n)};
}

// A WebSocket listener's settings, resolved (config::websocket_options plus the broker's limits).
struct ws_settings {
  std::string path = "/mqtt";
  std::uint64_t max_frame_size = 16 * 1024 * 1024;
  std::size_t max_request_bytes = 8 * 1024;  // the upgrade request, headers included
  std::chrono::milliseconds handshake_timeout{10000};
};

template <class Inner>
class ws_transport {
 public:
  ws_transport(Inner inner, const ws_settings& s, std::string first_bytes, std::shared_ptr<spdlog::logger> log)
      : st_(std::make_shared<state>(std::move(inner), s.max_frame_size)) {
    st_->pending_in = std::move(first_bytes);
    st_->log = std::move(log);
    st_->peer = st_->inner.remote_endpoint();
  }

  auto get_executor() { return st_->inner.get_executor(); }

  // Completes at once when there is something read_some will return without the socket: bytes
  // that came with the upgrade request, the end (a close frame, a protocol error), or input
  // read_some left in the socket to let the worker's other connections have a turn.
  template <class Handler>
  void async_wait_readable(Handler&& h) {
    if (!st_->pending_in.empty() || st_->read_done || std::exchange(st_->more_input, false))
      return boost::asio::post(st_->inner.get_executor(),
                               [h = std::forward<Handler>(h)]() mutable { h(boost::system::error_code{}); });
    st_->inner.async_wait_readable(std::forward<Handler>(h));
  }

  // Reads frames without blocking and returns the MQTT bytes they carry, in `b`. Returns less
  // than b.size() only when the socket had no more (as a TCP read does), so the caller's
  // readiness wait is what brings the rest. A close frame ends the stream (eof, after our reply);
  // a protocol error too (our close frame with its code is sent first).
  std::size_t read_some(boost::asio::mutable_buffer b, boost::system::error_code& ec) {
    ec.clear();
    auto& s = *st_;
    if (s.read_done) {
      ec = s.read_error;
      return 0;
    }
    auto* p = static_cast<std::uint8_t*>(b.data());
    const std::size_t cap = b.size();
    std::size_t out = 0;
    int reads = 0;
    while (out < cap) {
      const std::size_t room = cap - out;
      std::size_t n = 0;
      const bool from_handshake = !s.pending_in.empty();
      if (from_handshake) {
        n = std::min(room, s.pending_in.size());
        std::memcpy(p + out, s.pending_in.data(), n);
        s.pending_in.erase(0, n);
      } else {
        boost::system::error_code rec;
        n = s.inner.read_some(boost::asio::buffer(p + out, room), rec);
        if (rec || n == 0) {
          if (out == 0) ec = rec ? rec : boost::asio::error::eof;
          return out;  // an error or EOF comes back on the next call
        }
      }
      out += s.decoder.decode(std::span<std::uint8_t>(p + out, n), s.replies);
      if (s.decoder.closed() || s.decoder.failed()) {
        end_of_input();
        if (out == 0) ec = s.read_error;
        return out;
      }
      if (!s.replies.empty()) send_replies();
      // Less than asked: the socket is drained (or the handshake's bytes are used up: go on
      // with the socket).
      if (n < room && !from_handshake) {
        if (out == 0) ec = boost::asio::error::would_block;
        return out;
      }
      // Frame overhead only (a flood of pings): after a while give the worker back; the next
      // readiness wait completes at once (more_input), since no new readiness event would come.
      if (!from_handshake && ++reads >= max_reads_per_call && out < cap) {
        s.more_input = true;
        if (out == 0) ec = boost::asio::error::would_block;
        return out;
      }
    }
    return out;
  }

  // Sends `bufs` as one binary frame (after any control frame waiting). Returns the payload
  // bytes the socket took now; the connection hands the rest to async_write, which sends the
  // rest of this frame (its header is not repeated).
  template <class Buffers>
  std::size_t write_some(const Buffers& bufs, boost::system::error_code& ec) {
    ec.clear();
    auto& s = *st_;
    const std::lock_guard lk(s.mu);
    if (s.close_sent) {
      ec = boost::asio::error::broken_pipe;  // nothing may follow our close frame
      return 0;
    }
    if (s.busy) return 0;  // our control frame is on its way: async_write queues behind it
    const std::size_t total = boost::asio::buffer_size(bufs);
    start_frame_locked(total);
    gather_locked(bufs);
    const std::size_t k = s.inner.write_some(s.gather, ec);
    if (ec && ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) return 0;
    if (k >= s.prefix.size() + total) {
      s.prefix.clear();
      s.frame_started = false;
      return total;
    }
    const std::size_t pre = std::min(k, s.prefix.size());
    s.prefix.erase(0, pre);  // (TLS takes all or reports 0: then the same bytes go to async_write)
    return k - pre;
  }

  template <class Buffers, class Handler>
  void async_write(const Buffers& bufs, Handler&& h) {
    auto& s = *st_;
    const std::lock_guard lk(s.mu);
    pending_write w{std::vector<boost::asio::const_buffer>(boost::asio::buffer_sequence_begin(bufs),
                                                           boost::asio::buffer_sequence_end(bufs)),
                    std::forward<Handler>(h)};
    if (s.busy) {
      s.deferred = std::move(w);  // after the control frame in flight
      return;
    }
    start_data_locked(st_, std::move(w));
  }

  // Our close frame (1000), then FIN once it is out; reading goes on (the connection drains).
  void shutdown_send() {
    auto& s = *st_;
    const std::lock_guard lk(s.mu);
    if (!s.close_sent) {
      ws::append_close(s.ctrl, ws::close_code::normal);
      s.close_sent = true;
      s.decoder.mute();
    }
    s.shutdown_after = true;
    pump_locked(st_);
  }

  void close() {
    const std::lock_guard lk(st_->mu);
    st_->inner.close();
    // A data write waiting behind a control frame holds the connection's handler, and the state
    // holds it: completed (aborted) through the executor, not kept, so no cycle outlives the
    // workers at shutdown.
    fail_deferred_locked(st_, boost::asio::error::operation_aborted);
  }

  std::optional<broker::peer_certificate> peer_certificate() const { return st_->inner.peer_certificate(); }
  std::string remote_endpoint() const { return st_->peer; }

 private:
  struct pending_write {
    std::vector<boost::asio::const_buffer> bufs;
    std::function<void(boost::system::error_code, std::size_t)> handler;
  };
  struct state {
    state(Inner i, std::uint64_t max_frame) : inner(std::move(i)), decoder(max_frame) {}
    Inner inner;
    std::string peer;
    std::shared_ptr<spdlog::logger> log;
    // Owner only (read side).
    ws::frame_decoder decoder;
    std::string pending_in;  // bytes that came after the upgrade request
    std::string replies;     // control frames the decoder produced
    bool read_done = false;
    bool more_input = false;  // read_some stopped with input left in the socket
    boost::system::error_code read_error;
    // Guarded by mu.
    std::mutex mu;
    std::string ctrl;            // control frames waiting to be sent
    std::string ctrl_in_flight;  // control frames an async write is sending
    std::string prefix;          // what the current data write sends before its payload
    bool frame_started = false;  // prefix holds the rest of a frame write_some began
    std::vector<boost::asio::const_buffer> gather;
    bool busy = false;                      // an async write (a data frame's rest or control frames) is in flight
    bool close_sent = false;                // our close frame is queued or sent
    bool shutdown_after = false;            // FIN once everything queued is out
    std::optional<pending_write> deferred;  // a data write waiting for the control frames in flight
  };
  using state_ptr = std::shared_ptr<state>;

  void start_frame_locked(std::size_t total) {
    auto& s = *st_;
    s.prefix.swap(s.ctrl);  // control frames first: they are whole frames, never inside ours
    s.ctrl.clear();
    ws::append_header(s.prefix, ws::opcode::binary, total);
    s.frame_started = true;
  }

  template <class Buffers>
  void gather_locked(const Buffers& bufs) {
    auto& s = *st_;
    s.gather.clear();
    if (!s.prefix.empty()) s.gather.emplace_back(s.prefix.data(), s.prefix.size());
    for (auto it = boost::asio::buffer_sequence_begin(bufs); it != boost::asio::buffer_sequence_end(bufs); ++it)
      s.gather.emplace_back(*it);
  }

  // The decoder saw the close frame or a protocol error: our reply (close frame) goes out, and
  // read_some reports the end from now on.
  void end_of_input() {
    auto& s = *st_;
    s.read_done = true;
    if (s.decoder.failed()) {
      s.read_error = boost::asio::error::connection_aborted;
      if (s.log)
        s.log->info("{}: WebSocket protocol error, closing with {}: {}", s.peer, static_cast<int>(s.decoder.error()),
                    s.decoder.error_text());
    } else {
      s.read_error = boost::asio::error::eof;
    }
    const std::lock_guard lk(s.mu);
    if (!s.close_sent) s.ctrl += s.replies;
    s.replies.clear();
    s.close_sent = true;
    s.decoder.mute();
    pump_locked(st_);
  }

  // Pongs. A client that pings faster than it reads would make them pile up: past
  // max_pending_control only the pong of the last ping of this read is kept, or none (RFC 6455
  // 5.5.3 lets an endpoint answer only the most recent ping).
  void send_replies() {
    auto& s = *st_;
    const std::lock_guard lk(s.mu);
    if (!s.close_sent) {
      if (s.ctrl.size() + s.replies.size() <= max_pending_control) {
        s.ctrl += s.replies;
      } else {
        const auto last = ws::last_control_frame(s.replies);
        if (s.ctrl.size() + last.size() <= max_pending_control) s.ctrl += last;
      }
    }
    s.replies.clear();
    pump_locked(st_);
  }
  static constexpr std::size_t max_pending_control = 8 * 1024;
  static constexpr int max_reads_per_call = 16;  // socket reads per read_some: about 1 MiB

  // Starts what waits, in order: control frames, a deferred data write, the FIN.
  static void pump_locked(const state_ptr& st) {
    auto& s = *st;
    if (s.busy) return;
    if (!s.ctrl.empty()) return start_ctrl_locked(st);
    if (s.deferred) {
      auto w = std::move(*s.deferred);
      s.deferred.reset();
      return start_data_locked(st, std::move(w));
    }
    if (s.shutdown_after) {
      s.shutdown_after = false;
      s.inner.shutdown_send();
    }
  }

  // Control frames are tiny: the socket nearly always takes them at once; what it does not goes
  // by async write, and data writes wait behind it.
  static void start_ctrl_locked(const state_ptr& st) {
    auto& s = *st;
    s.ctrl_in_flight.swap(s.ctrl);
    s.ctrl.clear();
    boost::system::error_code ec;
    const std::size_t k = s.inner.write_some(one_buffer(s.ctrl_in_flight.data(), s.ctrl_in_flight.size()), ec);
    if (ec && ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
      s.ctrl_in_flight.clear();
      return fail_deferred_locked(st, ec);
    }
    if (k >= s.ctrl_in_flight.size()) {
      s.ctrl_in_flight.clear();
      return pump_locked(st);
    }
    s.busy = true;
    s.inner.async_write(one_buffer(s.ctrl_in_flight.data() + k, s.ctrl_in_flight.size() - k),
                        [st](boost::system::error_code wec, std::size_t) {
                          const std::lock_guard lk(st->mu);
                          st->busy = false;
                          st->ctrl_in_flight.clear();
                          if (wec) return fail_deferred_locked(st, wec);
                          pump_locked(st);
                        });
  }

  static void fail_deferred_locked(const state_ptr& st, boost::system::error_code ec) {
    if (!st->deferred) return;
    auto h = std::move(st->deferred->handler);
    st->deferred.reset();
    boost::asio::post(st->inner.get_executor(), [h = std::move(h), ec] { h(ec, 0); });
  }

  static void start_data_locked(const state_ptr& st, pending_write w) {
    auto& s = *st;
    std::size_t total = 0;
    for (const auto& b : w.bufs) total += b.size();
    if (s.close_sent && !s.frame_started) {  // our close frame went first: no data after it
      s.ctrl.clear();
      boost::asio::post(s.inner.get_executor(), [h = std::move(w.handler)] { h(boost::asio::error::broken_pipe, 0); });
      return pump_locked(st);
    }
    if (!s.frame_started) {
      s.prefix.swap(s.ctrl);
      s.ctrl.clear();
      ws::append_header(s.prefix, ws::opcode::binary, total);
    }
    s.frame_started = false;
    s.gather.clear();
    if (!s.prefix.empty()) s.gather.emplace_back(s.prefix.data(), s.prefix.size());
    s.gather.insert(s.gather.end(), w.bufs.begin(), w.bufs.end());
    s.busy = true;
    s.inner.async_write(s.gather, [st, h = std::move(w.handler), total](boost::system::error_code ec, std::size_t) {
      {
        const std::lock_guard lk(st->mu);
        st->busy = false;
        st->prefix.clear();
        if (ec)
          fail_deferred_locked(st, ec);
        else
          pump_locked(st);
      }
      h(ec, total);  // outside the mutex: it takes the connection's owner lock
    });
  }

  state_ptr st_;
};

// Runs the opening handshake on `inner` (already connected, TLS already done for wss), with the
// settings' deadline; then `done(transport)` on success, or `done(nullopt)` after the refusal
// was sent (or the deadline, or an error) and the socket closed. Refusals are logged.
template <class Inner, class Done>
void async_ws_accept(Inner inner, const ws_settings& settings, std::shared_ptr<spdlog::logger> log, Done done) {
  struct op {
    op(Inner i, const ws_settings& s, std::shared_ptr<spdlog::logger> l, Done d)
        : inner(std::move(i)),
          settings(s),
          log(std::move(l)),
          done(std::move(d)),
          request(s.path, s.max_request_bytes),
          timer(inner.get_executor()) {}
    Inner inner;
    ws_settings settings;
    std::shared_ptr<spdlog::logger> log;
    Done done;
    ws::upgrade_request request;
    boost::asio::steady_timer timer;
    std::string peer;
    bool finished = false;

    void fail(const std::string& why) {
      if (finished) return;
      finished = true;
      timer.cancel();
      if (log) log->info("{}: WebSocket handshake failed: {}", peer, why);
      inner.close();
      done(std::nullopt);
    }
    static void read(const std::shared_ptr<op>& self) {
      self->inner.async_wait_readable([self](boost::system::error_code ec) {
        if (self->finished) return;
        if (ec) return self->fail(ec.message());
        std::array<std::uint8_t, 4096> buf;
        for (;;) {
          boost::system::error_code rec;
          const std::size_t n = self->inner.read_some(boost::asio::buffer(buf), rec);
          if (rec == boost::asio::error::would_block || rec == boost::asio::error::try_again) return read(self);
          if (rec || n == 0) return self->fail(rec ? rec.message() : "connection closed");
          if (self->request.feed(std::span<const std::uint8_t>(buf.data(), n)) !=
              ws::upgrade_request::status::need_more)
            return respond(self);
        }
      });
    }
    static void respond(const std::shared_ptr<op>& self) {
      boost::system::error_code ec;
      const auto& r = self->request.response();
      const std::size_t k = self->inner.write_some(one_buffer(r.data(), r.size()), ec);
      if (ec && ec != boost::asio::error::would_block && ec != boost::asio::error::try_again)
        return self->fail(ec.message());
      if (k >= r.size()) return responded(self, {});
      self->inner.async_write(one_buffer(r.data() + k, r.size() - k),
                              [self](boost::system::error_code wec, std::size_t) { responded(self, wec); });
    }
    static void responded(const std::shared_ptr<op>& self, boost::system::error_code ec) {
      if (self->finished) return;
      if (ec) return self->fail(ec.message());
      if (self->request.state() == ws::upgrade_request::status::refused) {
        self->finished = true;
        self->timer.cancel();
        if (self->log)
          self->log->info("{}: WebSocket upgrade refused: {}", self->peer, log_safe(self->request.reason()));
        self->inner.close();
        return self->done(std::nullopt);
      }
      self->finished = true;
      self->timer.cancel();
      self->done(ws_transport<Inner>(std::move(self->inner), self->settings, std::string(self->request.leftover()),
                                     self->log));
    }
  };
  auto self = std::make_shared<op>(std::move(inner), settings, std::move(log), std::move(done));
  self->peer = self->inner.remote_endpoint();
  self->timer.expires_after(settings.handshake_timeout);
  self->timer.async_wait([self](boost::system::error_code ec) {
    if (!ec)
      self->fail("no upgrade request within " + std::to_string(self->settings.handshake_timeout.count()) + " ms");
  });
  op::read(self);
}

}  // namespace edgemq::net
