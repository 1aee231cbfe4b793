#include "dataflow/document.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A plain (unquoted, untagged) scalar typed as YAML 1.2's core schema types it.
json plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex dec_int("[-+]?[0-9]+");
  static const std::regex oct_int("0o[0-7]+");
  static const std::regex hex_int("0x[0-9a-fA-F]+");
  static const std::regex flt(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  const auto integer = [&](std::string_view digits, int base, bool negative) -> json {
    std::uint64_t u = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
    if (ec != std::errc{} || p != digits.data() + digits.size()) return std::stod(s);  // beyond 64 bits
    if (!negative) return u;
    if (u <= static_cast<std::uint64_t>(INT64_MAX) + 1) return static_cast<std::int64_t>(0 - u);
    return -static_cast<double>(u);
  };
  if (std::regex_match(s, dec_int)) {
    std::string_view d = s;
    const bool negative = d.front() == '-';
    if (d.front() == '-' || d.front() == '+') d.remove_prefix(1);
    return integer(d, 10, negative);
  }
  if (std::regex_match(s, oct_int)) return integer(std::string_view(s).substr(2), 8, false);
  if (std::regex_match(s, hex_int)) return integer(std::string_view(s).substr(2), 16, false);
  if (std::regex_match(s, flt)) return std::stod(s);
  // .inf and .nan have no JSON form: they stay the text they are.
  return s;
}

json scalar(const YAML::Node& n) {
  const auto& tag = n.Tag();
  const auto& text = n.Scalar();
  if (tag == "?") return plain_scalar(text);
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return text;  // quoted, or !!str
  if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:bool" ||
      tag == "tag:yaml.org,2002:null") {
    auto v = plain_scalar(text);
    const bool ok = (tag.ends_with("int") && v.is_number_integer()) || (tag.ends_with("float") && v.is_number()) ||
                    (tag.ends_with("bool") && v.is_boolean()) || (tag.ends_with("null") && v.is_null());
    if (!ok) throw std::runtime_error("'" + text + "' is not a valid " + tag.substr(tag.rfind(':') + 1));
    if (tag.ends_with("float")) return v.get<double>();
    return v;
  }
  return text;  // another tag (!custom): the text
}

// Values one YAML document may expand to. Aliases are expanded, so a small text can name an
// exponential number of values ("billion laughs"); no definition comes near this.
constexpr std::size_t max_values = 200'000;

json convert(const YAML::Node& n, int depth, std::size_t& budget) {
  // Deeper than any definition needs; bounds the recursion on hostile input.
  if (depth > 64) throw std::runtime_error("nested more than 64 levels deep");
  if (budget == 0) throw std::runtime_error("more than " + std::to_string(max_values) + " values (aliases expanded)");
  --budget;
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar(n);
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& e : n) a.push_back(convert(e, depth + 1, budget));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) throw std::runtime_error("a mapping key must be a scalar");
        o[kv.first.Scalar()] = convert(kv.second, depth + 1, budget);
      }
      return o;
    }
  }
  return nullptr;
}

std::string yaml_error(const YAML::Exception& e) {
  if (e.mark.is_null()) return "YAML: " + e.msg;
  return "YAML syntax error at line " + std::to_string(e.mark.line + 1) + ", column " +
         std::to_string(e.mark.column + 1) + ": " + e.msg;
}

}  // namespace

text_format format_of_file(std::string_view file_name) {
  return ends_with(file_name, ".yaml") || ends_with(file_name, ".yml") ? text_format::yaml : text_format::json;
}

text_format format_of_content_type(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t == "application/yaml" || t == "application/x-yaml" || t == "text/yaml" || t == "text/x-yaml"
             ? text_format::yaml
             : text_format::json;
}

bool is_definition_file(std::string_view file_name) {
  return ends_with(file_name, ".json") || ends_with(file_name, ".yaml") || ends_with(file_name, ".yml");
}

json yaml_to_json(const std::string& text) {
  std::size_t budget = max_values;
  return convert(YAML::Load(text), 0, budget);
}

bool parse_documents(const std::string& text, text_format format, std::vector<json>& out, std::string& error) {
  out.clear();
  if (format == text_format::yaml) {
    try {
      for (const auto& node : YAML::LoadAll(text)) {
        if (node.IsNull()) continue;  // an empty document (a trailing or doubled ---)
        std::size_t budget = max_values;
        out.push_back(convert(node, 0, budget));
      }
    } catch (const YAML::Exception& e) {
      error = yaml_error(e);
      return false;
    } catch (const std::exception& e) {
      error = std::string("YAML: ") + e.what();
      return false;
    }
    return true;
  }
  std::istringstream in(text);
  while (true) {
    in >> std::ws;
    if (in.peek() == std::char_traits<char>::eof()) break;
    json j;
    try {
      in >> j;
    } catch (const json::exception& e) {
      error = std::string("JSON syntax error: ") + e.what();
      return false;
    }
    if (j.is_array())
      for (auto& d : j) out.push_back(std::move(d));
    else
      out.push_back(std::move(j));
  }
  return true;
}

}  // namespace edgemq::dataflow
