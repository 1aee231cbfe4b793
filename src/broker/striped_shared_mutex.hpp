// A reader-writer lock for data read on every message by every worker and written rarely (the
// subscription index). Readers lock only their own thread's stripe, so two workers reading at
// once do not bounce one lock word between their caches; a writer locks every stripe. Satisfies
// SharedMutex, so std::shared_lock and std::unique_lock work with it.
//
// A shared hold must be released on the thread that took it: unlock_shared() unlocks the calling
// thread's stripe. Holders are std::shared_lock scopes that neither suspend nor hand work to
// another thread (docs/adr/0001-layering-and-threading.md, "Threads and locks today"); debug
// builds check it.
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <iterator>
#include <shared_mutex>
#include <vector>

#include "broker/thread_slot.hpp"

namespace edgemq::broker {

class striped_shared_mutex {
 public:
  void lock() {
    for (auto& s : stripes_) s.m.lock();
  }
  bool try_lock() {
    for (std::size_t i = 0; i < stripes_.size(); ++i) {
      if (!stripes_[i].m.try_lock()) {
        while (i > 0) stripes_[--i].m.unlock();
        return false;
      }
    }
    return true;
  }
  void unlock() {
    for (auto it = stripes_.rbegin(); it != stripes_.rend(); ++it) it->m.unlock();
  }
  void lock_shared() {
    stripes_[this_thread_slot()].m.lock_shared();
    note_shared(true);
  }
  bool try_lock_shared() {
    if (!stripes_[this_thread_slot()].m.try_lock_shared()) return false;
    note_shared(true);
    return true;
  }
  void unlock_shared() {
    note_shared(false);
    stripes_[this_thread_slot()].m.unlock_shared();
  }

 private:
  // Debug builds: the shared holds of this thread, so that an unlock on another thread (which
  // would release some other thread's stripe, or none) fails loudly instead.
  void note_shared([[maybe_unused]] bool locked) const {
#ifndef NDEBUG
    thread_local std::vector<const striped_shared_mutex*> held;
    if (locked) return held.push_back(this);
    const auto it = std::find(held.rbegin(), held.rend(), this);
    assert(it != held.rend() && "striped_shared_mutex: shared lock released on another thread");
    if (it != held.rend()) held.erase(std::next(it).base());
#endif
  }

  struct alignas(64) stripe {
    std::shared_mutex m;
  };
  std::array<stripe, thread_slots> stripes_;
};

}  // namespace edgemq::broker
