// The compact parts of a session (docs/adr/0039-idle-connection-memory.md): a map that allocates
// on first write, a packet id set that allocates on first id, and a 4-byte mutex that excludes.
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "broker/lazy_map.hpp"
#include "broker/session.hpp"
#include "broker/small_mutex.hpp"

namespace edgemq::broker {
namespace {

TEST(LazyMapTest, AnUnwrittenMapReadsAsEmptyAndCostsOnePointer) {
  static_assert(sizeof(lazy_map<std::string, int, std::less<>>) == sizeof(void*));
  lazy_map<std::string, int, std::less<>> m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.begin(), m.end());
  EXPECT_EQ(m.find(std::string_view("a")), m.end());
  EXPECT_FALSE(m.contains("a"));
  EXPECT_EQ(m.erase(std::string("a")), 0u);
  EXPECT_THROW((void)m.at("a"), std::out_of_range);
  int seen = 0;
  for (const auto& kv : m) seen += kv.second;
  EXPECT_EQ(seen, 0);
}

TEST(LazyMapTest, WritesReadsAndErasesLikeTheMapItWraps) {
  lazy_map<std::string, int, std::less<>> m;
  m.insert_or_assign("b", 2);
  m.emplace("a", 1);
  m.insert_or_assign(std::string("b"), 3);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.at("b"), 3);
  const auto it = m.find(std::string_view("a"));
  ASSERT_NE(it, m.end());
  EXPECT_EQ(it->second, 1);
  std::string order;
  for (const auto& [k, v] : m) order += k;
  EXPECT_EQ(order, "ab");
  EXPECT_EQ(m.erase(it)->first, "b");
  EXPECT_EQ(m.erase(std::string("b")), 1u);
  EXPECT_TRUE(m.empty());
  m.emplace("c", 4);
  const lazy_map<std::string, int, std::less<>> copy = m;
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(copy.count("c"), 1u) << "a copy is its own map";
}

TEST(PacketIdSetTest, KeepsIdsSortedAndUniqueFromTheFirstInsert) {
  packet_id_set s;
  EXPECT_EQ(sizeof(s), sizeof(void*));
  EXPECT_FALSE(s.contains(1));
  EXPECT_EQ(s.erase(1), 0u);
  for (std::uint16_t id : {5, 1, 5, 3}) s.insert(id);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_TRUE(s.contains(3));
  EXPECT_EQ(s.erase(3), 1u);
  EXPECT_FALSE(s.contains(3));
  EXPECT_EQ(s.size(), 2u);
}

TEST(SmallMutexTest, ExcludesAcrossThreadsUnderContention) {
  static_assert(sizeof(small_mutex) == 4);
  small_mutex mu;
  // A non-atomic read-modify-write that loses updates unless the lock excludes (ThreadSanitizer
  // also reports the race if it does not).
  long counter = 0;
  constexpr int threads = 4, rounds = 50'000;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        std::lock_guard g(mu);
        const long seen = counter;
        if (i % 64 == 0) std::this_thread::yield();  // hold it a while now and then: waiters sleep
        counter = seen + 1;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, long{threads} * rounds);
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
}

}  // namespace
}  // namespace edgemq::broker
