// Enrichment: datasets are JSON Lines under a state store key, matched per message against the
// dataset's expression, cached and followed through the store's change notifications (no read
// per message). With a fake source, then with the real state store engine: a changed dataset
// applies within a second. Also the reference's example transformation (section 5).
#include "dataflow/datasets.hpp"

#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "fake_expressions.hpp"
#include "statestore/engine.hpp"

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using outcome = transform::outcome;

// A source whose keys the test sets; counts watches (a read per message would show as more).
class fake_source final : public dataset_source {
 public:
  std::shared_ptr<void> watch(const std::string& key,
                              std::function<void(std::optional<std::string>)> changed) override {
    ++watches;
    auto cb = std::make_shared<std::function<void(std::optional<std::string>)>>(std::move(changed));
    callbacks[key] = cb;
    (*cb)(values.contains(key) ? std::optional<std::string>(values[key]) : std::nullopt);
    return std::shared_ptr<void>(nullptr, [this, key](void*) {
      callbacks.erase(key);
      ++unwatched;
    });
  }
  void set(const std::string& key, std::optional<std::string> v) {
    if (v)
      values[key] = *v;
    else
      values.erase(key);
    if (auto it = callbacks.find(key); it != callbacks.end()) (*it->second)(v);
  }
  std::map<std::string, std::string> values;
  std::map<std::string, std::shared_ptr<std::function<void(std::optional<std::string>)>>> callbacks;
  int watches = 0;
  int unwatched = 0;
};

const std::string base = "/spec/operations/1/builtInTransformationSettings";

// The reference's example (aio-broker-and-dataflows.md section 5), as JSON.
const json reference_settings = json::parse(R"j({
  "datasets": [{"key": "assetDataset", "inputs": ["$source.deviceId", "$context(assetDataset).asset"],
                "expression": "$1 == $2"}],
  "filter": [{"inputs": ["temperature"], "expression": "$1 <= 20"}],
  "map": [{"inputs": ["temperature"], "output": "TemperatureF", "expression": "cToF($1)"},
          {"inputs": ["$context(assetDataset).location"], "output": "Location"}],
  "serializationFormat": "Json"})j");

std::unique_ptr<transform> compile(const json& settings, std::shared_ptr<dataset_cache> cache) {
  problems p;
  auto t = compile_transform_with(settings, base, p, std::move(cache), testing::fake_compile);
  for (const auto& x : p) ADD_FAILURE() << x.path << ": " << x.message;
  return t;
}

ojson apply_ok(transform& t, const std::string& payload) {
  record r;
  r.topic = "thermostats/t1/telemetry/temperature";
  r.payload = payload;
  std::string why;
  EXPECT_EQ(t.apply(r, why), outcome::pass) << why;
  return ojson::parse(r.payload);
}

TEST(Datasets, JsonLinesSkipBlankAndCountBadLines) {
  std::size_t bad = 0;
  auto recs = dataset_cache::parse("{\"a\": 1}\n\n  \r\nnot json\n[1]\n{\"a\": 2}\r\n", bad);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["a"], 1);
  EXPECT_EQ(recs[1]["a"], 2);
  EXPECT_EQ(bad, 2u);
}

TEST(Datasets, ReferenceExampleTransformation) {
  auto src = std::make_shared<fake_source>();
  src->values["assetDataset"] =
      "{\"asset\": \"thermostat-1\", \"location\": \"Hall 1\"}\n{\"asset\": \"thermostat-2\", \"location\": \"Hall "
      "2\"}\n";
  auto cache = std::make_shared<dataset_cache>(src);
  auto t = compile(reference_settings, cache);
  ASSERT_TRUE(t);
  EXPECT_EQ(apply_ok(*t, R"j({"deviceId": "thermostat-2", "temperature": 25})j"),
            ojson::parse(R"j({"TemperatureF": 77.0, "Location": "Hall 2"})j"));
  record cold;
  cold.payload = R"j({"deviceId": "thermostat-1", "temperature": 20})j";
  std::string why;
  EXPECT_EQ(t->apply(cold, why), outcome::dropped);
  // No matching record: the rule reading it is skipped, the rest applies.
  EXPECT_EQ(apply_ok(*t, R"j({"deviceId": "thermostat-9", "temperature": 30})j"),
            ojson::parse(R"j({"TemperatureF": 86.0})j"));
  // A changed dataset applies to the next message, through the one watch taken at compile time.
  src->set("assetDataset", "{\"asset\": \"thermostat-2\", \"location\": \"Hall 7\"}");
  EXPECT_EQ(apply_ok(*t, R"j({"deviceId": "thermostat-2", "temperature": 25})j"),
            ojson::parse(R"j({"TemperatureF": 77.0, "Location": "Hall 7"})j"));
  EXPECT_EQ(src->watches, 1);
  // A deleted dataset matches nothing.
  src->set("assetDataset", std::nullopt);
  EXPECT_EQ(apply_ok(*t, R"j({"deviceId": "thermostat-2", "temperature": 25})j"),
            ojson::parse(R"j({"TemperatureF": 77.0})j"));
  const auto st = cache->status().at("assetDataset");
  EXPECT_TRUE(st.loaded);
  EXPECT_EQ(st.records, 0u);
  EXPECT_EQ(st.updates, 3u);
}

TEST(Datasets, FirstMatchingRecordWins) {
  auto src = std::make_shared<fake_source>();
  src->values["k"] = "{\"id\": 1, \"v\": \"first\"}\n{\"id\": 1, \"v\": \"second\"}\n";
  auto t =
      compile(json::parse(R"j({"datasets": [{"key": "k", "inputs": ["id", "$context(k).id"], "expression": "$1 == $2"}],
      "map": [{"inputs": ["$context(k).v"], "output": "v"}]})j"),
              std::make_shared<dataset_cache>(src));
  EXPECT_EQ(apply_ok(*t, R"j({"id": 1})j"), ojson::parse(R"j({"v": "first"})j"));
}

TEST(Datasets, AliasOwnContextFormsAndWildcards) {
  auto src = std::make_shared<fake_source>();
  src->values["datasets.parag10.rule42"] =
      "{\"Position\": \"Analyst\", \"BaseSalary\": 70000, \"WorkingHours\": \"Regular\"}\n"
      "{\"Position\": \"Receptionist\", \"BaseSalary\": 43000, \"WorkingHours\": \"Regular\"}\n";
  auto t = compile(json::parse(R"j({
      "datasets": [{"key": "datasets.parag10.rule42 as position",
                    "inputs": ["$source.Position", "$context.Position"], "expression": "$1 == $2"}],
      "map": [{"inputs": ["Name"], "output": "Name"},
              {"inputs": ["$context(position).*"], "output": "Employment.*"},
              {"inputs": ["BaseSalary", "$context(position).BaseSalary"], "output": "Employment.BaseSalary",
               "expression": "if($1 == (), $2, $1)"}]})j"),
                   std::make_shared<dataset_cache>(src));
  ASSERT_TRUE(t);
  EXPECT_EQ(apply_ok(*t, R"j({"Name": "Grace", "Position": "Receptionist"})j"),
            ojson::parse(R"j({"Name": "Grace", "Employment": {"Position": "Receptionist", "BaseSalary": 43000,
                                                              "WorkingHours": "Regular"}})j"));
  EXPECT_EQ(apply_ok(*t, R"j({"Name": "Ann", "Position": "Analyst", "BaseSalary": 80000})j"),
            ojson::parse(R"j({"Name": "Ann", "Employment": {"Position": "Analyst", "BaseSalary": 80000,
                                                            "WorkingHours": "Regular"}})j"));
}

TEST(Datasets, OneWatchPerKeyAndUnwatchedWithTheCache) {
  auto src = std::make_shared<fake_source>();
  {
    auto cache = std::make_shared<dataset_cache>(src);
    auto a = compile(reference_settings, cache);
    auto b = compile(reference_settings, cache);
    EXPECT_EQ(src->watches, 1);
    EXPECT_TRUE(cache->get("assetDataset"));  // absent key: loaded, empty
    EXPECT_TRUE(cache->get("assetDataset")->empty());
  }
  EXPECT_EQ(src->unwatched, 1);
}

TEST(Datasets, DatasetProblemsCarryTheirPointers) {
  auto cache = std::make_shared<dataset_cache>(std::make_shared<fake_source>());
  problems p;
  compile_transform_with(json::parse(R"j({"datasets": [
      {"key": "a", "inputs": ["$source.x", "$context(b).x"], "expression": "$1 == $2"},
      {"inputs": ["x"]},
      {"key": "c", "inputs": ["x ? $last"]},
      {"key": "d as e", "inputs": ["x"], "expression": "nonsense"}]})j"),
                         base, p, cache, testing::fake_compile);
  std::string all;
  for (const auto& x : p) all += x.path + ": " + x.message + "\n";
  EXPECT_NE(all.find(base + "/datasets/0/inputs/1: a dataset's inputs read"), std::string::npos) << all;
  EXPECT_NE(all.find(base + "/datasets/1/key: key"), std::string::npos) << all;
  EXPECT_NE(all.find(base + "/datasets/2/inputs/0: '? $last'"), std::string::npos) << all;
  EXPECT_NE(all.find(base + "/datasets/3/expression: invalid expression"), std::string::npos) << all;
}

// The real state store: the cache follows the key through engine::watch; a SET reaches the
// transformation within a second, and the engine is read once (the watch), not per message.
TEST(Datasets, StateStoreChangesApplyWithinASecond) {
  broker::broker core{broker::limits{}};
  statestore::engine eng{core, std::make_unique<statestore::memory_backend>(), statestore::service_limits{}, nullptr};
  eng.start();
  const auto put = [&](const std::string& key, const std::string& value) {
    statestore::engine::operator_request r;
    r.op = statestore::engine::operator_request::verb::put;
    r.key = key;
    r.value = value;
    std::promise<void> done;
    eng.submit(std::move(r), [&done](statestore::engine::operator_reply) { done.set_value(); });
    done.get_future().get();
  };
  put("assetDataset", "{\"asset\": \"thermostat-1\", \"location\": \"Hall 1\"}\n");
  {
    auto cache = std::make_shared<dataset_cache>(statestore_dataset_source(eng));
    auto t = compile(reference_settings, cache);
    ASSERT_TRUE(t);
    const auto location_within = [&](const std::string& want, std::chrono::milliseconds limit) {
      const auto deadline = std::chrono::steady_clock::now() + limit;
      for (;;) {
        auto out = apply_ok(*t, R"j({"deviceId": "thermostat-1", "temperature": 25})j");
        if (out.value("Location", "") == want) return true;
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll the condition
      }
    };
    EXPECT_TRUE(location_within("Hall 1", std::chrono::seconds(1)));
    const auto retrievals = eng.stats().retrievals;
    put("assetDataset", "{\"asset\": \"thermostat-1\", \"location\": \"Hall 9\"}\n");
    EXPECT_TRUE(location_within("Hall 9", std::chrono::seconds(1)));
    EXPECT_EQ(eng.stats().retrievals, retrievals);  // no GET per message
  }
  eng.stop();
}

}  // namespace
}  // namespace edgemq::dataflow
