// Wake-ups for the connections of one worker, batched: however many connections of a worker
// get deliveries from other threads meanwhile, the worker is posted to once, and then pulls and
// flushes each of them ("deliveries to other workers batched, not one post per message").
// The inbox lock is a leaf (docs/adr/0001-layering-and-threading.md, "Threads and locks today").
#pragma once

#include <cassert>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace edgemq::net {

class wakeable {
 public:
  virtual ~wakeable() = default;
  virtual void on_wake() = 0;  // on the worker's thread, from its inbox
  // On any worker's thread: do what on_wake would, here and now, if that is cheap and safe;
  // false: the owner's worker has to be woken instead.
  virtual bool try_wake_here() = 0;
};

class worker_inbox : public std::enable_shared_from_this<worker_inbox> {
 public:
  explicit worker_inbox(boost::asio::io_context& ctx) : ctx_(ctx) {}

  // Any thread. `w` must be kept alive by the shared_ptr until its on_wake ran. Inside a
  // wake_batch on this thread, held back until the batch ends.
  void wake(std::shared_ptr<wakeable> w);

  // Any thread: one lock and at most one post for all of `ws`, which is left empty.
  void wake_all(std::vector<std::shared_ptr<wakeable>>& ws) {
    schedule([&] {
      for (auto& w : ws) pending_.push_back(std::move(w));
    });
    ws.clear();
  }

 private:
  // Runs `add` (which appends to pending_) under the lock; posts a drain unless one is pending.
  template <class Add>
  void schedule(Add&& add) {
    bool post = false;
    {
      std::lock_guard g(mu_);
      add();
      post = !scheduled_;
      scheduled_ = true;
    }
    if (post) boost::asio::post(ctx_, [self = shared_from_this()] { self->drain(); });
  }

  void drain() {
    {
      std::lock_guard g(mu_);
      draining_.swap(pending_);
      scheduled_ = false;
    }
    for (auto& w : draining_) w->on_wake();
    draining_.clear();
  }

  boost::asio::io_context& ctx_;
  std::mutex mu_;
  std::vector<std::shared_ptr<wakeable>> pending_;
  std::vector<std::shared_ptr<wakeable>> draining_;  // only touched on the worker's thread
  bool scheduled_ = false;
};

// While one is active on a thread (a worker handling what it read), wake-ups for other
// connections are collected and handed to each worker's inbox by flush(), together: one lock
// per worker instead of one per subscriber, and the other worker starts on a message only
// after this thread is done fanning it out (no reference-count ping-pong meanwhile).
// flush() is an explicit call at the end of the read, not destructor work: it writes to other
// connections (try_wake_here), and that should be visible where it happens. Runs with the reading
// connection's owner lock held; see "Lock order" in docs/adr/0001-layering-and-threading.md.
class wake_batch {
 public:
  // `own`: the inbox of the worker running the batch.
  explicit wake_batch(const worker_inbox* own) noexcept : own_(own), outer_(!state().active) { state().active = true; }
  // Every path out of the read calls flush(). Only if one does not (an exception) are the
  // collected wake-ups handed over here, so that no connection misses its deliveries and later
  // batches on this thread still work.
  ~wake_batch() {
    assert(flushed_ || !outer_ || std::uncaught_exceptions() > 0);
    if (!flushed_) flush();
  }
  // Wakes what the batch collected: up to a budget, quiet connections of other workers are written
  // from here (try_wake_here), the rest is handed to their worker's inbox. Once; a nested batch
  // (one already active on this thread) leaves it to the outer one.
  void flush() {
    if (flushed_) return;
    flushed_ = true;
    if (!outer_) return;
    auto& st = state();
    st.active = false;
    // Connections of other workers are written from here only up to a budget: a sparse message
    // to thousands of subscribers is still written by all workers at once, not by this one.
    std::size_t foreign_budget = foreign_writes_max;
    for (auto& [inbox, ws] : st.groups) {
      const bool own = inbox == own_;
      std::size_t left = 0;
      for (auto& w : ws) {
        if ((own || foreign_budget > 0) && w->try_wake_here()) {
          if (!own) --foreign_budget;
        } else {
          ws[left++] = std::move(w);
        }
      }
      ws.resize(left);
      if (!ws.empty()) inbox->wake_all(ws);  // leaves ws empty, its capacity kept
    }
  }
  wake_batch(const wake_batch&) = delete;
  wake_batch& operator=(const wake_batch&) = delete;

  // False when no batch is active on this thread.
  static bool add(worker_inbox* inbox, std::shared_ptr<wakeable>& w) {
    auto& st = state();
    if (!st.active) return false;
    for (auto& [i, ws] : st.groups) {
      if (i == inbox) {
        ws.push_back(std::move(w));
        return true;
      }
    }
    st.groups.emplace_back(inbox, std::vector<std::shared_ptr<wakeable>>{}).second.push_back(std::move(w));
    return true;
  }

 private:
  // Per thread, kept across batches so that steady traffic allocates nothing. One group per
  // worker ever woken from this thread (inboxes live as long as the server).
  struct thread_state {
    bool active = false;
    std::vector<std::pair<worker_inbox*, std::vector<std::shared_ptr<wakeable>>>> groups;
  };
  static thread_state& state() noexcept {
    thread_local thread_state st;
    return st;
  }
  static constexpr std::size_t foreign_writes_max = 32;
  const worker_inbox* own_;
  bool outer_;
  bool flushed_ = false;
};

inline void worker_inbox::wake(std::shared_ptr<wakeable> w) {
  if (wake_batch::add(this, w)) return;
  schedule([&] { pending_.push_back(std::move(w)); });
}

}  // namespace edgemq::net
