#include "dataflow/definition_store.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "dataflow/runner.hpp"
#include "fake_kinds.hpp"

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;
using status = definition_store::put_result::status;
using del = definition_store::delete_result::status;

// Records what the store asks of the runtime, as "apply NAME ENDPOINT-TYPE..." lines.
class recording_runner : public runner {
 public:
  std::vector<std::string> calls;
  void apply(std::shared_ptr<const dataflow_definition> df, const endpoint_map& endpoints) override {
    std::string line = "apply " + df->name + (df->enabled ? "" : " disabled");
    if (auto e = endpoints.find(df->destination_endpoint); e != endpoints.end()) line += " ->" + e->second->type;
    calls.push_back(line);
  }
  void remove(const std::string& name) override { calls.push_back("remove " + name); }
  json status(const std::string& name) const override { return {{"state", "Running"}, {"name", name}}; }
};

json endpoint_doc(const std::string& name, const std::string& type) {
  json spec = {{"endpointType", type}};
  if (type == "Http") spec["httpSettings"] = {{"url", "http://127.0.0.1:1/"}};
  return {{"apiVersion", "connectivity.iotoperations.azure.com/v1"},
          {"kind", "DataflowEndpoint"},
          {"metadata", {{"name", name}}},
          {"spec", spec}};
}

json dataflow_doc(const std::string& name, const std::string& source, const std::string& destination) {
  return {{"apiVersion", "connectivity.iotoperations.azure.com/v1"},
          {"kind", "Dataflow"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"operations",
             {{{"operationType", "Source"}, {"sourceSettings", {{"endpointRef", source}, {"dataSources", {"t/#"}}}}},
              {{"operationType", "Destination"},
               {"destinationSettings", {{"endpointRef", destination}, {"dataDestination", "out"}}}}}}}}};
}

class DefinitionStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("edgemq-defs-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<definition_store> make() {
    definition_store::options o;
    o.persist_file = (dir_ / "dataflow-definitions.json").string();
    o.validation = test::fake_context();
    return std::make_unique<definition_store>(std::move(o));
  }
  std::filesystem::path dir_;
};

TEST_F(DefinitionStore, DeclaredDocumentsLoadEndpointsFirst) {
  auto s = make();
  origin f{origin::from::file, "dir/a.yaml", 0};
  const auto errors = s->declare({{dataflow_doc("df", "default", "k"), f}, {endpoint_doc("k", "Kafka"), f}});
  EXPECT_TRUE(errors.empty());
  recording_runner r;
  s->attach(&r);
  EXPECT_EQ(r.calls, std::vector<std::string>{"apply df ->Kafka"});
  const auto got = s->get(resource_kind::dataflow, "df");
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["status"]["state"], "Running");
  EXPECT_EQ((*got)["status"]["origin"], json({{"source", "file"}, {"file", "dir/a.yaml"}, {"document", 1}}));
  EXPECT_EQ((*got)["spec"], dataflow_doc("df", "default", "k")["spec"]);
}

TEST_F(DefinitionStore, DeclaredProblemsNameTheDocument) {
  auto s = make();
  auto bad = dataflow_doc("df", "default", "nowhere");
  const auto errors = s->declare({{endpoint_doc("k", "Kafka"), {origin::from::file, "a.yaml", 0}},
                                  {bad, {origin::from::file, "a.yaml", 1}},
                                  {endpoint_doc("k", "Kafka"), {origin::from::config, {}, 3}},
                                  {json{{"kind", "Pod"}}, {origin::from::config, {}, 4}}});
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].where.index, 3u);  // the duplicate
  EXPECT_EQ(errors[0].what.path, "/metadata/name");
  EXPECT_NE(errors[0].what.message.find("a.yaml document 1"), std::string::npos) << errors[0].what.message;
  EXPECT_EQ(errors[1].what.path, "/kind");
  EXPECT_EQ(errors[2].where.file, "a.yaml");
  EXPECT_EQ(errors[2].name, "df");
  EXPECT_EQ(errors[2].what.path, "/spec/operations/1/destinationSettings/endpointRef");
}

TEST_F(DefinitionStore, PutCreatesReplacesAndApplies) {
  auto s = make();
  recording_runner r;
  s->attach(&r);
  EXPECT_EQ(s->put(resource_kind::endpoint, "k", endpoint_doc("k", "Kafka")).code, status::created);
  EXPECT_EQ(s->put(resource_kind::dataflow, "df", dataflow_doc("df", "default", "k")).code, status::created);
  auto doc = dataflow_doc("df", "default", "k");
  doc["spec"]["mode"] = "Disabled";
  doc["status"] = {{"state", "Running"}};  // as GET returns it: ignored
  EXPECT_EQ(s->put(resource_kind::dataflow, "df", doc).code, status::replaced);
  EXPECT_EQ(r.calls, (std::vector<std::string>{"apply df ->Kafka", "apply df disabled ->Kafka"}));
  EXPECT_FALSE(s->get(resource_kind::dataflow, "df")->at("status").contains("kind"));
  // Changing the endpoint re-applies the dataflows using it.
  EXPECT_EQ(s->put(resource_kind::endpoint, "k", endpoint_doc("k", "Http")).code, status::replaced);
  EXPECT_EQ(r.calls.back(), "apply df disabled ->Http");
  EXPECT_EQ((*s->get(resource_kind::endpoint, "k"))["status"]["usedBy"], json({"df"}));
}

TEST_F(DefinitionStore, PutRefusesWithPointers) {
  auto s = make();
  recording_runner r;
  s->attach(&r);
  auto res = s->put(resource_kind::dataflow, "other", dataflow_doc("df", "default", "nowhere"));
  EXPECT_EQ(res.code, status::invalid);
  ASSERT_EQ(res.problems.size(), 2u);
  EXPECT_EQ(res.problems[0].path, "/metadata/name");
  EXPECT_EQ(res.problems[1].path, "/spec/operations/1/destinationSettings/endpointRef");
  res = s->put(resource_kind::endpoint, "default", endpoint_doc("default", "Mqtt"));
  EXPECT_EQ(res.code, status::invalid);
  EXPECT_EQ(res.problems.at(0).path, "/metadata/name");
  // An endpoint change that no longer fits a dataflow using it (Http cannot be a source).
  ASSERT_EQ(s->put(resource_kind::endpoint, "m", endpoint_doc("m", "Mqtt")).code, status::created);
  ASSERT_EQ(s->put(resource_kind::dataflow, "in", dataflow_doc("in", "m", "default")).code, status::created);
  res = s->put(resource_kind::endpoint, "m", endpoint_doc("m", "Http"));
  EXPECT_EQ(res.code, status::invalid);
  ASSERT_EQ(res.problems.size(), 1u);
  EXPECT_NE(res.problems[0].message.find("dataflow 'in'"), std::string::npos) << res.problems[0].message;
  EXPECT_EQ((*s->get(resource_kind::endpoint, "m"))["spec"]["endpointType"], "Mqtt");
  EXPECT_EQ(r.calls, std::vector<std::string>{"apply in"});
  EXPECT_FALSE(s->get(resource_kind::dataflow, "other"));
}

TEST_F(DefinitionStore, DeleteRules) {
  auto s = make();
  ASSERT_TRUE(s->declare({{endpoint_doc("decl", "Kafka"), {origin::from::file, "d.yaml", 0}},
                          {dataflow_doc("declared-df", "default", "decl"), {origin::from::file, "d.yaml", 1}}})
                  .empty());
  recording_runner r;
  s->attach(&r);
  ASSERT_EQ(s->put(resource_kind::endpoint, "k", endpoint_doc("k", "Kafka")).code, status::created);
  ASSERT_EQ(s->put(resource_kind::dataflow, "df", dataflow_doc("df", "default", "k")).code, status::created);
  auto d = s->remove(resource_kind::endpoint, "k");
  EXPECT_EQ(d.code, del::in_use);
  EXPECT_EQ(d.users, std::vector<std::string>{"df"});
  EXPECT_EQ(s->remove(resource_kind::endpoint, "default").code, del::reserved);
  EXPECT_EQ(s->remove(resource_kind::endpoint, "nope").code, del::not_found);
  EXPECT_EQ(s->remove(resource_kind::dataflow, "declared-df").code, del::declared);
  EXPECT_EQ(s->remove(resource_kind::dataflow, "df").code, del::deleted);
  EXPECT_EQ(r.calls.back(), "remove df");
  EXPECT_EQ(s->remove(resource_kind::dataflow, "df").code, del::not_found);
  EXPECT_EQ(s->remove(resource_kind::endpoint, "k").code, del::deleted);
  EXPECT_FALSE(s->get(resource_kind::endpoint, "k"));
}

TEST_F(DefinitionStore, ApiOverridesDeclaredUntilDeleted) {
  auto s = make();
  ASSERT_TRUE(s->declare({{endpoint_doc("k", "Kafka"), {origin::from::config, {}, 0}},
                          {dataflow_doc("df", "default", "k"), {origin::from::config, {}, 1}}})
                  .empty());
  recording_runner r;
  s->attach(&r);
  auto doc = dataflow_doc("df", "default", "default");
  EXPECT_EQ(s->put(resource_kind::dataflow, "df", doc).code, status::replaced);
  EXPECT_EQ((*s->get(resource_kind::dataflow, "df"))["status"]["origin"]["source"], "api");
  EXPECT_EQ(s->remove(resource_kind::dataflow, "df").code, del::deleted);
  EXPECT_EQ(r.calls, (std::vector<std::string>{"apply df ->Kafka", "apply df", "apply df ->Kafka"}));
  EXPECT_EQ((*s->get(resource_kind::dataflow, "df"))["status"]["origin"]["source"], "config");
}

TEST_F(DefinitionStore, ApiDefinitionsSurviveARestart) {
  {
    auto s = make();
    ASSERT_EQ(s->put(resource_kind::endpoint, "k", endpoint_doc("k", "Kafka")).code, status::created);
    ASSERT_EQ(s->put(resource_kind::dataflow, "df", dataflow_doc("df", "default", "k")).code, status::created);
    ASSERT_EQ(s->put(resource_kind::dataflow, "gone", dataflow_doc("gone", "default", "k")).code, status::created);
    ASSERT_EQ(s->remove(resource_kind::dataflow, "gone").code, del::deleted);
  }
  auto s = make();
  std::vector<std::string> skipped;
  std::string error;
  ASSERT_TRUE(s->restore(skipped, error)) << error;
  EXPECT_TRUE(skipped.empty());
  recording_runner r;
  s->attach(&r);
  EXPECT_EQ(r.calls, std::vector<std::string>{"apply df ->Kafka"});
  EXPECT_FALSE(s->get(resource_kind::dataflow, "gone"));
  ASSERT_EQ(s->list(resource_kind::endpoint).size(), 2u);  // k and default
  EXPECT_EQ(s->list(resource_kind::endpoint)[0]["metadata"]["name"], "default");
  EXPECT_EQ(s->list(resource_kind::endpoint)[0]["status"]["origin"]["source"], "builtin");
}

// A persisted dataflow naming an endpoint that is no longer declared is skipped, not lost.
TEST_F(DefinitionStore, RestoreSkipsWhatNoLongerFitsAndKeepsIt) {
  {
    auto s = make();
    ASSERT_TRUE(s->declare({{endpoint_doc("k", "Kafka"), {origin::from::config, {}, 0}}}).empty());
    ASSERT_EQ(s->put(resource_kind::dataflow, "df", dataflow_doc("df", "default", "k")).code, status::created);
  }
  {
    auto s = make();
    std::vector<std::string> skipped;
    std::string error;
    ASSERT_TRUE(s->restore(skipped, error)) << error;
    ASSERT_EQ(skipped.size(), 1u);
    EXPECT_NE(skipped[0].find("'df'"), std::string::npos) << skipped[0];
    EXPECT_FALSE(s->get(resource_kind::dataflow, "df"));
    ASSERT_EQ(s->put(resource_kind::endpoint, "x", endpoint_doc("x", "Kafka")).code, status::created);
  }
  auto s = make();
  ASSERT_TRUE(s->declare({{endpoint_doc("k", "Kafka"), {origin::from::config, {}, 0}}}).empty());
  std::vector<std::string> skipped;
  std::string error;
  ASSERT_TRUE(s->restore(skipped, error)) << error;
  EXPECT_TRUE(skipped.empty());
  EXPECT_TRUE(s->get(resource_kind::dataflow, "df"));
}

TEST_F(DefinitionStore, UnwritableFileRefusesTheChange) {
  auto s = make();
  std::filesystem::create_directories(dir_ / "dataflow-definitions.json.tmp");  // cannot be opened as a file
  const auto res = s->put(resource_kind::endpoint, "k", endpoint_doc("k", "Kafka"));
  EXPECT_EQ(res.code, status::unavailable);
  EXPECT_NE(res.message.find("cannot write"), std::string::npos) << res.message;
  EXPECT_FALSE(s->get(resource_kind::endpoint, "k"));
}

TEST_F(DefinitionStore, UnreadableFileIsAnError) {
  { std::ofstream(dir_ / "dataflow-definitions.json") << "not json"; }
  auto s = make();
  std::vector<std::string> skipped;
  std::string error;
  EXPECT_FALSE(s->restore(skipped, error));
  EXPECT_NE(error.find("not a definitions file"), std::string::npos) << error;
}

}  // namespace
}  // namespace edgemq::dataflow
