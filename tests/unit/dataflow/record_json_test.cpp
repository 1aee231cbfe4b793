// The JSON shape of a record for the Http and File endpoints (docs/dataflows.md, "Endpoints").
#include "dataflow/endpoints/record_json.hpp"

#include <gtest/gtest.h>

namespace edgemq::dataflow {
namespace {

TEST(RecordJson, JsonPayloadIsEmbedded) {
  record r;
  r.topic = "a/b";
  r.payload = R"({"temperature": 21.5})";
  r.properties = {{"k", "v1"}, {"k", "v2"}};
  r.content_type = "application/json";
  r.timestamp_ms = 42;
  const auto j = record_to_json(r);
  EXPECT_EQ(j.at("topic"), "a/b");
  EXPECT_EQ(j.at("payload").at("temperature"), 21.5);
  EXPECT_EQ(j.at("payloadEncoding"), "json");
  // Repeated names kept, in order: MQTT allows them.
  EXPECT_EQ(j.at("userProperties"), nlohmann::json::parse(R"([["k","v1"],["k","v2"]])"));
  EXPECT_EQ(j.at("contentType"), "application/json");
  EXPECT_EQ(j.at("timestamp"), 42);
}

TEST(RecordJson, TextAndScalarsStayText) {
  record r;
  r.payload = "hello";
  EXPECT_EQ(record_to_json(r).at("payload"), "hello");
  EXPECT_EQ(record_to_json(r).at("payloadEncoding"), "utf-8");
  r.payload = "007";  // parses as a JSON number, but as text nothing is lost
  EXPECT_EQ(record_to_json(r).at("payload"), "007");
  EXPECT_FALSE(record_to_json(r).contains("contentType"));
}

TEST(RecordJson, BinaryIsBase64) {
  record r;
  r.payload = std::string("\xff\x00\x01", 3);
  const auto j = record_to_json(r);
  EXPECT_EQ(j.at("payload"), "/wAB");
  EXPECT_EQ(j.at("payloadEncoding"), "base64");
  r.properties = {{"bin", "\xc3\x28"}};  // invalid UTF-8 in a property: base64 rather than a throw on dump
  EXPECT_NO_THROW(record_to_json(r).dump());
}

TEST(RecordJson, BatchIsAnArrayInOrder) {
  std::vector<record> b(3);
  for (int i = 0; i < 3; ++i) b[i].payload = std::to_string(i);
  const auto arr = nlohmann::json::parse(records_to_json_array(b));
  ASSERT_EQ(arr.size(), 3u);
  EXPECT_EQ(arr[2].at("payload"), "2");
}

}  // namespace
}  // namespace edgemq::dataflow
