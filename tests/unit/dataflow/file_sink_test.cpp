// The File sink on a real directory: JSON Lines, rotation by size and by age (an injected clock),
// names with the destination, a timestamp and a sequence, and errors as failed sends that recover.
#include "dataflow/endpoints/file_sink.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include "broker/broker.hpp"
#include "dataflow/endpoint_kind.hpp"
#include "sink_test_support.hpp"

namespace edgemq::dataflow {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct temp_dir {
  temp_dir() {
    char tmpl[] = "/tmp/edgemq-file-sink-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { fs::remove_all(path); }
  fs::path path;
};

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> v;
  if (fs::exists(dir))
    for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

// Every line of every file, in name order.
std::vector<nlohmann::json> lines_in(const fs::path& dir) {
  std::vector<nlohmann::json> v;
  for (const auto& f : files_in(dir)) {
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);) v.push_back(nlohmann::json::parse(line));
  }
  return v;
}

TEST(FileSink, WritesJsonLinesAndRotatesBySize) {
  temp_dir t;
  boost::asio::io_context io;
  file_settings s;
  s.directory = (t.path / "out").string();
  s.max_file_bytes = 300;  // a few records per file
  auto sink = make_file_sink(s, file_prefix("plant/line1", "df"), io, nullptr);
  sink->start();
  for (int b = 0; b < 5; ++b) {
    auto r = test::send_and_wait(io, *sink, test::numbered(b * 2, 2));
    ASSERT_TRUE(r && r->ok) << (r ? r->error : "no result");
  }
  const auto files = files_in(s.directory);
  ASSERT_GT(files.size(), 1u);
  for (const auto& f : files) {
    const auto name = f.filename().string();
    EXPECT_EQ(name.rfind("plant_line1-", 0), 0u) << name;
    EXPECT_EQ(f.extension(), ".jsonl") << name;
    // A file is only cut between batches, and never grows past the bound by more than a batch.
    EXPECT_LE(fs::file_size(f), 2 * s.max_file_bytes) << name;
  }
  const auto lines = lines_in(s.directory);
  ASSERT_EQ(lines.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(lines[i].at("payload").at("n"), i);
    EXPECT_EQ(lines[i].at("topic"), "factory/1/telemetry");
  }
}

TEST(FileSink, RotatesByAge) {
  temp_dir t;
  boost::asio::io_context io;
  file_settings s;
  s.directory = t.path.string();
  s.rotate_seconds = 60;
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1767225600));  // 2026-01-01T00:00:00Z
  std::atomic<std::int64_t> offset{0};
  auto sink = make_file_sink(s, "df", io, nullptr, [&] { return now + std::chrono::seconds(offset.load()); });
  ASSERT_TRUE(test::send_and_wait(io, *sink, test::numbered(0, 1))->ok);
  offset = 59;
  ASSERT_TRUE(test::send_and_wait(io, *sink, test::numbered(1, 1))->ok);
  EXPECT_EQ(files_in(s.directory).size(), 1u);
  offset = 61;
  ASSERT_TRUE(test::send_and_wait(io, *sink, test::numbered(2, 1))->ok);
  const auto files = files_in(s.directory);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].filename(), "df-20260101T000000Z-000001.jsonl");
  EXPECT_EQ(files[1].filename(), "df-20260101T000101Z-000002.jsonl");
  EXPECT_EQ(lines_in(s.directory).size(), 3u);
}

TEST(FileSink, ErrorsAreFailedSendsAndItRecovers) {
  temp_dir t;
  boost::asio::io_context io;
  // A file where the directory should be: the directory cannot be made (as a full disk or a
  // missing permission, an error of the file system).
  const auto blocker = t.path / "blocked";
  std::ofstream(blocker) << "not a directory";
  file_settings s;
  s.directory = (blocker / "out").string();
  auto sink = make_file_sink(s, "df", io, nullptr);
  auto r = test::send_and_wait(io, *sink, test::numbered(0, 3));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->accepted, 0u);
  EXPECT_NE(r->error.find("Not a directory"), std::string::npos) << r->error;
  // The operator fixes it; the runtime sends the same batch again.
  fs::remove(blocker);
  r = test::send_and_wait(io, *sink, test::numbered(0, 3));
  ASSERT_TRUE(r && r->ok) << r->error;
  EXPECT_EQ(lines_in(s.directory).size(), 3u);
}

TEST(FileSink, NeverAppendsToAnEarlierFile) {
  temp_dir t;
  boost::asio::io_context io;
  file_settings s;
  s.directory = t.path.string();
  const auto fixed = std::chrono::system_clock::time_point(std::chrono::seconds(1767225600));
  {
    auto first = make_file_sink(s, "df", io, nullptr, [&] { return fixed; });
    ASSERT_TRUE(test::send_and_wait(io, *first, test::numbered(0, 1))->ok);
  }
  // A restart within the same second: same timestamp and sequence, so a new sequence number.
  auto second = make_file_sink(s, "df", io, nullptr, [&] { return fixed; });
  ASSERT_TRUE(test::send_and_wait(io, *second, test::numbered(1, 1))->ok);
  const auto files = files_in(s.directory);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[1].filename(), "df-20260101T000000Z-000002.jsonl");
}

// A write cut short (here by RLIMIT_FSIZE, as a full disk would): the failed batch leaves no
// partial line behind, and the retry goes to a new file.
TEST(FileSink, PartialWriteIsCutBack) {
  temp_dir t;
  boost::asio::io_context io;
  file_settings s;
  s.directory = t.path.string();
  auto sink = make_file_sink(s, "df", io, nullptr);
  ASSERT_TRUE(test::send_and_wait(io, *sink, test::numbered(0, 2))->ok);
  const auto first_size = fs::file_size(files_in(t.path).at(0));

  std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = first_size + 50;  // room for part of the next batch only
  ::setrlimit(RLIMIT_FSIZE, &small);
  auto r = test::send_and_wait(io, *sink, test::numbered(2, 2));
  ::setrlimit(RLIMIT_FSIZE, &old);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->error.find("File too large"), std::string::npos) << r->error;
  EXPECT_EQ(fs::file_size(files_in(t.path).at(0)), first_size);  // cut back to whole lines

  r = test::send_and_wait(io, *sink, test::numbered(2, 2));
  ASSERT_TRUE(r && r->ok) << r->error;
  EXPECT_EQ(files_in(t.path).size(), 2u);
  const auto lines = lines_in(t.path);  // parses every line: none is partial
  ASSERT_EQ(lines.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(lines[i].at("payload").at("n"), i);
}

// What the runtime does: the kind's factory, from the definition, with the data directory.
TEST(FileSink, KindMakesTheSinkFromTheDefinition) {
  temp_dir t;
  boost::asio::io_context io;
  broker::broker core(broker::limits{});
  const auto spec = nlohmann::json::parse(
      R"({"endpointType": "LocalStorage", "localStorageSettings": {"persistentVolumeClaimRef": "pvc"}})");
  const endpoint_args args{"df", "store", spec, "site/a", {}, io, nullptr, core, t.path.string()};
  auto sink = find_endpoint_kind("LocalStorage")->make_sink(args);
  ASSERT_TRUE(sink);
  sink->start();
  ASSERT_TRUE(test::send_and_wait(io, *sink, test::numbered(0, 2))->ok);
  const auto files = files_in(t.path / "pvc");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string().rfind("site_a-", 0), 0u);
  EXPECT_EQ(lines_in(t.path / "pvc").size(), 2u);
}

}  // namespace
}  // namespace edgemq::dataflow
