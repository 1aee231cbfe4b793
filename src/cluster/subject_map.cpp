#include "cluster/subject_map.hpp"

namespace edgemq::cluster {

namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

void put_escaped(std::string& out, unsigned char c) {
  out += '%';
  out += hex_digits[c >> 4];
  out += hex_digits[c & 0xF];
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool subject_special(unsigned char c) {
  return c == '%' || c == '.' || c == '*' || c == '>' || c <= 0x20 || c == 0x7F;
}

void put_level(std::string& out, std::string_view level) {
  if (level.empty()) {
    out += '%';
    return;
  }
  for (unsigned char c : level) {
    if (subject_special(c))
      put_escaped(out, c);
    else
      out += static_cast<char>(c);
  }
}

// Decodes %XX sequences; nullopt for a malformed one.
std::optional<std::string> unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

template <class F>
void for_each_level(std::string_view s, F&& f) {
  std::size_t start = 0;
  while (true) {
    const auto slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      f(s.substr(start), true);
      return;
    }
    f(s.substr(start, slash - start), false);
    start = slash + 1;
  }
}

}  // namespace

std::string topic_to_subject(std::string_view topic) {
  std::string out(subject_prefix);
  out.reserve(topic.size() + 8);
  for_each_level(topic, [&](std::string_view level, bool) {
    out += '.';
    put_level(out, level);
  });
  return out;
}

std::optional<std::string> subject_to_topic(std::string_view subject) {
  if (!subject.starts_with(subject_prefix) || subject.size() <= subject_prefix.size() + 1 ||
      subject[subject_prefix.size()] != '.')
    return std::nullopt;
  subject.remove_prefix(subject_prefix.size() + 1);
  std::string topic;
  std::size_t start = 0;
  while (true) {
    const auto dot = subject.find('.', start);
    const auto token = subject.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (token.empty()) return std::nullopt;
    if (start) topic += '/';
    if (token != "%") {
      auto level = unescape(token);
      if (!level) return std::nullopt;
      topic += *level;
    }
    if (dot == std::string_view::npos) return topic;
    start = dot + 1;
  }
}

std::vector<std::string> filter_to_subjects(std::string_view filter) {
  std::string out(subject_prefix);
  bool hash = false;
  for_each_level(filter, [&](std::string_view level, bool last) {
    if (level == "#" && last) {
      hash = true;
      return;
    }
    out += '.';
    if (level == "+")
      out += '*';
    else
      put_level(out, level);
  });
  if (!hash) return {out};
  if (out.size() == subject_prefix.size()) return {out + ".>"};  // "#" alone: every topic
  return {out, out + ".>"};
}

std::string queue_name(std::string_view share_name, std::string_view filter) {
  // Kept: letters, digits and "-_/+#"; the rest (':' included, the separator) as %XX.
  const auto put = [](std::string& out, std::string_view s) {
    for (unsigned char c : s) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '_' || c == '/' || c == '+' || c == '#';
      if (plain)
        out += static_cast<char>(c);
      else
        put_escaped(out, c);
    }
  };
  std::string out = "mqtt:";
  put(out, share_name);
  out += ':';
  put(out, filter);
  return out;
}

}  // namespace edgemq::cluster
