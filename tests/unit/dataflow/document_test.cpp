#include "dataflow/document.hpp"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;

std::vector<json> parse(const std::string& text, text_format f) {
  std::vector<json> docs;
  std::string error;
  EXPECT_TRUE(parse_documents(text, f, docs, error)) << error;
  return docs;
}

TEST(DataflowDocument, YamlScalarsBecomeJsonTypes) {
  const auto j = yaml_to_json(
      "int: 42\nneg: -7\nhex: 0x1F\noct: 0o17\nfloat: 1.5\nexp: 2e3\nyes_bool: true\nno_bool: False\n"
      "nul: ~\nnul2: null\nempty:\nquoted_int: \"42\"\nsingle: 'true'\ntagged: !!str 3\nword: Enabled\n"
      "version: 1.2.3\ninf: .inf\nbig: 18446744073709551615\n");
  EXPECT_EQ(j["int"], json(42));
  EXPECT_TRUE(j["int"].is_number_integer());
  EXPECT_EQ(j["neg"], json(-7));
  EXPECT_EQ(j["hex"], json(31));
  EXPECT_EQ(j["oct"], json(15));
  EXPECT_TRUE(j["float"].is_number_float());
  EXPECT_DOUBLE_EQ(j["float"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j["exp"].get<double>(), 2000.0);
  EXPECT_EQ(j["yes_bool"], json(true));
  EXPECT_EQ(j["no_bool"], json(false));
  EXPECT_TRUE(j["nul"].is_null());
  EXPECT_TRUE(j["nul2"].is_null());
  EXPECT_TRUE(j["empty"].is_null());
  EXPECT_EQ(j["quoted_int"], json("42"));
  EXPECT_EQ(j["single"], json("true"));
  EXPECT_EQ(j["tagged"], json("3"));
  EXPECT_EQ(j["word"], json("Enabled"));
  EXPECT_EQ(j["version"], json("1.2.3"));
  EXPECT_EQ(j["inf"], json(".inf"));  // no JSON form: stays text
  EXPECT_EQ(j["big"].get<std::uint64_t>(), 18446744073709551615ULL);
}

TEST(DataflowDocument, YamlFlowAndBlockCollections) {
  const auto j = yaml_to_json("a: [1, \"x\", {b: 2}]\nc:\n  - d: e\n  - 3\n");
  EXPECT_EQ(j, json::parse(R"({"a":[1,"x",{"b":2}],"c":[{"d":"e"},3]})"));
}

TEST(DataflowDocument, YamlMultipleDocumentsSkipEmptyOnes) {
  const auto docs = parse("---\na: 1\n---\n---\nb: 2\n...\n", text_format::yaml);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0], json({{"a", 1}}));
  EXPECT_EQ(docs[1], json({{"b", 2}}));
}

TEST(DataflowDocument, JsonArrayAndConcatenatedObjects) {
  auto docs = parse(R"([{"a":1},{"b":2}])", text_format::json);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[1], json({{"b", 2}}));
  docs = parse("{\"a\":1}\n{\"b\":2} {\"c\":3}\n", text_format::json);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[2], json({{"c", 3}}));
  EXPECT_TRUE(parse("  \n", text_format::json).empty());
}

TEST(DataflowDocument, SyntaxErrorsSayWhere) {
  std::vector<json> docs;
  std::string error;
  EXPECT_FALSE(parse_documents("a: [1, 2\nb: 3\n", text_format::yaml, docs, error));
  EXPECT_NE(error.find("line"), std::string::npos) << error;
  EXPECT_FALSE(parse_documents("{\"a\": 1} {\"b\": }", text_format::json, docs, error));
  EXPECT_NE(error.find("JSON syntax error"), std::string::npos) << error;
}

TEST(DataflowDocument, DeepNestingIsRefused) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  std::vector<json> docs;
  std::string error;
  EXPECT_FALSE(parse_documents("a: " + deep + "\n", text_format::yaml, docs, error));
  EXPECT_NE(error.find("64 levels"), std::string::npos) << error;
}

// Aliases are expanded: nine levels of ten aliases each would be 10^9 values.
TEST(DataflowDocument, AliasBombIsRefused) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    const auto prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += (k ? ", " : "") + prev;
    text += "]\n";
  }
  std::vector<json> docs;
  std::string error;
  EXPECT_FALSE(parse_documents(text, text_format::yaml, docs, error));
  EXPECT_NE(error.find("aliases expanded"), std::string::npos) << error;
  // A few aliases are fine.
  EXPECT_EQ(yaml_to_json("a: &x {b: 1}\nc: *x\n")["c"], json({{"b", 1}}));
}

TEST(DataflowDocument, FormatsByFileNameAndContentType) {
  EXPECT_EQ(format_of_file("x.yaml"), text_format::yaml);
  EXPECT_EQ(format_of_file("x.yml"), text_format::yaml);
  EXPECT_EQ(format_of_file("x.json"), text_format::json);
  EXPECT_EQ(format_of_content_type("application/yaml"), text_format::yaml);
  EXPECT_EQ(format_of_content_type("Application/X-YAML; charset=utf-8"), text_format::yaml);
  EXPECT_EQ(format_of_content_type("text/yaml"), text_format::yaml);
  EXPECT_EQ(format_of_content_type("application/json"), text_format::json);
  EXPECT_EQ(format_of_content_type(""), text_format::json);
  EXPECT_TRUE(is_definition_file("a.json"));
  EXPECT_TRUE(is_definition_file("a.yml"));
  EXPECT_FALSE(is_definition_file("a.txt"));
  EXPECT_FALSE(is_definition_file("a.json~"));
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_TRUE(in.good() || in.eof()) << path;
  return ss.str();
}

// The reference's example in YAML and its JSON conversion parse to the same documents.
TEST(DataflowDocument, ExampleYamlAndJsonAreTheSame) {
  const auto yaml = parse(read(EDGEMQ_SOURCE_DIR "/examples/dataflows/yaml/aio-example.yaml"), text_format::yaml);
  const auto js = parse(read(EDGEMQ_SOURCE_DIR "/examples/dataflows/json/aio-example.json"), text_format::json);
  ASSERT_EQ(yaml.size(), 2u);
  EXPECT_EQ(yaml, js);
  EXPECT_EQ(yaml[1]["spec"]["operations"][1]["builtInTransformationSettings"]["filter"][0]["expression"],
            json("$1 <= 20"));
}

}  // namespace
}  // namespace edgemq::dataflow
