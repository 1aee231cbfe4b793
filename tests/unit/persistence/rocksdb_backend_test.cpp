// The RocksDB backend against a real database in a temporary directory.
#include "persistence/rocksdb_backend.hpp"

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

namespace edgemq::persistence {
namespace {

namespace fs = std::filesystem;

class RocksdbBackendTest : public ::testing::Test {
 protected:
  fs::path dir_;
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("edgemq-rocks-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::map<std::string, statestore::key_record> load(rocksdb_backend& b) {
    std::map<std::string, statestore::key_record> out;
    EXPECT_FALSE(b.load([&](std::string k, statestore::key_record r) { out.emplace(std::move(k), std::move(r)); }));
    return out;
  }
};

TEST_F(RocksdbBackendTest, BatchesPersistAcrossReopen) {
  statestore::key_record a;
  a.value = std::string("binary\0value", 12);
  a.version = {10, 1, "edgemq"};
  a.expires_at_ms = 1234;
  statestore::key_record b;
  b.value = "b";
  {
    rocksdb_backend db(dir_.string(), sync_policy::sync);
    ASSERT_FALSE(db.apply({{"a", a}, {"b", b}, {"gone", b}}));
    ASSERT_FALSE(db.apply({{"gone", std::nullopt}}));
  }
  rocksdb_backend db(dir_.string(), sync_policy::sync);
  auto got = load(db);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got["a"], a);
  EXPECT_EQ(got["b"], b);
}

TEST_F(RocksdbBackendTest, UnopenableDatabaseNamesThePath) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "CURRENT") << "garbage-manifest-name\n";  // points to a manifest that does not exist
  try {
    rocksdb_backend db(dir_.string(), sync_policy::sync);
    FAIL() << "opened a corrupt database";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir_.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace edgemq::persistence
