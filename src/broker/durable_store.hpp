// The broker's durable state, as the broker core sees it: a journal of changes to sessions,
// queued and in-flight messages, inbound QoS 2 packet ids, retained messages and delayed wills.
// Calls come from any worker thread and return at once with a ticket; the implementation
// commits in batches (group commit) and tells waiting connections when their ticket is decided,
// so a PUBACK can wait for the message it acknowledges. A ticket is decided either durable or
// failed (the disk refused the write): a failed ticket is never acknowledged as a success
// (docs/persistence.md, "When the disk fails or fills"). Implemented in persistence/; the broker
// runs without one (null) when persistence is off.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "broker/message.hpp"

namespace edgemq::broker {

class link;

enum class stored_stage : std::uint8_t { queued = 0, awaiting_ack = 1, awaiting_pubcomp = 2 };

struct stored_subscription {
  std::string filter;
  mqtt::subscribe_options options;
  std::uint32_t subscription_id = 0;
};

// Everything of a session except its messages.
struct session_image {
  std::string client_id;
  std::uint32_t expiry_interval = 0;
  std::uint64_t disconnected_wall_ms = 0;  // 0: connected when written
  std::vector<stored_subscription> subscriptions;
};

class durable_store {
 public:
  virtual ~durable_store() = default;

  virtual std::uint64_t save_session(const session_image& s) = 0;
  virtual std::uint64_t erase_session(const std::string& client_id) = 0;  // and all its records
  virtual std::uint64_t put_message(const std::string& client_id, std::uint64_t seq, stored_stage stage,
                                    std::uint16_t packet_id, const delivery& d) = 0;
  virtual std::uint64_t erase_message(const std::string& client_id, std::uint64_t seq) = 0;
  virtual std::uint64_t put_inbound_qos2(const std::string& client_id, std::uint16_t packet_id) = 0;
  virtual std::uint64_t erase_inbound_qos2(const std::string& client_id, std::uint16_t packet_id) = 0;
  virtual std::uint64_t put_retained(const message& m) = 0;
  virtual std::uint64_t erase_retained(const std::string& topic) = 0;
  virtual std::uint64_t put_will(const std::string& client_id, const message& will,
                                 std::uint64_t publish_at_wall_ms) = 0;
  virtual std::uint64_t erase_will(const std::string& client_id) = 0;

  enum class outcome : std::uint8_t { pending, durable, failed };
  // Highest ticket decided (every ticket up to it is durable or failed).
  virtual std::uint64_t decided() const = 0;
  virtual outcome outcome_of(std::uint64_t ticket) const = 0;
  // Calls l->notify() once `ticket` is decided (at once if it already is).
  virtual void notify_when_decided(std::uint64_t ticket, std::weak_ptr<link> l) = 0;

  // False from a failed write until a write succeeds again: new work that needs durability is
  // refused meanwhile, with refusal() as its reason code (quota_exceeded when the disk is full,
  // unspecified_error for other I/O errors).
  virtual bool healthy() const = 0;
  virtual mqtt::reason_code refusal() const = 0;
};

// Wall-clock <-> steady-clock conversions for deadlines that must survive a restart. The two-clock
// forms read the wall clock when called: `steady_now` must be the steady clock of that moment.
// A long pass (restoring a large store) takes one pair of readings at its start and converts
// against that pair throughout, or every deadline would come early by the time the pass took.
std::uint64_t wall_now_ms();
std::uint64_t to_wall_ms(clock::time_point t, clock::time_point steady_now);
clock::time_point from_wall_ms(std::uint64_t wall_ms, clock::time_point steady_now);
clock::time_point from_wall_ms(std::uint64_t wall_ms, clock::time_point steady_at, std::uint64_t wall_at);

}  // namespace edgemq::broker
