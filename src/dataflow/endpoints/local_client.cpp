#include "dataflow/endpoints/local_client.hpp"

#include <atomic>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "broker/client_channel.hpp"
#include "edgemq/mqtt/codec.hpp"
#include "edgemq/mqtt/frame_parser.hpp"

namespace edgemq::dataflow {

namespace asio = boost::asio;

// The link the broker holds (sessions keep it while the client is connected): it outlives the
// local_client when the broker still has it, so it holds the state by shared_ptr and checks
// whether the client is gone.
struct local_client::state final : broker::link, std::enable_shared_from_this<local_client::state> {
  state(asio::io_context& io, broker::broker& core, std::shared_ptr<spdlog::logger> log, handlers h)
      : io(io), core(core), log(std::move(log)), h(std::move(h)) {}

  asio::io_context& io;
  broker::broker& core;
  std::shared_ptr<spdlog::logger> log;
  handlers h;
  std::unique_ptr<broker::client_channel> channel;
  bool closed = false;
  bool draining = false;
  std::atomic<bool> wake_pending{false};
  std::string heads, wire, encoded;
  std::vector<broker::out_chunk> chunks;

  // broker::link: any thread; one post however many notifications come before it runs.
  void notify() override {
    if (wake_pending.exchange(true, std::memory_order_acq_rel)) return;
    asio::post(io, [self = shared_from_this()] {
      self->wake_pending.store(false, std::memory_order_release);
      if (self->closed) return;
      self->channel->pull();
      self->drain();
    });
  }
  void kick(mqtt::reason_code why) override {
    asio::post(io, [self = shared_from_this(), why] {
      if (self->closed) return;
      self->channel->kick(why);
      self->drain();
    });
  }

  void feed(const mqtt::packet& p) {
    if (closed) return;
    encoded.clear();
    if (auto ec = mqtt::encode(p, mqtt::protocol_version::v5, encoded)) {
      if (log) log->error("in-process client: cannot encode a packet: {}", ec.message());
      return;
    }
    channel->on_data(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(encoded.data()), encoded.size()),
        broker::clock::now());
    drain();
  }

  // Reads what the channel wrote, as the peer would, until it has nothing more. Re-entrant calls
  // (a handler that sends) only add output the outer loop picks up.
  void drain() {
    if (draining || closed) return;
    draining = true;
    for (int round = 0;; ++round) {
      if (round == 16) {  // a busy session: let the thread's other dataflows have a turn
        asio::post(io, [self = shared_from_this()] { self->drain(); });
        break;
      }
      if (!channel->has_output()) {
        if (channel->budget_hit()) channel->pull();
        if (!channel->has_output()) break;
      }
      heads.clear();
      chunks.clear();
      channel->take_output(heads, chunks);
      wire.clear();
      for (const auto& c : chunks) {
        wire.append(heads, c.head_begin, c.head_end - c.head_begin);
        if (c.body) wire.append(c.body->payload);
      }
      chunks.clear();  // releases the shared payloads
      parse(wire);
      if (closed) break;
      channel->pull();  // as after a completed write
    }
    draining = false;
    if (!closed && channel->closing()) end("closed by the broker");
  }

  void parse(const std::string& bytes) {
    std::span<const std::uint8_t> rest(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    while (!rest.empty() && !closed) {
      const auto f = mqtt::parse_frame(rest, 0xFFFFFFFFu);
      if (f.status != mqtt::frame_status::complete) return;  // the channel writes whole packets
      rest = rest.subspan(f.value.size);
      auto p = mqtt::decode(f.value.header, f.value.body, mqtt::protocol_version::v5);
      if (!p) continue;
      std::visit(
          [this](auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, mqtt::connack>) {
              if (h.on_connack) h.on_connack(v);
            } else if constexpr (std::is_same_v<T, mqtt::publish>) {
              if (h.on_publish) h.on_publish(v);
            } else if constexpr (std::is_same_v<T, mqtt::puback>) {
              if (h.on_puback) h.on_puback(v.packet_id, v.code);
            } else if constexpr (std::is_same_v<T, mqtt::suback>) {
              if (h.on_suback) h.on_suback(v);
            } else if constexpr (std::is_same_v<T, mqtt::disconnect>) {
              end("DISCONNECT from the broker: " + std::string(mqtt::to_string(v.code)));
            }
          },
          *p);
    }
  }

  void end(const std::string& why) {
    if (closed) return;
    closed = true;
    channel->on_close(broker::clock::now());
    // The channel holds this link: letting it go breaks the cycle (posted work checks `closed`).
    std::unique_ptr<broker::client_channel> gone = std::move(channel);
    auto on_closed = std::move(h.on_closed);
    h = {};
    if (on_closed) on_closed(why);
  }
};

local_client::local_client(asio::io_context& io, broker::broker& core, std::shared_ptr<spdlog::logger> log, handlers h)
    : s_(std::make_shared<state>(io, core, log, std::move(h))) {
  s_->channel = std::make_unique<broker::client_channel>(core, s_, std::move(log));
  s_->channel->set_listener(in_process_listener);
  s_->channel->set_peer("in-process", std::make_shared<const std::string>("in-process"));
}

local_client::~local_client() {
  close();
}

void local_client::send(const mqtt::packet& p) {
  s_->feed(p);
}

void local_client::puback(std::uint16_t packet_id) {
  s_->feed(mqtt::puback{packet_id, mqtt::reason_code::success, {}});
}

void local_client::close() {
  if (s_->closed) return;
  s_->h = {};
  if (s_->channel->connected()) s_->feed(mqtt::disconnect{});
  s_->end("closed");
}

bool local_client::open() const {
  return !s_->closed;
}

}  // namespace edgemq::dataflow
