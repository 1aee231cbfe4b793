// A std::map that costs one pointer until it is first written to: a session's subscriptions and
// its messages in flight are empty for most idle connections, and an empty std::map is 48 bytes
// (docs/adr/0039-idle-connection-memory.md). Reads of an unallocated one (find, iteration) see a
// shared empty map, so iterators compare as they would on the real one. clear() frees it.
// Not thread-safe beyond what std::map is: the owner's lock guards it like the map it replaces.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <utility>

namespace edgemq::broker {

template <class Key, class Value, class Compare = std::less<Key>>
class lazy_map {
 public:
  using map_type = std::map<Key, Value, Compare>;
  using iterator = typename map_type::iterator;
  using const_iterator = typename map_type::const_iterator;
  using size_type = typename map_type::size_type;

  lazy_map() = default;
  lazy_map(lazy_map&&) noexcept = default;
  lazy_map& operator=(lazy_map&&) noexcept = default;
  lazy_map(const lazy_map& o) : m_(o.empty() ? nullptr : std::make_unique<map_type>(*o.m_)) {}
  lazy_map& operator=(const lazy_map& o) {
    if (this != &o) m_ = o.empty() ? nullptr : std::make_unique<map_type>(*o.m_);
    return *this;
  }

  bool empty() const noexcept { return !m_ || m_->empty(); }
  size_type size() const noexcept { return m_ ? m_->size() : 0; }

  iterator begin() noexcept { return get().begin(); }
  iterator end() noexcept { return get().end(); }
  const_iterator begin() const noexcept { return get().begin(); }
  const_iterator end() const noexcept { return get().end(); }

  template <class K>
  iterator find(const K& k) {
    return m_ ? m_->find(k) : none().end();
  }
  template <class K>
  const_iterator find(const K& k) const {
    return m_ ? std::as_const(*m_).find(k) : none().cend();
  }
  template <class K>
  bool contains(const K& k) const {
    return m_ && m_->find(k) != m_->end();
  }
  template <class K>
  size_type count(const K& k) const {
    return contains(k) ? 1 : 0;
  }
  template <class K>
  const Value& at(const K& k) const {
    if (!m_) throw std::out_of_range("lazy_map::at");
    const auto it = m_->find(k);
    if (it == m_->end()) throw std::out_of_range("lazy_map::at");
    return it->second;
  }

  template <class... Args>
  std::pair<iterator, bool> emplace(Args&&... args) {
    return made().emplace(std::forward<Args>(args)...);
  }
  template <class K, class V>
  std::pair<iterator, bool> insert_or_assign(K&& k, V&& v) {
    return made().insert_or_assign(std::forward<K>(k), std::forward<V>(v));
  }
  iterator erase(iterator it) { return m_->erase(it); }  // `it` is one of this map's: it exists
  template <class K>
  size_type erase(const K& k) {
    if (!m_) return 0;
    const auto it = m_->find(k);
    if (it == m_->end()) return 0;
    m_->erase(it);
    return 1;
  }
  void clear() noexcept { m_.reset(); }

 private:
  // The map every unallocated lazy_map of this type reads: never written, so shared by all
  // threads (begin(), end() and find() on an empty std::map change nothing).
  static map_type& none() noexcept {
    static map_type empty_map;
    return empty_map;
  }
  map_type& get() const noexcept { return m_ ? *m_ : none(); }
  map_type& made() {
    if (!m_) m_ = std::make_unique<map_type>();
    return *m_;
  }

  std::unique_ptr<map_type> m_;
};

}  // namespace edgemq::broker
