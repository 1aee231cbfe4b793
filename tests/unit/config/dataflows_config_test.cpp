// "dataflows" in the file: a directory and resource documents kept as JSON text (validated by
// the daemon when it loads them, not here).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/config.hpp"

namespace edgemq::config {
namespace {

TEST(DataflowsConfig, DirAndDocuments) {
  daemon_config cfg;
  EXPECT_TRUE(cfg.dataflows.dir.empty());
  const auto errors = apply_json(
      R"({"dataflows": {"dir": "/etc/edgemq/dataflows", "documents": [{"kind": "Dataflow", "n": 1.5}, {}]}})", cfg);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(cfg.dataflows.dir, "/etc/edgemq/dataflows");
  ASSERT_EQ(cfg.dataflows.documents.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(cfg.dataflows.documents[0]), nlohmann::json::parse(R"({"kind":"Dataflow","n":1.5})"));
}

TEST(DataflowsConfig, BadValuesNameTheKey) {
  daemon_config cfg;
  auto errors = apply_json(R"({"dataflows": {"dir": "", "documents": [{}, 3], "other": 1}})", cfg);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].path, "/dataflows/dir");
  EXPECT_EQ(errors[1].path, "/dataflows/documents/1");
  EXPECT_EQ(errors[2].path, "/dataflows/other");
  errors = apply_json(R"({"dataflows": {"documents": {}}})", cfg);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/dataflows/documents");
}

}  // namespace
}  // namespace edgemq::config
