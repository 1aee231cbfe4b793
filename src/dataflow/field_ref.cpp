#include "dataflow/field_ref.hpp"

#include <algorithm>
#include <cctype>

namespace edgemq::dataflow {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// "temperature ? $last" (case-insensitive, any spaces): strips the suffix and says so.
bool strip_last(std::string_view& text) {
  const auto q = text.rfind('?');
  if (q == std::string_view::npos) return false;
  if (!iequals(trim(text.substr(q + 1)), "$last")) return false;
  text = trim(text.substr(0, q));
  return true;
}

}  // namespace

std::optional<field_path> split_field_path(std::string_view text, std::string& error,
                                           std::optional<std::size_t>* star) {
  field_path out;
  std::size_t i = 0;
  bool starred = false;
  for (;;) {
    std::string seg;
    bool quoted = false;
    if (i < text.size() && text[i] == '"') {
      const auto close = text.find('"', i + 1);
      if (close == std::string_view::npos) {
        error = "unclosed double quote in '" + std::string(text) + "'";
        return std::nullopt;
      }
      seg = std::string(text.substr(i + 1, close - i - 1));
      i = close + 1;
      quoted = true;
      if (i < text.size() && text[i] != '.') {
        error = "a quoted segment must end at a dot in '" + std::string(text) + "'";
        return std::nullopt;
      }
    } else {
      const auto dot = std::min(text.find('.', i), text.size());
      seg = std::string(text.substr(i, dot - i));
      i = dot;
    }
    if (seg.empty()) {
      error = "empty segment in '" + std::string(text) + "'";
      return std::nullopt;
    }
    if (!quoted && seg.find('*') != std::string::npos) {
      if (seg != "*") {
        error = "a wildcard must be a whole segment ('a.*.b', not 'a*') in '" + std::string(text) + "'";
        return std::nullopt;
      }
      if (starred) {
        error = "only one wildcard is allowed in '" + std::string(text) + "'";
        return std::nullopt;
      }
      starred = true;
      if (star) *star = out.size();
    }
    out.push_back(std::move(seg));
    if (i >= text.size()) return out;
    ++i;  // the dot
    if (i >= text.size()) {
      error = "empty segment in '" + std::string(text) + "'";
      return std::nullopt;
    }
  }
}

std::optional<field_ref> parse_field_ref(std::string_view text, std::string& error) {
  field_ref r;
  text = trim(text);
  r.last = strip_last(text);
  if (text.empty()) {
    error = "empty field reference";
    return std::nullopt;
  }
  const auto after = [&](std::string_view prefix) { return text.substr(prefix.size()); };
  std::string_view path_text = text;
  if (text.starts_with("$source.")) {
    path_text = after("$source.");
  } else if (text.starts_with("$metadata.")) {
    const auto rest = after("$metadata.");
    if (rest == "topic") {
      r.what = field_ref::kind::topic;
      return r;
    }
    if (rest == "system_property.content_type") {
      r.what = field_ref::kind::content_type;
      return r;
    }
    if (rest.starts_with("user_property.")) {
      auto name = split_field_path(rest.substr(std::string_view("user_property.").size()), error);
      if (!name) return std::nullopt;
      if (name->size() != 1 || (*name)[0] == "*") {
        error = "'" + std::string(text) + "': a user property is one name (quote it if it has dots)";
        return std::nullopt;
      }
      r.what = field_ref::kind::user_property;
      r.path = std::move(*name);
      return r;
    }
    error = "'" + std::string(text) +
            "': supported metadata is $metadata.topic, $metadata.user_property.<name> and "
            "$metadata.system_property.content_type";
    return std::nullopt;
  } else if (text.starts_with("$context")) {
    r.what = field_ref::kind::context;
    auto rest = after("$context");
    if (rest.starts_with("(")) {
      const auto close = rest.find(')');
      if (close == std::string_view::npos || close == 1) {
        error = "'" + std::string(text) + "': expected $context(<dataset>).<field>";
        return std::nullopt;
      }
      r.dataset = std::string(trim(rest.substr(1, close - 1)));
      rest = rest.substr(close + 1);
    }
    if (!rest.starts_with(".") || rest.size() < 2) {
      error = "'" + std::string(text) + "': expected $context(<dataset>).<field>";
      return std::nullopt;
    }
    path_text = rest.substr(1);
  } else if (text.starts_with("$")) {
    error = "'" + std::string(text) + "': unknown reference (use a field path, $source., $metadata. or $context(...).)";
    return std::nullopt;
  }
  auto p = split_field_path(path_text, error, &r.star);
  if (!p) return std::nullopt;
  r.path = std::move(*p);
  return r;
}

std::string to_string(const field_path& p) {
  std::string out;
  for (const auto& seg : p) {
    if (!out.empty()) out += '.';
    if (seg.find('.') != std::string::npos || seg.starts_with("\""))
      out += '"' + seg + '"';
    else
      out += seg;
  }
  return out;
}

}  // namespace edgemq::dataflow
