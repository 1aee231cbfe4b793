// The reference's example transformation with the real expression language (compile_transform,
// not the test double). Built once the language's sources are in the tree (the expr engineer's
// branch brings src/dataflow/expr/program.hpp); until then there is nothing to link against.
#if __has_include("dataflow/expr/program.hpp")

#include <gtest/gtest.h>

#include "dataflow/datasets.hpp"
#include "dataflow/transform.hpp"

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

class fixed_source final : public dataset_source {
 public:
  std::shared_ptr<void> watch(const std::string&, std::function<void(std::optional<std::string>)> changed) override {
    changed(std::string("{\"asset\": \"thermostat-1\", \"location\": \"Hall 1\"}\n"));
    return nullptr;
  }
};

TEST(TransformWithExpressions, ReferenceExample) {
  const auto settings = json::parse(R"j({
    "datasets": [{"key": "assetDataset", "inputs": ["$source.deviceId", "$context(assetDataset).asset"],
                  "expression": "$1 == $2"}],
    "filter": [{"inputs": ["temperature"], "expression": "$1 <= 20"}],
    "map": [{"inputs": ["temperature"], "output": "TemperatureF", "expression": "cToF($1)"},
            {"inputs": ["$context(assetDataset).location"], "output": "Location"}],
    "serializationFormat": "Json"})j");
  problems p;
  auto t = compile_transform(settings, "/spec/operations/1/builtInTransformationSettings", p,
                             std::make_shared<dataset_cache>(std::make_shared<fixed_source>()));
  ASSERT_TRUE(t) << (p.empty() ? "" : p[0].path + ": " + p[0].message);
  record r;
  r.payload = R"j({"deviceId": "thermostat-1", "temperature": 25})j";
  std::string why;
  ASSERT_EQ(t->apply(r, why), transform::outcome::pass) << why;
  const auto out = ojson::parse(r.payload);
  EXPECT_DOUBLE_EQ(out.at("TemperatureF").get<double>(), 77.0);
  EXPECT_EQ(out.at("Location"), "Hall 1");
  r.payload = R"j({"deviceId": "thermostat-1", "temperature": 12})j";
  EXPECT_EQ(t->apply(r, why), transform::outcome::dropped);
  r.payload = R"j({"deviceId": "thermostat-1", "humidity": 12})j";  // no temperature: the filter rule is skipped
  EXPECT_EQ(t->apply(r, why), transform::outcome::pass) << why;

  problems bad;
  EXPECT_FALSE(compile_transform(json::parse(R"j({"map": [{"inputs": ["a"], "output": "b", "expression": "$1 +"}]})j"),
                                 "/s", bad, nullptr));
  ASSERT_FALSE(bad.empty());
  EXPECT_EQ(bad[0].path, "/s/map/0/expression");
}

}  // namespace
}  // namespace edgemq::dataflow

#endif
