// /api/v1/dataflows and /api/v1/dataflow-endpoints without sockets: off (404), methods, media
// types, bodies, and the status codes of a store's answers (a store without endpoint types and
// without a file: dataflows from the local broker to itself need none).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "admin/router.hpp"
#include "broker/broker.hpp"
#include "dataflow/definition_store.hpp"

namespace edgemq::admin {
namespace {

using json = nlohmann::json;

json local_dataflow(const std::string& name, const std::string& mode = "Enabled") {
  return {{"apiVersion", "connectivity.iotoperations.azure.com/v1"},
          {"kind", "Dataflow"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"mode", mode},
            {"operations",
             {{{"operationType", "Source"}, {"sourceSettings", {{"endpointRef", "default"}, {"dataSources", {"a/#"}}}}},
              {{"operationType", "Destination"},
               {"destinationSettings", {{"endpointRef", "default"}, {"dataDestination", "b"}}}}}}}}};
}

class DataflowRoutes : public ::testing::Test {
 protected:
  broker::broker core{broker::limits{}};
  dataflow::definition_store store{dataflow::definition_store::options{}};
  admin_context ctx{core, {}, "1.2.3", "", {}, {}, {}, "commands/{clientId}/{name}", {}};

  void SetUp() override { ctx.dataflows = &store; }
  http_response call(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::string& type = "application/json") {
    return handle(ctx, {method, target, "", body.empty() ? "" : type, body});
  }
  static std::string code(const http_response& r) { return json::parse(r.body).at("code"); }
};

TEST_F(DataflowRoutes, OffIs404) {
  ctx.dataflows = nullptr;
  for (const auto* t :
       {"/api/v1/dataflows", "/api/v1/dataflows/x", "/api/v1/dataflow-endpoints", "/api/v1/dataflow-endpoints/x"}) {
    const auto r = call("GET", t);
    EXPECT_EQ(r.status, 404u) << t;
    EXPECT_EQ(code(r), "dataflows_disabled") << t;
  }
}

TEST_F(DataflowRoutes, PutGetDelete) {
  auto r = call("PUT", "/api/v1/dataflows/df", local_dataflow("df").dump());
  EXPECT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(json::parse(r.body)["status"]["origin"]["source"], "api");
  r = call("PUT", "/api/v1/dataflows/df", local_dataflow("df", "Disabled").dump());
  EXPECT_EQ(r.status, 200u) << r.body;
  r = call("GET", "/api/v1/dataflows");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(json::parse(r.body)["items"][0]["spec"]["mode"], "Disabled");
  r = call("PUT", "/api/v1/dataflows/df",
           "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\nmetadata: {name: df}\n"
           "spec: {operations: [{operationType: Source, sourceSettings: {endpointRef: default, dataSources: [x]}},"
           " {operationType: Destination, destinationSettings: {endpointRef: default, dataDestination: 7}}]}\n",
           "application/yaml");
  // An unquoted YAML 7 is a number: dataDestination must be a string.
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_EQ(json::parse(r.body)["problems"][0]["path"], "/spec/operations/1/destinationSettings/dataDestination");
  EXPECT_EQ(call("DELETE", "/api/v1/dataflows/df").status, 204u);
  EXPECT_EQ(call("GET", "/api/v1/dataflows/df").status, 404u);
  EXPECT_EQ(call("DELETE", "/api/v1/dataflows/df").status, 404u);
}

TEST_F(DataflowRoutes, RefusedBodies) {
  auto r = call("PUT", "/api/v1/dataflows/df", local_dataflow("df").dump(), "text/plain");
  EXPECT_EQ(r.status, 415u);
  r = call("PUT", "/api/v1/dataflows/df", "{");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(code(r), "bad_body");
  r = call("PUT", "/api/v1/dataflows/df", "[]");
  EXPECT_EQ(code(r), "bad_body");
  r = call("PUT", "/api/v1/dataflows/df", "[1]");
  EXPECT_EQ(code(r), "bad_body");
  r = call("PUT", "/api/v1/dataflows/other", local_dataflow("df").dump());
  EXPECT_EQ(r.status, 400u);
  const auto j = json::parse(r.body);
  EXPECT_EQ(j["code"], "invalid_definition");
  EXPECT_EQ(j["problems"][0]["path"], "/metadata/name");
}

TEST_F(DataflowRoutes, MethodsAndReservedDefault) {
  auto r = call("POST", "/api/v1/dataflows");
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.allow, "GET");
  r = call("POST", "/api/v1/dataflows/x");
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.allow, "GET, PUT, DELETE");
  r = call("DELETE", "/api/v1/dataflow-endpoints/default");
  EXPECT_EQ(r.status, 409u);
  EXPECT_EQ(code(r), "reserved");
  r = call("GET", "/api/v1/dataflow-endpoints/default");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(call("GET", "/api/v1/dataflows?x=1").status, 400u);
}

}  // namespace
}  // namespace edgemq::admin
