// Wake-ups for the connections of one worker, batched: however many connections of a worker
// get deliveries from other threads meanwhile, the worker is posted to once, and then pulls and
// flushes each of them ("deliveries to other workers batched, not one post per message").
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace edgemq::net {

class wakeable {
 public:
  virtual ~wakeable() = default;
  virtual void on_wake() = 0;  // on the worker's thread
};

class worker_inbox : public std::enable_shared_from_this<worker_inbox> {
 public:
  explicit worker_inbox(boost::asio::io_context& ctx) : ctx_(ctx) {}

  // Any thread. `w` must be kept alive by the shared_ptr until its on_wake ran.
  void wake(std::shared_ptr<wakeable> w) {
    bool post = false;
    {
      std::lock_guard g(mu_);
      pending_.push_back(std::move(w));
      post = !scheduled_;
      scheduled_ = true;
    }
    if (post) boost::asio::post(ctx_, [self = shared_from_this()] { self->drain(); });
  }

 private:
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

}  // namespace edgemq::net
