// A session's FIFO of deliveries: a vector with a read position. Unlike std::deque it allocates
// nothing while empty (idle sessions stay small) and reuses its capacity when a steady stream is
// pushed and popped, instead of freeing and allocating a block every few messages.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "broker/message.hpp"

namespace edgemq::broker {

class delivery_queue {
 public:
  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }
  delivery& front() noexcept { return items_[head_]; }
  // By rvalue reference: no temporary delivery to move through when the call is not inlined.
  void push_back(delivery&& d) {
    if (head_ > 0 && head_ == items_.size()) clear();
    items_.push_back(std::move(d));
  }
  void pop_front() {
    // Release the message now, not when the slot is reused; member by member, as a delivery
    // taken by pull() was mostly moved from already (cheaper than assigning a new delivery).
    auto& d = items_[head_++];
    d.msg.reset();
    if (d.share) d.share.reset();
    if (d.subscription_ids.capacity()) std::vector<std::uint32_t>().swap(d.subscription_ids);
    if (head_ == items_.size())
      clear();
    else if (head_ >= 1024 && head_ * 2 >= items_.size())
      compact();
  }
  void clear() noexcept {
    items_.clear();
    head_ = 0;
    if (items_.capacity() > 4096) std::vector<delivery>().swap(items_);  // a drained backlog
  }
  // Keeps the deliveries for which `keep` is true, in order; passes the others to `take`.
  template <class Keep, class Take>
  void partition(Keep keep, Take take) {
    std::vector<delivery> kept;
    for (std::size_t i = head_; i < items_.size(); ++i) {
      if (keep(items_[i]))
        kept.push_back(std::move(items_[i]));
      else
        take(std::move(items_[i]));
    }
    items_ = std::move(kept);
    head_ = 0;
  }
  auto begin() noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() noexcept { return items_.end(); }

 private:
  void compact() {
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  std::vector<delivery> items_;
  std::size_t head_ = 0;
};

}  // namespace edgemq::broker
