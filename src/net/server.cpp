#include "net/server.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.hpp"
#include "net/connection.hpp"
#include "net/tcp_transport.hpp"
#include "net/tls_context.hpp"
#include "net/tls_transport.hpp"
#include "net/ws_transport.hpp"

namespace edgemq::net {

std::span<std::uint8_t> thread_read_buffer() {
  thread_local std::array<std::uint8_t, 64 * 1024> buf;
  return buf;
}

struct server::impl {
  broker::broker& broker_;
  config::server_options opts_;
  std::shared_ptr<spdlog::logger> log_;
  // Declared before workers_: connections that the io_contexts' destruction releases still
  // leave their set and their worker's deadline wheel.
  connection_set connections_;
  std::vector<std::unique_ptr<worker_context>> contexts_;  // one per worker
  std::vector<std::unique_ptr<asio::io_context>> workers_;
  std::vector<std::unique_ptr<asio::steady_timer>> tickers_;  // per worker: drives its wheel
  std::vector<std::shared_ptr<worker_inbox>> inboxes_;        // one per worker
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::vector<std::unique_ptr<tls_context_slot>> tls_slots_;  // per listener; null without TLS
  std::vector<ws_settings> ws_settings_;                      // per listener (WebSocket ones)
  // Per listener, as the ready line names it (bound port): for the connect/disconnect log lines.
  std::vector<std::shared_ptr<const std::string>> listener_names_;
  std::unique_ptr<asio::steady_timer> sweep_timer_;
  // Installed in start(), before the ready line: a signal in between must not kill the process.
  asio::io_context signals_ctx_{1};
  std::unique_ptr<asio::signal_set> signals_;
  // TLS handshakes in progress (not connections yet), so that stop() can release those that never
  // finish: see tls_transport::abandon_handshake.
  std::mutex handshakes_mu_;
  std::unordered_map<const tls_transport*, std::weak_ptr<tls_transport>> handshakes_;
  std::atomic<std::size_t> next_worker_{0};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_requested_ = false;
  bool stopped_ = false;

  void request_stop() {
    {
      std::lock_guard lk(stop_mu_);
      stop_requested_ = true;
    }
    stop_cv_.notify_all();
  }

  impl(broker::broker& b, config::server_options o, std::shared_ptr<spdlog::logger> l)
      : broker_(b), opts_(std::move(o)), log_(std::move(l)) {}

  std::size_t pick_worker() { return next_worker_.fetch_add(1, std::memory_order_relaxed) % workers_.size(); }

  // `li`: the listener's index (its security settings are the broker's for that index); `tls`: its TLS
  // context slot, null for plain MQTT and ws.
  void accept(asio::ip::tcp::acceptor& acc, std::uint32_t li, const tls_context_slot* tls) {
    const auto w = pick_worker();
    // The socket comes bound to the worker's io_context executor (tcp_socket).
    acc.async_accept(*workers_[w], [this, &acc, w, li, tls](boost::system::error_code ec, tcp_socket s) {
      if (ec == asio::error::operation_aborted || !acc.is_open()) return;
      // The next accept first: nothing of this handler stays with the connection.
      accept(acc, li, tls);
      if (ec) {
        log_->warn("accept failed: {}", ec.message());  // e.g. out of descriptors: keep accepting
      } else if (config::is_websocket(opts_.listeners[li].scheme)) {
        if (tls)
          start_tls(std::move(s), tls->current(), [this, w, li](tls_transport t) { start_ws(std::move(t), w, li); });
        else {
          auto t = std::make_shared<tcp_transport>(std::move(s));
          asio::post(t->get_executor(), [this, w, li, t] { start_ws(std::move(*t), w, li); });
        }
      } else if (tls) {
        // The context of this moment, for good (a reload never touches a live connection).
        start_tls(std::move(s), tls->current(),
                  [this, w, li](tls_transport t) { start_connection(std::move(t), w, li); });
      } else {
        auto c = std::make_shared<basic_connection<tcp_transport>>(tcp_transport(std::move(s)), *contexts_[w]);
        // Start on the connection's own worker: from here on it lives on that thread.
        asio::post(c->executor(), [c, li, name = listener_names_[li]] { c->start(li, name); });
      }
    });
  }

  // On the connection's worker.
  template <class Transport>
  void start_connection(Transport t, std::size_t w, std::uint32_t li) {
    auto c = std::make_shared<basic_connection<Transport>>(std::move(t), *contexts_[w]);
    c->start(li, listener_names_[li]);
  }

  // The handshake runs on the connection's worker before the connection exists: a client that
  // never completes it costs a socket and a timer, and is closed at the deadline. `then(t)` on
  // success, on that worker.
  template <class Then>
  void start_tls(tcp_socket s, std::shared_ptr<asio::ssl::context> ctx, Then then) {
    auto t = std::make_shared<tls_transport>(std::move(s), std::move(ctx));
    const auto peer = t->remote_endpoint();
    {
      std::lock_guard lk(handshakes_mu_);
      handshakes_.emplace(t.get(), t);
    }
    asio::post(t->get_executor(), [this, t, peer, then = std::move(then)]() mutable {
      t->async_handshake(
          tls_handshake_timeout, [this, t, peer, then = std::move(then)](boost::system::error_code ec) mutable {
            {
              std::lock_guard lk(handshakes_mu_);
              handshakes_.erase(t.get());
            }
            if (ec) {
              const auto why = t->verify_failure();  // the certificate's problem, when that was it
              return log_->info("{}: TLS handshake failed: {}{}{}", peer, ec.message(), why.empty() ? "" : ": ", why);
            }
            then(std::move(*t));
          });
    });
  }

  // The WebSocket upgrade (after TLS for wss), then the connection; on the connection's worker.
  template <class Inner>
  void start_ws(Inner inner, std::size_t w, std::uint32_t li) {
    async_ws_accept(std::move(inner), ws_settings_[li], log_, [this, w, li](std::optional<ws_transport<Inner>> t) {
      if (t) start_connection(std::move(*t), w, li);
    });
  }
  static constexpr std::chrono::seconds tls_handshake_timeout{10};

  // SIGHUP reloads (and keeps waiting); SIGINT/SIGTERM stop.
  void wait_signal() {
    signals_->async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        log_->info("SIGHUP received, reloading");
        reload_tls();
        if (opts_.on_reload) opts_.on_reload();
        return wait_signal();
      }
      log_->info("signal {} received, shutting down", sig);
      request_stop();
    });
  }

  // Makes every TLS listener's context again from its files (ADR 0014): what loads is used by the
  // connections accepted from now on; what fails is logged and the previous context stays.
  void reload_tls(server::tls_reload* out = nullptr) {
    for (auto& slot : tls_slots_) {
      if (!slot) continue;
      try {
        auto ctx = make_tls_context(slot->options(), slot->listener());
        bool not_valid_now = false;
        const auto cert = describe_certificate(*ctx, not_valid_now);
        slot->replace(std::move(ctx));
        log_->info("reload: listener {}: TLS certificate '{}' ({}), key{} loaded; new connections use them",
                   slot->listener(), slot->options().cert, cert,
                   slot->options().client_ca.empty() ? "" : " and client CA '" + slot->options().client_ca + "'");
        if (not_valid_now) log_->warn("listener {}: the certificate is not valid now ({})", slot->listener(), cert);
        if (out) out->loaded.push_back("tls listener " + std::string(slot->listener()));
      } catch (const setup_error& e) {
        log_->error("reload: {}; keeping the previous TLS settings", e.what());
        if (out) out->failed.emplace_back("tls listener " + std::string(slot->listener()), e.what());
      }
    }
  }

  // Each worker's connection deadlines, every slot of its wheel (on that worker).
  void tick(std::size_t w) {
    tickers_[w]->expires_after(contexts_[w]->wheel.slot());
    tickers_[w]->async_wait([this, w](boost::system::error_code ec) {
      if (ec) return;
      contexts_[w]->wheel.advance(deadline_wheel::clock::now());
      tick(w);
    });
  }

  // Session expiry and will delays have one-second resolution; $SYS is refreshed every
  // sys_interval.
  void sweep() {
    sweep_timer_->expires_after(std::chrono::milliseconds(250));
    sweep_timer_->async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      broker_.tick();
      const auto now = std::chrono::steady_clock::now();
      if (opts_.sys_interval.count() > 0 && now >= next_sys_) {
        broker_.publish_sys(version_);
        next_sys_ = now + opts_.sys_interval;
      }
      sweep();
    });
  }
  std::chrono::steady_clock::time_point next_sys_{};
  std::string version_ = EDGEMQ_VERSION;
};

server::server(broker::broker& b, config::server_options opts, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<impl>(b, std::move(opts), std::move(log))) {}

server::~server() {
  stop();
}

std::vector<std::uint16_t> server::start() {
  auto& d = *impl_;
  unsigned n = d.opts_.workers ? d.opts_.workers : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    d.workers_.push_back(
        std::make_unique<asio::io_context>(1));  // one thread each; keep Asio's locking (other workers post to it and
                                                 // write its sockets, ADR 0006): never an UNSAFE concurrency hint
    d.guards_.push_back(asio::make_work_guard(*d.workers_.back()));
    d.inboxes_.push_back(std::make_shared<worker_inbox>(*d.workers_.back()));
    d.contexts_.push_back(std::make_unique<worker_context>(d.broker_, d.connections_, d.inboxes_.back(), d.log_));
    d.tickers_.push_back(std::make_unique<asio::steady_timer>(*d.workers_.back()));
    d.tick(i);
  }
  std::vector<std::shared_ptr<asio::ssl::context>> first_contexts;
  for (const auto& l : d.opts_.listeners) {
    first_contexts.push_back(config::uses_tls(l.scheme) ? make_tls_context(l.tls, config::format_listener(l))
                                                        : nullptr);
    ws_settings ws;
    ws.path = l.websocket.path;
    // A client such as paho sends each packet as one frame: a frame limit below the packet limit
    // would refuse packets the broker accepts.
    ws.max_frame_size = l.websocket.max_frame_size
                            ? l.websocket.max_frame_size
                            : std::max<std::uint64_t>(16 * 1024 * 1024, d.broker_.config().max_packet_size);
    d.ws_settings_.push_back(std::move(ws));
  }
  std::vector<std::uint16_t> ports;
  for (const auto& l : d.opts_.listeners) {
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(l.host, ec);
    if (ec) throw std::system_error(ec, "listen address '" + l.host + "'");
    auto acc = std::make_unique<asio::ip::tcp::acceptor>(*d.workers_[0]);
    const asio::ip::tcp::endpoint ep(addr, l.port);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::system_error(ec, "cannot listen on " + config::format_endpoint(l));
    ports.push_back(acc->local_endpoint().port());
    d.acceptors_.push_back(std::move(acc));
    auto bound = l;
    bound.port = ports.back();
    d.listener_names_.push_back(std::make_shared<const std::string>(config::format_listener(bound)));
    auto& ctx = first_contexts[d.tls_slots_.size()];
    if (!ctx) {
      d.tls_slots_.push_back(nullptr);
      continue;
    }
    d.tls_slots_.push_back(std::make_unique<tls_context_slot>(config::format_listener(bound), l.tls));
    bool not_valid_now = false;
    d.log_->info("listener {}: TLS certificate '{}' ({})", d.tls_slots_.back()->listener(), l.tls.cert,
                 describe_certificate(*ctx, not_valid_now));
    if (not_valid_now)
      d.log_->warn("listener {}: the certificate is not valid now: clients will refuse it",
                   d.tls_slots_.back()->listener());
    d.tls_slots_.back()->replace(std::move(ctx));
  }
  d.signals_ = std::make_unique<asio::signal_set>(d.signals_ctx_, SIGINT, SIGTERM, SIGHUP);
  d.wait_signal();
  for (std::size_t i = 0; i < d.acceptors_.size(); ++i)
    d.accept(*d.acceptors_[i], static_cast<std::uint32_t>(i), d.tls_slots_[i].get());
  d.sweep_timer_ = std::make_unique<asio::steady_timer>(*d.workers_[0]);
  d.sweep();
  for (auto& w : d.workers_) d.threads_.emplace_back([ctx = w.get()] { ctx->run(); });
  return ports;
}

void server::run_until_signal() {
  auto& d = *impl_;
  std::thread waiter([&] { d.signals_ctx_.run(); });
  {
    std::unique_lock lk(d.stop_mu_);
    d.stop_cv_.wait(lk, [&] { return d.stop_requested_; });
  }
  asio::post(d.signals_ctx_, [&d] { d.signals_->cancel(); });
  waiter.join();
  stop();
}

server::tls_reload server::reload_tls() {
  tls_reload out;
  impl_->reload_tls(&out);
  return out;
}

void server::stop() {
  auto& d = *impl_;
  {
    std::lock_guard lk(d.stop_mu_);
    const bool already = d.stopped_;
    d.stop_requested_ = true;
    d.stopped_ = true;
    d.stop_cv_.notify_all();
    if (already || d.workers_.empty()) return;
  }
  if (d.opts_.on_stopping) d.opts_.on_stopping();
  asio::post(*d.workers_[0], [&d] {
    for (auto& acc : d.acceptors_) {
      boost::system::error_code ec;
      acc->close(ec);
    }
    if (d.sweep_timer_) d.sweep_timer_->cancel();
  });
  // The tickers go on until the workers stop: connections still close by their deadlines
  // (the linger) while shutdown waits for them.
  d.connections_.shutdown_all(mqtt::reason_code::server_shutting_down);
  const auto left = d.connections_.wait_empty(std::chrono::steady_clock::now() + d.opts_.shutdown_timeout);
  if (left > 0) d.log_->warn("{} connections still open at the shutdown deadline; closing them", left);
  d.guards_.clear();
  for (auto& w : d.workers_) w->stop();
  for (auto& t : d.threads_) t.join();
  d.threads_.clear();
  d.connections_.abort_all();  // workers are stopped: safe to close what is left from here
  {
    std::lock_guard lk(d.handshakes_mu_);
    for (auto& [_, weak] : d.handshakes_)
      if (const auto t = weak.lock()) t->abandon_handshake();
    d.handshakes_.clear();
  }
  d.acceptors_.clear();
  d.sweep_timer_.reset();
  d.tickers_.clear();
  d.log_->info("stopped");
}

}  // namespace edgemq::net
