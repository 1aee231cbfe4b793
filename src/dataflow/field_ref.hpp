// The field references of a BuiltInTransformation rule ("temperature", "Payload.\"Tag.10\".Value",
// "$metadata.user_property.priority", "$context(asset).location", "ColorProperties.*",
// "temperature ? $last"), parsed once at compile time. The path grammar is AIO's: dots separate
// segments; a segment that starts with a double quote runs to the next double quote (dots inside
// are part of the name); every other character is part of the name.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::dataflow {

using field_path = std::vector<std::string>;

struct field_ref {
  enum class kind { payload, topic, user_property, content_type, context };
  kind what = kind::payload;
  std::string dataset;              // context: the dataset's name ($context(name)); empty for `$context.X`
  field_path path;                  // payload/context: the segments; user_property: {name}
  std::optional<std::size_t> star;  // index in `path` of the `*` segment
  bool last = false;                // "? $last": the last known value stands in for a missing one

  bool wildcard() const { return star.has_value(); }
};

// Splits a dotted path; nullopt (and `error`) for an empty segment, an unclosed quote, text after
// a closing quote, or a `*` that is not a whole segment or appears twice. `star` (when given) is
// set to the index of the unquoted `*` segment.
std::optional<field_path> split_field_path(std::string_view text, std::string& error,
                                           std::optional<std::size_t>* star = nullptr);

// Parses an input or output reference. `$source.X` is the message's field X (as a plain X).
std::optional<field_ref> parse_field_ref(std::string_view text, std::string& error);

// The path back in AIO's notation (quotes where a segment needs them), for messages.
std::string to_string(const field_path& p);

}  // namespace edgemq::dataflow
