// Field references as AIO writes them: dotted paths with double-quote escaping, $metadata,
// $context(<dataset>), $source., wildcards and "? $last".
#include "dataflow/field_ref.hpp"

#include <gtest/gtest.h>

namespace edgemq::dataflow {
namespace {

field_path split(std::string_view text) {
  std::string err;
  auto p = split_field_path(text, err);
  EXPECT_TRUE(p) << text << ": " << err;
  return p.value_or(field_path{});
}

std::string split_error(std::string_view text) {
  std::string err;
  EXPECT_FALSE(split_field_path(text, err)) << text;
  return err;
}

field_ref ref(std::string_view text) {
  std::string err;
  auto r = parse_field_ref(text, err);
  EXPECT_TRUE(r) << text << ": " << err;
  return r.value_or(field_ref{});
}

TEST(FieldRef, DottedPathsAndEscaping) {
  EXPECT_EQ(split("Person.Address.Street.Number"), (field_path{"Person", "Address", "Street", "Number"}));
  EXPECT_EQ(split("Person.Date of Birth"), (field_path{"Person", "Date of Birth"}));
  EXPECT_EQ(split("Payload.\"Tag.10\".Value"), (field_path{"Payload", "Tag.10", "Value"}));
  EXPECT_EQ(split("Payload.\"Tag.10\".Measurements.\"Vibration.$12\".Value"),
            (field_path{"Payload", "Tag.10", "Measurements", "Vibration.$12", "Value"}));
  // Quotes in the middle of a segment are part of the name, and a dot there still separates.
  EXPECT_EQ(split("Payload.He said: \"Hello\", and waved"), (field_path{"Payload", "He said: \"Hello\", and waved"}));
  EXPECT_EQ(split("Payload.He said: \"No. It is done\""), (field_path{"Payload", "He said: \"No", " It is done\""}));
  EXPECT_EQ(split("\"nsu=http://opcfoundation.org/UA/Plc/Applications;s=RandomSignedInt32\""),
            (field_path{"nsu=http://opcfoundation.org/UA/Plc/Applications;s=RandomSignedInt32"}));
}

TEST(FieldRef, BadPaths) {
  EXPECT_NE(split_error("a..b").find("empty segment"), std::string::npos);
  EXPECT_NE(split_error("a.").find("empty segment"), std::string::npos);
  EXPECT_NE(split_error("\"open.b").find("unclosed"), std::string::npos);
  EXPECT_NE(split_error("\"a\"b.c").find("quoted segment"), std::string::npos);
  EXPECT_NE(split_error("path1.partial*.path3").find("whole segment"), std::string::npos);
  EXPECT_NE(split_error("*.a.*").find("only one wildcard"), std::string::npos);
}

TEST(FieldRef, Kinds) {
  EXPECT_EQ(ref("$metadata.topic").what, field_ref::kind::topic);
  auto up = ref("$metadata.user_property.priority");
  EXPECT_EQ(up.what, field_ref::kind::user_property);
  EXPECT_EQ(up.path, (field_path{"priority"}));
  EXPECT_EQ(ref("$metadata.user_property.\"weird key.x\"").path, (field_path{"weird key.x"}));
  EXPECT_EQ(ref("$metadata.system_property.content_type").what, field_ref::kind::content_type);
  auto ctx = ref("$context(assetDataset).location");
  EXPECT_EQ(ctx.what, field_ref::kind::context);
  EXPECT_EQ(ctx.dataset, "assetDataset");
  EXPECT_EQ(ctx.path, (field_path{"location"}));
  auto own = ref("$context.Position");
  EXPECT_EQ(own.what, field_ref::kind::context);
  EXPECT_TRUE(own.dataset.empty());
  auto src = ref("$source.deviceId");
  EXPECT_EQ(src.what, field_ref::kind::payload);
  EXPECT_EQ(src.path, (field_path{"deviceId"}));
}

TEST(FieldRef, LastAndWildcards) {
  auto a = ref("temperature ? $last");
  EXPECT_TRUE(a.last);
  EXPECT_EQ(a.path, (field_path{"temperature"}));
  auto b = ref("$source.temperature?$LAST");
  EXPECT_TRUE(b.last);
  EXPECT_EQ(b.path, (field_path{"temperature"}));
  EXPECT_FALSE(ref("temperature").last);
  auto w = ref("ColorProperties.*");
  ASSERT_TRUE(w.star);
  EXPECT_EQ(*w.star, 1u);
  EXPECT_EQ(*ref("*").star, 0u);
  EXPECT_FALSE(ref("a.\"*\"").star);  // a quoted * is a field named "*"
  auto cw = ref("$context(position).*");
  EXPECT_EQ(cw.what, field_ref::kind::context);
  EXPECT_EQ(*cw.star, 0u);
}

TEST(FieldRef, UnknownReferencesAreRefused) {
  std::string err;
  EXPECT_FALSE(parse_field_ref("$metadata.qos", err));
  EXPECT_NE(err.find("$metadata.topic"), std::string::npos);
  EXPECT_FALSE(parse_field_ref("$contxt.a", err));
  EXPECT_FALSE(parse_field_ref("$context(x)", err));
  EXPECT_FALSE(parse_field_ref("$metadata.user_property.*", err));
  EXPECT_FALSE(parse_field_ref("", err));
}

}  // namespace
}  // namespace edgemq::dataflow
