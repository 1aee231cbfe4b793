// The read index (ADR 0030): what one thread stores, readers on other threads see whole (a reply
// and its version always belong together), and erase/put/get behave as a map.
#include "statestore/read_index.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace edgemq::statestore {
namespace {

TEST(ReadIndex, PutGetErase) {
  read_index idx;
  read_index::entry e;
  EXPECT_FALSE(idx.get("k", e));
  idx.put("k", {"$1\r\na\r\n", "v1", 0});
  ASSERT_TRUE(idx.get("k", e));
  EXPECT_EQ(e.reply, "$1\r\na\r\n");
  EXPECT_EQ(e.version, "v1");
  idx.put("k", {"$1\r\nb\r\n", "v2", 42});
  ASSERT_TRUE(idx.get("k", e));
  EXPECT_EQ(e.version, "v2");
  EXPECT_EQ(e.expires_at_ms, 42u);
  EXPECT_EQ(idx.size(), 1u);
  idx.erase("k");
  EXPECT_FALSE(idx.get("k", e));
  EXPECT_EQ(idx.size(), 0u);
}

// One writer moves every key through versions 1..N, each reply carrying its version's number;
// readers on other threads never see a reply of one version with another's version text, nor
// a key going back to an older version.
TEST(ReadIndex, ConcurrentReadersSeeWholeEntriesInOrder) {
  read_index idx;
  constexpr int keys = 16, versions = 2000, readers = 3;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, backwards{0};
  std::vector<std::thread> ts;
  for (int r = 0; r < readers; ++r)
    ts.emplace_back([&] {
      std::vector<int> last(keys, 0);
      read_index::entry e;
      while (!done.load()) {
        for (int k = 0; k < keys; ++k) {
          if (!idx.get("key" + std::to_string(k), e)) continue;
          const int v = std::stoi(e.version);
          if (e.reply != "value-" + std::to_string(v)) ++torn;
          if (v < last[k]) ++backwards;
          last[k] = v;
        }
      }
    });
  for (int v = 1; v <= versions; ++v)
    for (int k = 0; k < keys; ++k)
      idx.put("key" + std::to_string(k), {"value-" + std::to_string(v), std::to_string(v), 0});
  done = true;
  for (auto& t : ts) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_EQ(idx.size(), static_cast<std::size_t>(keys));
}

}  // namespace
}  // namespace edgemq::statestore
