// The data directory lock and the failure kinds open_rocksdb() reports: only corruption may be
// moved aside, a database in use never.
#include "persistence/data_dir_lock.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <unistd.h>

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
  // Restores the broker database in dir_, which must fail with corruption_error: its message
  // (empty, with a test failure, if restore() succeeded or threw anything else).
  std::string restore_corruption() {
    durable_broker_store store(dir_.string(), durability::sync, std::chrono::milliseconds(5), nullptr);
    broker::broker b{broker::limits{}};
    try {
      store.restore(b);
      ADD_FAILURE() << "restored an unreadable database";
    } catch (const corruption_error& e) {
      EXPECT_TRUE(is_corruption(e)) << e.what();
      return e.what();
    }
    return {};
  }
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

// By type, never by wording: a message that reads like corruption is not, unless it is a corruption_error.
TEST(IsCorruption, OnlyCorruptionErrorsCount) {
  EXPECT_TRUE(is_corruption(corruption_error("cannot read broker database '/d/broker': Corruption: block checksum")));
  EXPECT_FALSE(
      is_corruption(std::runtime_error("broker database '/d/broker' has 2 unreadable records (corrupt, or "
                                       "written by a newer edgemq)")));
  EXPECT_FALSE(is_corruption(std::runtime_error("cannot read broker database '/d/broker': Corruption: mismatch")));
  EXPECT_FALSE(is_corruption(std::runtime_error("cannot read broker database '/d/broker': IO error: EIO")));
  EXPECT_FALSE(is_corruption(in_use_error("cannot open broker database '/d/broker': IO error: lock hold")));
}

// What the real store throws for records it cannot decode must be recognised as corruption (the
// daemon moves exactly that aside when configured to).
TEST_F(DataDirTest, UndecodableBrokerRecordsAreCorruption) {
  {
    auto db = open_rocksdb(dir_.string(), "test");
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "Sfuture", "\x09junk").ok());  // an unknown format version
    close_rocksdb(db);
  }
  const auto what = restore_corruption();
  EXPECT_NE(what.find(dir_.string()), std::string::npos) << what;
}

// A data block that fails its checksum while restore() reads it: RocksDB reports corruption on the
// iterator, and restore() throws corruption_error (not a plain runtime_error to be told by wording).
TEST_F(DataDirTest, ChecksumFailureWhileRestoringIsCorruption) {
  {
    auto db = open_rocksdb(dir_.string(), "test");
    for (int i = 0; i < 2000; ++i)  // no record kind: restore() reads and skips them
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "~key" + std::to_string(i), std::string(100, 'v')).ok());
    ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
    close_rocksdb(db);
  }
  int garbled = 0;
  for (const auto& f : fs::directory_iterator(dir_)) {
    if (f.path().extension() != ".sst") continue;
    std::fstream io(f.path(), std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(1000);  // inside the first data block, far from the footer and index
    for (int i = 0; i < 64; ++i) io.put(static_cast<char>(0xA5 ^ i));
    ++garbled;
  }
  ASSERT_EQ(garbled, 1);
  const auto what = restore_corruption();
  EXPECT_NE(what.find("cannot read broker database"), std::string::npos) << what;
}

// A record whose key is too short for its kind cannot be read either (it used to throw
// std::out_of_range while the key was taken apart).
TEST_F(DataDirTest, MalformedRecordKeysAreCorruption) {
  {
    auto db = open_rocksdb(dir_.string(), "test");
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "Mx", "junk").ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "Q", "\x01").ok());
    close_rocksdb(db);
  }
  const auto what = restore_corruption();
  EXPECT_NE(what.find("2 unreadable records"), std::string::npos) << what;
}

}  // namespace
}  // namespace edgemq::persistence
