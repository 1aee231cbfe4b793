// The data directory lock and the failure kinds open_rocksdb() reports: only corruption may be
// moved aside, a database in use never.
#include "persistence/data_dir_lock.hpp"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "broker/broker.hpp"
#include "persistence/durable_broker_store.hpp"
#include "persistence/rocksdb_open.hpp"

namespace edgemq::persistence {
namespace {

namespace fs = std::filesystem;

class DataDirTest : public ::testing::Test {
 protected:
  fs::path dir_;
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("edgemq-datadir-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
};

TEST_F(DataDirTest, SecondLockIsRefusedUntilTheFirstIsReleased) {
  auto first = std::make_unique<data_dir_lock>();
  ASSERT_FALSE(first->lock(dir_.string()));
  EXPECT_TRUE(first->held());
  EXPECT_TRUE(fs::exists(dir_ / "edgemq.lock"));
  data_dir_lock second;  // flock(2) locks conflict between open files, even in one process
  const auto ec = second.lock(dir_.string());
  EXPECT_TRUE(data_dir_lock::in_use(ec)) << ec.message();
  EXPECT_FALSE(second.held());
  first.reset();
  EXPECT_FALSE(second.lock(dir_.string()));
  EXPECT_TRUE(second.held());
}

TEST_F(DataDirTest, MissingDirectoryIsAnErrorNotInUse) {
  data_dir_lock l;
  const auto ec = l.lock((dir_ / "missing").string());
  ASSERT_TRUE(ec);
  EXPECT_FALSE(data_dir_lock::in_use(ec)) << ec.message();
}

TEST_F(DataDirTest, DatabaseInUseIsNotCorruption) {
  auto db = open_rocksdb(dir_.string(), "test");
  try {
    open_rocksdb(dir_.string(), "test");
    FAIL() << "opened a database twice";
  } catch (const in_use_error& e) {
    EXPECT_FALSE(is_corruption(e)) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir_.string()), std::string::npos) << e.what();
  }
  close_rocksdb(db);
}

TEST_F(DataDirTest, GarbledManifestIsCorruption) {
  {
    auto db = open_rocksdb(dir_.string(), "test");
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
    close_rocksdb(db);
  }
  for (const auto& f : fs::directory_iterator(dir_)) {
    if (f.path().filename().string().starts_with("MANIFEST-")) {
      const auto n = fs::file_size(f.path());
      std::ofstream out(f.path(), std::ios::binary | std::ios::in);
      for (std::uintmax_t i = 0; i < n; ++i) out.put(static_cast<char>((i * 37 + 11) & 0xFF));
    }
  }
  try {
    open_rocksdb(dir_.string(), "test");
    FAIL() << "opened a corrupt database";
  } catch (const corruption_error& e) {
    EXPECT_TRUE(is_corruption(e));
  }
}

TEST_F(DataDirTest, MissingManifestIsNotCorruption) {
  std::ofstream(dir_ / "CURRENT") << "MANIFEST-000099\n";  // names a manifest that is not there
  try {
    open_rocksdb(dir_.string(), "test");
    FAIL() << "opened a database without its manifest";
  } catch (const std::runtime_error& e) {
    EXPECT_FALSE(is_corruption(e)) << e.what();
  }
}

TEST(IsCorruption, RestoreFailuresAreClassifiedByKind) {
  EXPECT_TRUE(
      is_corruption(std::runtime_error("broker database '/d/broker' has 2 unreadable records (corrupt, or "
                                       "written by a newer edgemq)")));
  EXPECT_TRUE(
      is_corruption(std::runtime_error("cannot read broker database '/d/broker': Corruption: block checksum "
                                       "mismatch")));
  EXPECT_FALSE(is_corruption(std::runtime_error("cannot read broker database '/d/broker': IO error: EIO")));
  EXPECT_FALSE(
      is_corruption(std::runtime_error("cannot open broker database '/d/broker': IO error: Permission denied")));
}

// What the real store throws for records it cannot decode must be recognised as corruption (the
// daemon moves exactly that aside when configured to).
TEST_F(DataDirTest, UndecodableBrokerRecordsAreCorruption) {
  {
    auto db = open_rocksdb(dir_.string(), "test");
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "Sfuture", "\x09junk").ok());  // an unknown format version
    close_rocksdb(db);
  }
  durable_broker_store store(dir_.string(), durability::sync, std::chrono::milliseconds(5), nullptr);
  broker::broker b{broker::limits{}};
  try {
    store.restore(b);
    FAIL() << "restored an unreadable database";
  } catch (const std::exception& e) {
    EXPECT_TRUE(is_corruption(e)) << e.what();
  }
}

}  // namespace
}  // namespace edgemq::persistence
