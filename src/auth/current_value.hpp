// A setting that a reload replaces while connections read it: readers take the current
// snapshot (a shared_ptr, kept as long as they need it), the reloading thread swaps in a new
// one. Used by the enhanced authentication methods, which the broker's registry creates per
// connection long after registration.
#pragma once

#include <memory>
#include <mutex>

namespace edgemq::auth {

template <class T>
class current_value {
 public:
  void set(std::shared_ptr<const T> v) {
    std::lock_guard g(mu_);
    v_ = std::move(v);
  }
  std::shared_ptr<const T> get() const {
    std::lock_guard g(mu_);
    return v_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> v_;
};

}  // namespace edgemq::auth
