// Retained messages, one per topic. Set, replace, clear (empty payload) and lookup by filter.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/message.hpp"

namespace edgemq::broker {

class durable_store;

// One retained message in a single allocation: a 24-byte header followed by its topic, the
// publisher's client id and its payload. A store can hold millions of them (ADR 0032): as a
// shared broker::message each took five allocations and ~400 bytes (the map key a second copy of
// the topic); this takes ~110 bytes for a 64-byte payload. Delivered as a fresh message_ptr
// (retained_entry::to_message), made only when a subscription matches it.
class retained_entry {
 public:
  struct deleter {
    void operator()(retained_entry* e) const noexcept;
  };
  using ptr = std::unique_ptr<retained_entry, deleter>;

  static ptr make(const message& m);
  std::string_view topic() const noexcept { return {chars(), topic_len_}; }
  bool expired(clock::time_point now) const noexcept {
    return has_expiry_ && clock::time_point(clock::duration(expires_)) <= now;
  }
  message_ptr to_message() const;

 private:
  retained_entry() = default;
  const char* chars() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  char* chars() noexcept { return reinterpret_cast<char*>(this + 1); }

  message_props props_;                 // null unless the message has properties
  clock::rep expires_ = 0;              // when has_expiry_
  std::uint32_t payload_len_ : 28 = 0;  // MQTT caps a packet at 256 MiB (2^28)
  std::uint32_t qos_ : 2 = 0;
  std::uint32_t retain_ : 1 = 0;
  std::uint32_t has_expiry_ : 1 = 0;
  std::uint16_t topic_len_ = 0;  // MQTT caps both at 65,535 bytes
  std::uint16_t origin_len_ = 0;
};

class retained_store {
 public:
  void set_store(durable_store* s) noexcept { store_ = s; }
  // Start-up: a retained message as the durable store had it (not written back). Records come in
  // topic order (the database's key order), so each lands at the end of the index in O(1).
  void restore(const message& msg);
  void restore(const message_ptr& msg) { restore(*msg); }
  // Stores `msg` for its topic, or clears the topic when the payload is empty. Returns the
  // durable-store ticket (0 without a store).
  std::uint64_t put(const message_ptr& msg);
  // Calls `visit` for every retained message whose topic matches `filter`; expired ones are
  // removed instead (MQTT-3.3.2-5).
  void match(std::string_view filter, clock::time_point now, const std::function<void(const message_ptr&)>& visit);
  std::size_t size() const;

  // Operator queries (the admin API), any thread, under the store's own mutex (no other lock is
  // taken inside it). Retained messages matching `filter` with a topic after `after` (a paging
  // cursor; empty: from the start), in topic order, at most `limit`; expired ones are skipped
  // (match() removes them). `more`: further messages match.
  std::vector<message_ptr> list(std::string_view filter, std::string_view after, std::size_t limit,
                                clock::time_point now, bool& more) const;
  // Removes the retained message of `topic` (journaled as a clear). False when there is none.
  bool erase(std::string_view topic);

 private:
  // Ordered by topic (the admin API pages in topic order). `mutable`: a replacement keeps the
  // topic, hence the element's place.
  struct slot {
    mutable retained_entry::ptr e;
  };
  struct by_topic {
    using is_transparent = void;
    static std::string_view key(const slot& s) noexcept { return s.e->topic(); }
    static std::string_view key(std::string_view t) noexcept { return t; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return key(a) < key(b);
    }
  };
  void set_locked(retained_entry::ptr e);

  durable_store* store_ = nullptr;
  mutable std::mutex mu_;
  std::set<slot, by_topic> messages_;
};

}  // namespace edgemq::broker
