// Per-connection deadlines (the CONNECT timeout, keep alive, credentials' expiry, the linger after
// close) for all connections of one worker: a hashed timing wheel of coarse slots instead of one
// Asio timer per connection (ADR 0037). An armed deadline is an intrusive list hook inside the
// connection (two pointers and a slot number); nothing is allocated per connection or per arm.
// A deadline fires never before it is due and at most one slot after (plus the worker's own
// scheduling delay). Asio-free: the worker drives advance(now) from one timer per worker, and
// the tests drive it with a fake clock.
//
// Threading: a wheel belongs to one worker; arm, cancel and advance run on that worker's thread
// only (or once every worker has stopped).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgemq::net {

class deadline_wheel {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  // One deadline, embedded in its owner. `fire` is called (from advance) once the deadline has
  // passed, with the entry already unlinked: it may arm it again, or arm and cancel any other.
  class entry {
   public:
    using fire_fn = void (*)(entry&);
    explicit entry(fire_fn fire = nullptr) noexcept : fire_(fire) {}
    entry(const entry&) = delete;
    entry& operator=(const entry&) = delete;
    bool armed() const noexcept { return next_ != nullptr; }

   private:
    friend class deadline_wheel;
    void unlink() noexcept {
      prev_->next_ = next_;
      next_->prev_ = prev_;
      prev_ = next_ = nullptr;
    }
    entry* prev_ = nullptr;
    entry* next_ = nullptr;
    std::uint64_t tick_ = 0;  // the slot boundary it fires at, counted from the wheel's start
    fire_fn fire_ = nullptr;
  };

  // `slot`: the resolution. `slots`: the wheel's size; a deadline further than slots × slot away
  // stays in its slot over several turns (checked once per turn).
  explicit deadline_wheel(time_point start, std::chrono::milliseconds slot = std::chrono::milliseconds(250),
                          std::size_t slots = 1024)
      : start_(start), slot_(slot), heads_(slots) {
    for (auto& h : heads_) h.prev_ = h.next_ = &h;
  }
  deadline_wheel(const deadline_wheel&) = delete;
  deadline_wheel& operator=(const deadline_wheel&) = delete;
  ~deadline_wheel() {
    for (auto& h : heads_)
      while (h.next_ != &h) h.next_->unlink();
  }

  std::chrono::milliseconds slot() const noexcept { return slot_; }
  std::size_t size() const noexcept { return size_; }

  // Arms `e` (again, if it was armed) to fire at `due` or up to one slot later.
  void arm(entry& e, time_point due) noexcept {
    cancel(e);
    // The first slot boundary at or after `due`, and never one advance() has already passed.
    std::uint64_t t = 0;
    if (due > start_) {
      const auto d = std::chrono::duration_cast<clock::duration>(due - start_);
      const auto s = std::chrono::duration_cast<clock::duration>(slot_);
      t = static_cast<std::uint64_t>((d.count() + s.count() - 1) / s.count());
    }
    if (t <= done_) t = done_ + 1;
    e.tick_ = t;
    auto& h = heads_[t % heads_.size()];
    e.prev_ = h.prev_;
    e.next_ = &h;
    h.prev_->next_ = &e;
    h.prev_ = &e;
    ++size_;
  }
  void arm_after(entry& e, time_point now, clock::duration after) noexcept { arm(e, now + after); }

  void cancel(entry& e) noexcept {
    if (!e.armed()) return;
    e.unlink();
    --size_;
  }

  // Fires every entry whose slot boundary is at or before `now`. Call at least once per slot.
  void advance(time_point now) {
    if (now < start_) return;
    const auto s = std::chrono::duration_cast<clock::duration>(slot_).count();
    const auto last = static_cast<std::uint64_t>(std::chrono::duration_cast<clock::duration>(now - start_).count() / s);
    // After a long stall, one turn visits every slot: no need to visit one twice.
    std::uint64_t from = done_ + 1;
    if (last >= from + heads_.size()) from = last - heads_.size() + 1;
    for (std::uint64_t t = from; t <= last; ++t) {
      done_ = t;
      fire_slot(heads_[t % heads_.size()], last);
    }
    if (last > done_) done_ = last;
  }

 private:
  void fire_slot(entry& h, std::uint64_t last) {
    if (h.next_ == &h) return;
    // Taken out of the slot first: a callback may arm or cancel any entry, this list's included.
    entry pending;
    pending.next_ = h.next_;
    pending.prev_ = h.prev_;
    pending.next_->prev_ = &pending;
    pending.prev_->next_ = &pending;
    h.next_ = h.prev_ = &h;
    while (pending.next_ != &pending) {
      entry& e = *pending.next_;
      e.unlink();
      if (e.tick_ > last) {  // a later turn's: back into its slot
        e.prev_ = h.prev_;
        e.next_ = &h;
        h.prev_->next_ = &e;
        h.prev_ = &e;
        continue;
      }
      --size_;
      e.fire_(e);
    }
  }

  time_point start_;
  std::chrono::milliseconds slot_;
  std::vector<entry> heads_;  // circular lists, each head its own sentinel
  std::uint64_t done_ = 0;    // the last tick advance() has fired
  std::size_t size_ = 0;
};

}  // namespace edgemq::net
