#include "broker/message_pool.hpp"

#include <cstdlib>
#include <new>
#include <vector>

namespace edgemq::broker {
namespace {

constexpr std::size_t max_pooled = 4096;              // per thread
constexpr std::size_t max_kept_capacity = 64 * 1024;  // bigger payload buffers are released

struct pool {
  std::vector<message*> messages;
  std::vector<void*> blocks;  // shared_ptr control blocks, all of one size
  std::size_t block_size = 0;
  ~pool() {
    for (auto* m : messages) delete m;
    for (auto* b : blocks) ::operator delete(b);
  }
};

pool& local_pool() {
  thread_local pool p;
  return p;
}

// Allocator for the control block: one size in practice; anything else goes to the heap.
template <class T>
struct block_allocator {
  using value_type = T;
  block_allocator() = default;
  template <class U>
  block_allocator(const block_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    const auto bytes = n * sizeof(T);
    auto& p = local_pool();
    if (bytes == p.block_size && !p.blocks.empty()) {
      void* b = p.blocks.back();
      p.blocks.pop_back();
      return static_cast<T*>(b);
    }
    return static_cast<T*>(::operator new(bytes));
  }
  void deallocate(T* ptr, std::size_t n) noexcept {
    const auto bytes = n * sizeof(T);
    auto& p = local_pool();
    if (p.block_size == 0) p.block_size = bytes;
    if (bytes == p.block_size && p.blocks.size() < max_pooled) {
      try {
        p.blocks.push_back(ptr);
        return;
      } catch (...) {
      }
    }
    ::operator delete(ptr);
  }
  template <class U>
  bool operator==(const block_allocator<U>&) const noexcept {
    return true;
  }
};

struct recycle {
  void operator()(message* m) const noexcept {
    auto& p = local_pool();
    if (p.messages.size() >= max_pooled) {
      delete m;
      return;
    }
    m->topic.clear();
    if (m->payload.capacity() > max_kept_capacity)
      std::string().swap(m->payload);
    else
      m->payload.clear();
    m->props.reset();
    m->origin_client_id.clear();
    m->expires_at.reset();
    m->qos = mqtt::qos::at_most_once;
    m->retain = false;
    try {
      p.messages.push_back(m);
    } catch (...) {
      delete m;
    }
  }
};

}  // namespace

std::shared_ptr<message> make_pooled_message() {
  auto& p = local_pool();
  message* m;
  if (!p.messages.empty()) {
    m = p.messages.back();
    p.messages.pop_back();
  } else {
    m = new message();
  }
  return std::shared_ptr<message>(m, recycle{}, block_allocator<message>{});
}

}  // namespace edgemq::broker
