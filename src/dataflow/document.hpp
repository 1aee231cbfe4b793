// Resource documents as text: JSON or YAML, one or several per file or request body, parsed into
// nlohmann::json values (YAML scalars typed as YAML 1.2's core schema types them: unquoted 42,
// 1.5, true, null are a number, a boolean and null; quoted ones stay strings).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgemq::dataflow {

enum class text_format { json, yaml };

// The format a file name says (.yaml/.yml: YAML, anything else: JSON).
text_format format_of_file(std::string_view file_name);
// The format a Content-Type says (application/yaml, application/x-yaml, text/yaml: YAML).
text_format format_of_content_type(std::string_view content_type);
// True for the file names a definitions directory loads (.json, .yaml, .yml).
bool is_definition_file(std::string_view file_name);

// Every document in `text`: YAML documents separated by `---` (empty ones skipped); in JSON a
// top-level array is a list of documents, and several values may follow one another. On a
// syntax error returns false with `error` saying where (line and column).
bool parse_documents(const std::string& text, text_format format, std::vector<nlohmann::json>& out, std::string& error);

// One YAML text to JSON (exposed for tests). Throws YAML::Exception on a syntax error and
// std::runtime_error on what JSON cannot hold (a mapping key that is not a scalar, aliases loop).
nlohmann::json yaml_to_json(const std::string& text);

}  // namespace edgemq::dataflow
