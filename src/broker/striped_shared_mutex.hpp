// A reader-writer lock for data read on every message by every worker and written rarely (the
// subscription index). Readers lock only their own thread's stripe, so two workers reading at
// once do not bounce one lock word between their caches; a writer locks every stripe. Satisfies
// SharedMutex, so std::shared_lock and std::unique_lock work with it.
#pragma once

#include <array>
#include <shared_mutex>

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
  void lock_shared() { stripes_[this_thread_slot()].m.lock_shared(); }
  bool try_lock_shared() { return stripes_[this_thread_slot()].m.try_lock_shared(); }
  void unlock_shared() { stripes_[this_thread_slot()].m.unlock_shared(); }

 private:
  struct alignas(64) stripe {
    std::shared_mutex m;
  };
  std::array<stripe, thread_slots> stripes_;
};

}  // namespace edgemq::broker
