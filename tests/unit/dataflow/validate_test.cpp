#include "dataflow/validate.hpp"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "dataflow/document.hpp"
#include "fake_kinds.hpp"

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;

json endpoint_doc(const std::string& name, const std::string& type) {
  json spec = {{"endpointType", type}};
  if (type == "Http") spec["httpSettings"] = {{"url", "http://127.0.0.1:1/"}};
  return {{"apiVersion", "connectivity.iotoperations.azure.com/v1"},
          {"kind", "DataflowEndpoint"},
          {"metadata", {{"name", name}}},
          {"spec", spec}};
}

json dataflow_doc(const std::string& source = "default", const std::string& destination = "kafka") {
  return json::parse(R"({"apiVersion": "connectivity.iotoperations.azure.com/v1", "kind": "Dataflow",
    "metadata": {"name": "df1", "namespace": "azure-iot-operations"},
    "spec": {"profileRef": "default", "mode": "Enabled", "operations": [
      {"operationType": "Source", "sourceSettings": {"endpointRef": ")" +
                     source + R"(", "dataSources": ["a/+/b", "$share/g/c/#"]}},
      {"operationType": "Destination", "destinationSettings": {"endpointRef": ")" +
                     destination + R"(", "dataDestination": "out"}}]}})");
}

endpoint_map endpoints() {
  endpoint_map m;
  problems ps;
  for (const auto& [n, t] :
       std::vector<std::pair<std::string, std::string>>{{"kafka", "Kafka"}, {"remote", "Mqtt"}, {"hook", "Http"}}) {
    auto e = validate_endpoint(endpoint_doc(n, t), test::fake_context(), ps);
    EXPECT_TRUE(e) << n;
    m[n] = e;
  }
  EXPECT_TRUE(ps.empty());
  return m;
}

// The problems of `doc` as "pointer: message" lines, to compare pointers.
std::vector<std::string> pointers(const json& doc) {
  problems ps;
  const auto df = validate_dataflow(doc, endpoints(), test::fake_context(), ps);
  EXPECT_EQ(df == nullptr, !ps.empty());
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.path);
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(DataflowValidate, ValidDataflowIsParsed) {
  problems ps;
  const auto df = validate_dataflow(dataflow_doc(), endpoints(), test::fake_context(), ps);
  ASSERT_TRUE(df) << ps.front().path << ": " << ps.front().message;
  EXPECT_EQ(df->name, "df1");
  EXPECT_TRUE(df->enabled);
  EXPECT_EQ(df->source_endpoint, "default");
  EXPECT_EQ(df->data_sources, (std::vector<std::string>{"a/+/b", "$share/g/c/#"}));
  EXPECT_EQ(df->destination_endpoint, "kafka");
  EXPECT_EQ(df->data_destination, "out");
  EXPECT_TRUE(df->transformation.is_null());
  EXPECT_EQ(df->document, dataflow_doc());
}

TEST(DataflowValidate, V1beta1IsAccepted) {
  auto d = dataflow_doc();
  d["apiVersion"] = "connectivity.iotoperations.azure.com/v1beta1";
  EXPECT_TRUE(pointers(d).empty());
}

TEST(DataflowValidate, HeaderProblems) {
  auto d = dataflow_doc();
  d["apiVersion"] = "v1";
  d["kind"] = "Deployment";
  d["metadata"]["name"] = "Not_Valid";
  auto p = pointers(d);
  EXPECT_TRUE(has(p, "/apiVersion"));
  EXPECT_TRUE(has(p, "/kind"));
  EXPECT_TRUE(has(p, "/metadata/name"));
  d = dataflow_doc();
  d.erase("metadata");
  EXPECT_TRUE(has(pointers(d), "/metadata"));
  d = dataflow_doc();
  d["spec"] = "x";
  EXPECT_TRUE(has(pointers(d), "/spec"));
  EXPECT_EQ(pointers(json::array()), std::vector<std::string>{""});
}

TEST(DataflowValidate, ModeMustBeEnabledOrDisabled) {
  auto d = dataflow_doc();
  d["spec"]["mode"] = "Paused";
  EXPECT_EQ(pointers(d), std::vector<std::string>{"/spec/mode"});
  d["spec"]["mode"] = "Disabled";
  problems ps;
  auto df = validate_dataflow(d, endpoints(), test::fake_context(), ps);
  ASSERT_TRUE(df);
  EXPECT_FALSE(df->enabled);
}

TEST(DataflowValidate, UnknownOperationType) {
  auto d = dataflow_doc();
  d["spec"]["operations"][1]["operationType"] = "Sink";
  const auto p = pointers(d);
  EXPECT_TRUE(has(p, "/spec/operations/1/operationType"));
  EXPECT_TRUE(has(p, "/spec/operations"));  // and so no Destination
}

TEST(DataflowValidate, MissingSourceOrDestination) {
  auto d = dataflow_doc();
  d["spec"]["operations"].erase(0);
  EXPECT_EQ(pointers(d), std::vector<std::string>{"/spec/operations"});
  d = dataflow_doc();
  d["spec"]["operations"].erase(1);
  EXPECT_EQ(pointers(d), std::vector<std::string>{"/spec/operations"});
  d = dataflow_doc();
  d["spec"].erase("operations");
  EXPECT_EQ(pointers(d), std::vector<std::string>{"/spec/operations"});
  d = dataflow_doc();
  d["spec"]["operations"].push_back(d["spec"]["operations"][0]);
  EXPECT_EQ(pointers(d), std::vector<std::string>{"/spec/operations/2/operationType"});
  d = dataflow_doc();
  d["spec"]["operations"][0].erase("sourceSettings");
  EXPECT_TRUE(has(pointers(d), "/spec/operations/0/sourceSettings"));
}

TEST(DataflowValidate, LocalBrokerMustBeSourceOrDestination) {
  EXPECT_EQ(pointers(dataflow_doc("remote", "kafka")), std::vector<std::string>{"/spec/operations"});
  EXPECT_TRUE(pointers(dataflow_doc("remote", "default")).empty());
  EXPECT_TRUE(pointers(dataflow_doc("default", "default")).empty());
}

TEST(DataflowValidate, EndpointRefMustNameAnEndpointThatFits) {
  EXPECT_EQ(pointers(dataflow_doc("default", "nowhere")),
            std::vector<std::string>{"/spec/operations/1/destinationSettings/endpointRef"});
  EXPECT_EQ(pointers(dataflow_doc("nowhere", "default")),
            std::vector<std::string>{"/spec/operations/0/sourceSettings/endpointRef"});
  // Http is a destination only.
  EXPECT_EQ(pointers(dataflow_doc("hook", "default")),
            std::vector<std::string>{"/spec/operations/0/sourceSettings/endpointRef"});
  EXPECT_TRUE(pointers(dataflow_doc("default", "hook")).empty());
  auto d = dataflow_doc();
  d["spec"]["operations"][1]["destinationSettings"].erase("endpointRef");
  EXPECT_EQ(pointers(d), std::vector<std::string>{"/spec/operations/1/destinationSettings/endpointRef"});
}

TEST(DataflowValidate, DataSourcesAndDestination) {
  auto d = dataflow_doc();
  d["spec"]["operations"][0]["sourceSettings"]["dataSources"] = json::array();
  EXPECT_EQ(pointers(d), std::vector<std::string>{"/spec/operations/0/sourceSettings/dataSources"});
  d["spec"]["operations"][0]["sourceSettings"].erase("dataSources");
  EXPECT_EQ(pointers(d), std::vector<std::string>{"/spec/operations/0/sourceSettings/dataSources"});
  d["spec"]["operations"][0]["sourceSettings"]["dataSources"] = {"ok/#", "bad/#/x", 3, "$share//x"};
  EXPECT_EQ(pointers(d), (std::vector<std::string>{"/spec/operations/0/sourceSettings/dataSources/1",
                                                   "/spec/operations/0/sourceSettings/dataSources/2",
                                                   "/spec/operations/0/sourceSettings/dataSources/3"}));
  d = dataflow_doc();
  d["spec"]["operations"][1]["destinationSettings"]["dataDestination"] = "";
  EXPECT_EQ(pointers(d), std::vector<std::string>{"/spec/operations/1/destinationSettings/dataDestination"});
}

TEST(DataflowValidate, TopicDestinationsAreCheckedTemplates) {
  // The local broker and an Mqtt endpoint publish to dataDestination: it must give a topic name.
  const std::string ptr = "/spec/operations/1/destinationSettings/dataDestination";
  for (const std::string dest : {"default", "remote"}) {
    auto d = dataflow_doc(dest == "default" ? "remote" : "default", dest);
    d["spec"]["operations"][1]["destinationSettings"]["dataDestination"] = "factory/${inputTopic.2}";
    EXPECT_TRUE(pointers(d).empty()) << dest;
    d["spec"]["operations"][1]["destinationSettings"]["dataDestination"] = "out/#";
    EXPECT_EQ(pointers(d), std::vector<std::string>{ptr}) << dest;
    d["spec"]["operations"][1]["destinationSettings"]["dataDestination"] = "x/${inputTopic.0}";
    EXPECT_EQ(pointers(d), std::vector<std::string>{ptr}) << dest;
  }
  // A Kafka topic is not an MQTT topic: "#" is its business.
  auto d = dataflow_doc("default", "kafka");
  d["spec"]["operations"][1]["destinationSettings"]["dataDestination"] = "out#";
  EXPECT_TRUE(pointers(d).empty());
}

TEST(DataflowValidate, UnknownKeys) {
  auto d = dataflow_doc();
  d["spec"]["requestDiskPersistence"] = "Enabled";  // AIO's: accepted
  EXPECT_TRUE(pointers(d).empty());
  d["spec"]["colour"] = "blue";
  d["spec"]["operations"][0]["sourceSettings"]["topic"] = "x";
  d["spec"]["operations"][1]["extra"] = 1;
  EXPECT_EQ(pointers(d), (std::vector<std::string>{"/spec/colour", "/spec/operations/0/sourceSettings/topic",
                                                   "/spec/operations/1/extra"}));
}

TEST(DataflowValidate, TransformationProblemsComeFromCompileTransform) {
  auto d = dataflow_doc();
  d["spec"]["operations"].insert(
      d["spec"]["operations"].begin() + 1,
      json{{"operationType", "BuiltInTransformation"}, {"builtInTransformationSettings", "not an object"}});
  EXPECT_EQ(pointers(d), std::vector<std::string>{"/spec/operations/1/builtInTransformationSettings"});
  d["spec"]["operations"][1]["builtInTransformationSettings"] = json::object();
  problems ps;
  auto df = validate_dataflow(d, endpoints(), test::fake_context(), ps);
  ASSERT_TRUE(df);
  EXPECT_EQ(df->transformation, json::object());
  d["spec"]["operations"].push_back(d["spec"]["operations"][1]);
  EXPECT_EQ(pointers(d), std::vector<std::string>{"/spec/operations/3/operationType"});
}

TEST(DataflowValidate, EndpointProblems) {
  problems ps;
  EXPECT_TRUE(validate_endpoint(endpoint_doc("k", "Kafka"), test::fake_context(), ps));
  EXPECT_TRUE(ps.empty());
  EXPECT_FALSE(validate_endpoint(endpoint_doc("k", "Carrier-Pigeon"), test::fake_context(), ps));
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].path, "/spec/endpointType");
  ps.clear();
  auto e = endpoint_doc("k", "Kafka");
  e["spec"].erase("endpointType");
  EXPECT_FALSE(validate_endpoint(e, test::fake_context(), ps));
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].path, "/spec/endpointType");
  ps.clear();
  // The type's own validation, under /spec.
  e = endpoint_doc("k", "Http");
  e["spec"].erase("httpSettings");
  EXPECT_FALSE(validate_endpoint(e, test::fake_context(), ps));
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].path, "/spec/httpSettings/url");
  ps.clear();
  EXPECT_FALSE(validate_endpoint(endpoint_doc("default", "Mqtt"), test::fake_context(), ps));
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].path, "/metadata/name");
  ps.clear();
  e = endpoint_doc("k", "Kafka");
  e["kind"] = "Dataflow";
  EXPECT_FALSE(validate_endpoint(e, test::fake_context(), ps));
  EXPECT_EQ(ps[0].path, "/kind");
}

// A type with no endpoint kind registered (in this build) is unknown.
TEST(DataflowValidate, UnregisteredTypeIsUnknown) {
  problems ps;
  validation_context ctx;
  ctx.kind = [](const std::string& t) { return t == "Kafka" ? test::fake_kind(t) : nullptr; };
  EXPECT_FALSE(validate_endpoint(endpoint_doc("m", "Mqtt"), ctx, ps));
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].path, "/spec/endpointType");
  EXPECT_NE(ps[0].message.find("unknown endpointType \"Mqtt\""), std::string::npos) << ps[0].message;
}

TEST(DataflowValidate, NamesAsKubernetesTakesThem) {
  EXPECT_TRUE(valid_name("my-dataflow"));
  EXPECT_TRUE(valid_name("a.b-1"));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name("-a"));
  EXPECT_FALSE(valid_name("a-"));
  EXPECT_FALSE(valid_name("A"));
  EXPECT_FALSE(valid_name("a/b"));
  EXPECT_FALSE(valid_name(std::string(254, 'a')));
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The reference's example, as it is, in YAML and in JSON.
TEST(DataflowValidate, ReferenceExampleLoads) {
  for (const auto& [file, format] : std::vector<std::pair<std::string, text_format>>{
           {EDGEMQ_SOURCE_DIR "/examples/dataflows/yaml/aio-example.yaml", text_format::yaml},
           {EDGEMQ_SOURCE_DIR "/examples/dataflows/json/aio-example.json", text_format::json}}) {
    std::vector<json> docs;
    std::string error;
    ASSERT_TRUE(parse_documents(read(file), format, docs, error)) << error;
    ASSERT_EQ(docs.size(), 2u);
    problems ps;
    auto e = validate_endpoint(docs[0], test::fake_context(), ps);
    ASSERT_TRUE(e) << ps.front().path << ": " << ps.front().message;
    EXPECT_EQ(e->type, "Kafka");
    auto df = validate_dataflow(docs[1], {{"kafka-endpoint", e}}, test::fake_context(), ps);
    ASSERT_TRUE(df) << ps.front().path << ": " << ps.front().message;
    EXPECT_EQ(df->name, "my-dataflow");
    EXPECT_EQ(df->data_sources, std::vector<std::string>{"thermostats/+/telemetry/temperature/#"});
    EXPECT_EQ(df->destination_endpoint, "kafka-endpoint");
    EXPECT_EQ(df->data_destination, "telemetry");
    EXPECT_EQ(df->transformation["map"][0]["expression"], json("cToF($1)"));
  }
}

}  // namespace
}  // namespace edgemq::dataflow
