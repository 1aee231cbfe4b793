// docs/dataflows.md documents every function the language knows ("documented in
// docs/dataflows.md with every function").
#include <fstream>
#include <sstream>

#include "expr_test_support.hpp"

namespace edgemq::dataflow::expr::test {
namespace {

TEST(ExprDocs, EveryFunctionIsDocumented) {
  std::ifstream f(std::string(EDGEMQ_SOURCE_DIR) + "/docs/dataflows.md");
  ASSERT_TRUE(f) << "docs/dataflows.md";
  std::stringstream text;
  text << f.rdbuf();
  const auto doc = text.str();
  for (const auto name : expression::function_names())
    EXPECT_NE(doc.find("`" + std::string(name) + "("), std::string::npos) << name << " is not in docs/dataflows.md";
}

}  // namespace
}  // namespace edgemq::dataflow::expr::test
