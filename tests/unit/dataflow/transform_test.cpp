// The BuiltInTransformation's rules on records: filter (true drops, rules OR-ed, missing inputs
// skip a rule, "? $last"), map (rename, compute, restructure, removal, every wildcard form,
// $metadata in and out), errors for payloads the rules cannot read, and compile problems with
// their JSON pointers. Expressions come from a test double (fake_expressions.hpp).
#include <gtest/gtest.h>

#include "dataflow/datasets.hpp"
#include "fake_expressions.hpp"

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using outcome = transform::outcome;

const std::string base = "/spec/operations/1/builtInTransformationSettings";

std::unique_ptr<transform> compile(const json& settings, std::shared_ptr<dataset_cache> cache = nullptr) {
  problems p;
  auto t = compile_transform_with(settings, base, p, std::move(cache), testing::fake_compile);
  for (const auto& x : p) ADD_FAILURE() << x.path << ": " << x.message;
  return t;
}

problems compile_problems(const json& settings, std::shared_ptr<dataset_cache> cache = nullptr) {
  problems p;
  auto t = compile_transform_with(settings, base, p, std::move(cache), testing::fake_compile);
  EXPECT_EQ(t, nullptr);
  return p;
}

record msg(const std::string& payload, std::string topic = "thermostats/t1/telemetry/temperature") {
  record r;
  r.topic = std::move(topic);
  r.payload = payload;
  return r;
}

// Applies and expects `pass`; returns the payload as JSON.
ojson pass(transform& t, record& r) {
  std::string why;
  EXPECT_EQ(t.apply(r, why), outcome::pass) << why;
  return ojson::parse(r.payload);
}

outcome run(transform& t, const std::string& payload) {
  auto r = msg(payload);
  std::string why;
  return t.apply(r, why);
}

TEST(Transform, NullSettingsAreTheIdentityEvenForBinaryPayloads) {
  auto t = compile(nullptr);
  ASSERT_TRUE(t);
  auto r = msg(std::string("\x00\xff not json", 11));
  std::string why;
  EXPECT_EQ(t->apply(r, why), outcome::pass);
  EXPECT_EQ(r.payload, std::string("\x00\xff not json", 11));
}

TEST(Transform, FilterTrueDropsAndRulesAreOred) {
  auto t = compile(json::parse(R"j({"filter": [
      {"inputs": ["temperature"], "expression": "$1 <= 20", "description": "Drop low temperatures"},
      {"inputs": ["humidity"], "expression": "$1 >= 80"}]})j"));
  ASSERT_TRUE(t);
  EXPECT_EQ(run(*t, R"j({"temperature": 15, "humidity": 50})j"), outcome::dropped);
  EXPECT_EQ(run(*t, R"j({"temperature": 25, "humidity": 90})j"), outcome::dropped);
  EXPECT_EQ(run(*t, R"j({"temperature": 25, "humidity": 50})j"), outcome::pass);
  // A filter alone leaves the payload's bytes as they came.
  auto r = msg("{ \"temperature\" : 25 }");
  std::string why;
  EXPECT_EQ(t->apply(r, why), outcome::pass);
  EXPECT_EQ(r.payload, "{ \"temperature\" : 25 }");
}

TEST(Transform, FilterWithAMissingInputSkipsTheRule) {
  auto t = compile(json::parse(R"j({"filter": [{"inputs": ["temperature"], "expression": "$1 <= 20"}]})j"));
  EXPECT_EQ(run(*t, R"j({"humidity": 50})j"), outcome::pass);
  EXPECT_EQ(run(*t, R"j({"temperature": null})j"), outcome::pass);  // null is AIO's empty value, as missing
}

TEST(Transform, FilterLastKnownValue) {
  auto t =
      compile(json::parse(R"j({"filter": [{"inputs": ["$source.temperature ? $last"], "expression": "$1 <= 20"}]})j"));
  EXPECT_EQ(run(*t, R"j({"humidity": 1})j"), outcome::pass);  // nothing known yet
  EXPECT_EQ(run(*t, R"j({"temperature": 10})j"), outcome::dropped);
  EXPECT_EQ(run(*t, R"j({"humidity": 1})j"), outcome::dropped);  // 10 stands in
  EXPECT_EQ(run(*t, R"j({"temperature": 30})j"), outcome::pass);
  EXPECT_EQ(run(*t, R"j({"humidity": 1})j"), outcome::pass);  // 30 stands in
}

TEST(Transform, PayloadsTheRulesCannotReadAreErrorsWithAReason) {
  auto t = compile(json::parse(R"j({"filter": [{"inputs": ["temperature"], "expression": "$1 <= 20"}]})j"));
  auto r = msg("temperature=12");
  std::string why;
  EXPECT_EQ(t->apply(r, why), outcome::error);
  EXPECT_NE(why.find("not JSON"), std::string::npos) << why;
  r = msg("[1, 2]");
  EXPECT_EQ(t->apply(r, why), outcome::error);
  EXPECT_NE(why.find("array"), std::string::npos) << why;
}

TEST(Transform, RulesOnMetadataOnlyDoNotNeedAJsonPayload) {
  auto t = compile(
      json::parse(R"j({"map": [{"inputs": ["$metadata.topic"], "output": "$metadata.user_property.origin_topic"}]})j"));
  auto r = msg("raw bytes", "a/b");
  std::string why;
  EXPECT_EQ(t->apply(r, why), outcome::pass) << why;
  EXPECT_EQ(r.payload, "raw bytes");
  ASSERT_EQ(r.properties.size(), 1u);
  EXPECT_EQ(r.properties[0], (std::pair<std::string, std::string>("origin_topic", "a/b")));
}

TEST(Transform, EvaluationErrorsAndNonBooleanFiltersAreErrors) {
  auto t = compile(json::parse(R"j({"filter": [{"inputs": ["temperature"], "expression": "$1 <= 20"}]})j"));
  auto r = msg(R"j({"temperature": "warm"})j");
  std::string why;
  EXPECT_EQ(t->apply(r, why), outcome::error);
  EXPECT_NE(why.find(base + "/filter/0"), std::string::npos) << why;
  t = compile(json::parse(R"j({"filter": [{"inputs": ["temperature"], "expression": "$1"}]})j"));
  EXPECT_EQ(t->apply(r, why), outcome::error);
  EXPECT_NE(why.find("not true or false"), std::string::npos) << why;
}

TEST(Transform, MapRenameRestructureComputeKeepsOnlyMappedFields) {
  auto t = compile(json::parse(R"j({"map": [
      {"inputs": ["BirthDate"], "output": "Employee.DateOfBirth"},
      {"inputs": ["Name"], "output": "Employee.Name"},
      {"inputs": ["Position", "Office"], "output": "Employment.Position", "expression": "$1 + \", \" + $2"},
      {"inputs": ["temperature"], "output": "TemperatureF", "expression": "cToF($1)", "type": "Compute"}]})j"));
  auto r = msg(R"j({"Name": "Grace Owens", "Place of birth": "London, TX", "BirthDate": "19840202",
                   "Position": "Analyst", "Office": "Kent, WA", "temperature": 100})j");
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"Employee": {"DateOfBirth": "19840202", "Name": "Grace Owens"},
      "Employment": {"Position": "Analyst, Kent, WA"}, "TemperatureF": 212.0})j"));
}

TEST(Transform, MapMissingInputSkipsTheRuleButEmptyIsPassedToExpressions) {
  auto t = compile(json::parse(R"j({"map": [
      {"inputs": ["a"], "output": "A"},
      {"inputs": ["b"], "output": "B", "expression": "$1 * 2"},
      {"inputs": ["BaseSalary", "fallback"], "output": "BaseSalary", "expression": "if($1 == (), $2, $1)"}]})j"));
  auto r = msg(R"j({"fallback": 43000})j");
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"BaseSalary": 43000})j"));
  r = msg(R"j({"a": 1, "b": 2, "BaseSalary": 70000, "fallback": 43000})j");
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"A": 1, "B": 4.0, "BaseSalary": 70000})j"));
}

TEST(Transform, MapLastKnownValue) {
  auto t = compile(json::parse(R"j({"map": [
      {"inputs": ["Temperature ? $last"], "output": "Thermostat.Temperature"},
      {"inputs": ["Humidity"], "output": "Thermostat.Humidity"}]})j"));
  auto r = msg(R"j({"Temperature": 21, "Humidity": 40})j");
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"Thermostat": {"Temperature": 21, "Humidity": 40}})j"));
  r = msg(R"j({"Humidity": 41})j");
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"Thermostat": {"Temperature": 21, "Humidity": 41}})j"));
}

TEST(Transform, EscapedPathsReadAndWrite) {
  auto t = compile(json::parse(R"j({"map": [{"inputs": ["Payload.\"Tag.10\".Value"], "output": "\"tag.10\""}]})j"));
  auto r = msg(R"j({"Payload": {"Tag.10": {"Value": 7}}})j");
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"tag.10": 7})j"));
}

TEST(Transform, WildcardPassThroughOverrideAndRemoval) {
  auto t = compile(json::parse(R"j({"map": [
      {"inputs": ["*"], "output": "*"},
      {"inputs": ["temperature"], "output": "temperature", "expression": "cToF($1)"},
      {"inputs": ["password", "internal_id"], "output": ""}]})j"));
  auto r = msg(R"j({"temperature": 0, "password": "s3cret", "internal_id": 4, "site": {"line": 3}, "tags": [1, 2]})j");
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"temperature": 32.0, "site": {"line": 3}, "tags": [1, 2]})j"));
}

TEST(Transform, PrefixWildcardsFlattenAndRestructure) {
  auto t = compile(json::parse(R"j({"map": [
      {"inputs": ["ColorProperties.*"], "output": "*"},
      {"inputs": ["TextureProperties.*"], "output": "*"}]})j"));
  auto r = msg(R"j({"ColorProperties": {"Hue": "blue", "Saturation": "90%"},
                   "TextureProperties": {"type": "fabric", "Pattern": "knitted"}, "Other": 1})j");
  EXPECT_EQ(pass(*t, r),
            ojson::parse(R"j({"Hue": "blue", "Saturation": "90%", "type": "fabric", "Pattern": "knitted"})j"));
  t = compile(json::parse(R"j({"map": [{"inputs": ["*"], "output": "Telemetry.*"}]})j"));
  r = msg(R"j({"a": 1, "b": {"c": 2}})j");
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"Telemetry": {"a": 1, "b": {"c": 2}}})j"));
}

TEST(Transform, MultiInputWildcardsShareTheCapture) {
  auto t = compile(json::parse(R"j({"map": [
      {"inputs": ["*.Max", "*.Min"], "output": "ColorProperties.*", "expression": "($1 + $2) / 2"}]})j"));
  auto r = msg(R"j({"Saturation": {"Max": 0.4, "Min": 0.6}, "Brightness": {"Max": 0.8, "Min": 1.0},
                   "Opacity": {"Max": 0.9}})j");
  // Opacity has no Min: that capture is skipped.
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"ColorProperties": {"Saturation": 0.5, "Brightness": 0.9}})j"));
}

TEST(Transform, RemovalSpecializesAnEarlierWildcardRule) {
  auto t = compile(json::parse(R"j({"map": [
      {"inputs": ["*.Max", "*.Min"], "output": "ColorProperties.*", "expression": "($1 + $2) / 2"},
      {"inputs": ["Opacity.Max", "Opacity.Min"], "output": ""}]})j"));
  auto r = msg(R"j({"Saturation": {"Max": 0.4, "Min": 0.6}, "Opacity": {"Max": 0.9, "Min": 0.1}})j");
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"ColorProperties": {"Saturation": 0.5}})j"));
}

TEST(Transform, MetadataInAndOut) {
  auto t = compile(json::parse(R"j({"map": [
      {"inputs": ["*"], "output": "*"},
      {"inputs": ["$metadata.topic"], "output": "origin_topic"},
      {"inputs": ["$metadata.user_property.priority"], "output": "priority"},
      {"inputs": ["region"], "output": "$metadata.user_property.region"},
      {"inputs": ["$metadata.user_property.secret"], "output": ""},
      {"inputs": ["site", "region"], "output": "$metadata.topic", "expression": "$1 + \"/\" + $2"}]})j"));
  auto r = msg(R"j({"site": "plant1", "region": "west", "v": 1})j", "in/topic");
  r.properties = {{"priority", "high"}, {"region", "old"}, {"secret", "x"}};
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"site": "plant1", "region": "west", "v": 1, "origin_topic": "in/topic",
                                         "priority": "high"})j"));
  EXPECT_EQ(r.topic, "plant1/west");
  EXPECT_EQ(r.properties, (user_properties{{"priority", "high"}, {"region", "west"}}));
}

TEST(Transform, AnEmptyResultRemovesAMetadataFieldAndWritesNoPayloadField) {
  auto t = compile(json::parse(R"j({"map": [
      {"inputs": ["x", "y"], "output": "$metadata.user_property.priority", "expression": "if($1 == (), $2, $1)"},
      {"inputs": ["x", "y"], "output": "$metadata.system_property.content_type", "expression": "if($1 == (), $2, $1)"},
      {"inputs": ["x", "y"], "output": "out", "expression": "if($1 == (), $2, $1)"},
      {"inputs": ["z"], "output": "z"}]})j"));
  auto r = msg(R"j({"z": 1})j");
  r.properties = {{"priority", "high"}, {"keep", "me"}};
  r.content_type = "application/json";
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"z": 1})j"));
  EXPECT_EQ(r.properties, (user_properties{{"keep", "me"}}));
  EXPECT_FALSE(r.content_type);
}

TEST(Transform, AMapErrorLeavesTheRecordAsItCame) {
  auto t = compile(json::parse(R"j({"map": [
      {"inputs": ["site"], "output": "$metadata.user_property.site"},
      {"inputs": ["site"], "output": "$metadata.topic"},
      {"inputs": ["n"], "output": "twice", "expression": "$1 * 2"}]})j"));
  auto r = msg(R"j({"site": "plant1", "n": "not a number"})j", "in/topic");
  std::string why;
  EXPECT_EQ(t->apply(r, why), outcome::error);
  EXPECT_NE(why.find(base + "/map/2"), std::string::npos) << why;
  EXPECT_EQ(r.topic, "in/topic");
  EXPECT_TRUE(r.properties.empty());
  EXPECT_EQ(r.payload, R"j({"site": "plant1", "n": "not a number"})j");
}

TEST(Transform, StagesRunEnrichFilterMapWhateverTheListingOrder) {
  // The filter reads `temperature`, which the map removes: it still sees the source's field.
  auto t =
      compile(json::parse(R"j({"map": [{"inputs": ["temperature"], "output": "TemperatureF", "expression": "cToF($1)"}],
                                   "filter": [{"inputs": ["temperature"], "expression": "$1 <= 20"}]})j"));
  EXPECT_EQ(run(*t, R"j({"temperature": 10})j"), outcome::dropped);
  auto r = msg(R"j({"temperature": 100})j");
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"TemperatureF": 212.0})j"));
}

TEST(Transform, CompileProblemsCarryTheirPointers) {
  const auto has = [](const problems& p, const std::string& path, const std::string& text) {
    for (const auto& x : p)
      if (x.path == path && x.message.find(text) != std::string::npos) return true;
    std::string all;
    for (const auto& x : p) all += x.path + ": " + x.message + "\n";
    ADD_FAILURE() << "no problem at " << path << " with '" << text << "' in:\n" << all;
    return false;
  };
  auto p = compile_problems(json::parse(R"j({"map": [{"inputs": ["a"], "output": "b", "expression": "nonsense("}]})j"));
  has(p, base + "/map/0/expression", "invalid expression");
  p = compile_problems(json::parse(R"j({"filter": [{"inputs": ["a"]}], "mapping": []})j"));
  has(p, base + "/filter/0/expression", "needs an expression");
  has(p, base + "/mapping", "unknown setting");
  p = compile_problems(json::parse(R"j({"map": [{"inputs": ["$context(nope).x"], "output": "x"}]})j"));
  has(p, base + "/map/0/inputs/0", "no dataset named 'nope'");
  p = compile_problems(json::parse(R"j({"map": [{"inputs": ["a.*"], "output": "b"}]})j"));
  has(p, base + "/map/0/output", "wildcard output");
  p = compile_problems(json::parse(R"j({"map": [{"inputs": ["a", "b"], "output": "c"}]})j"));
  has(p, base + "/map/0/expression", "several inputs");
  p = compile_problems(json::parse(R"j({"map": [{"inputs": ["a..b"], "output": "c"}]})j"));
  has(p, base + "/map/0/inputs/0", "empty segment");
  p = compile_problems(json::parse(R"j({"map": [{"inputs": ["a"], "output": "", "expression": "$1"}]})j"));
  has(p, base + "/map/0/expression", "removal rule");
  p = compile_problems(json::parse(R"j({"serializationFormat": "Parquet"})j"));
  has(p, base + "/serializationFormat", "only Json");
  p = compile_problems(json::parse(R"j({"filter": [{"inputs": ["*"], "expression": "$1"}]})j"));
  has(p, base + "/filter/0/inputs/0", "wildcards are for map rules");
}

TEST(Transform, WithoutADatasetCacheDatasetsMatchNothing) {
  // A validation-only compile (or a broker without the state store) has no cache.
  auto t = compile(
      json::parse(R"j({"datasets": [{"key": "k", "inputs": ["$source.a", "$context(k).a"], "expression": "$1 == $2"}],
      "map": [{"inputs": ["a"], "output": "a"}, {"inputs": ["$context(k).b"], "output": "b"}]})j"));
  ASSERT_TRUE(t);
  auto r = msg(R"j({"a": 1})j");
  EXPECT_EQ(pass(*t, r), ojson::parse(R"j({"a": 1})j"));
}

}  // namespace
}  // namespace edgemq::dataflow
