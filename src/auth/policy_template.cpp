#include "auth/policy_template.hpp"

namespace edgemq::auth {

std::optional<policy_template> policy_template::parse(std::string_view text, std::string& why) {
  static constexpr std::string_view open = "{principal.";
  policy_template t;
  std::string literal;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto at = text.find(open, i);
    if (at == std::string_view::npos) {
      literal.append(text.substr(i));
      break;
    }
    literal.append(text.substr(i, at - i));
    const auto close = text.find('}', at);
    if (close == std::string_view::npos) {
      why = "unterminated token '" + std::string(text.substr(at)) + "'";
      return std::nullopt;
    }
    const auto name = text.substr(at + open.size(), close - at - open.size());
    piece p;
    if (name == "clientId") {
      p.k = kind::client_id;
    } else if (name == "username") {
      p.k = kind::username;
    } else if (name.starts_with("attributes.") && name.size() > 11) {
      p.k = kind::attribute;
      p.text = std::string(name.substr(11));
    } else {
      why = "unknown token '" + std::string(text.substr(at, close + 1 - at)) +
            "' (known: {principal.clientId}, {principal.username}, {principal.attributes.NAME})";
      return std::nullopt;
    }
    if (!literal.empty()) t.pieces_.push_back({kind::literal, std::move(literal)});
    literal.clear();
    t.pieces_.push_back(std::move(p));
    i = close + 1;
  }
  if (!literal.empty() || t.pieces_.empty()) t.pieces_.push_back({kind::literal, std::move(literal)});
  return t;
}

std::optional<std::string> policy_template::resolve(const broker::principal& p, value_filter value) const {
  std::string out;
  for (const auto& pc : pieces_) {
    const std::string* v = nullptr;
    switch (pc.k) {
      case kind::literal:
        out += pc.text;
        continue;
      case kind::client_id:
        v = &p.client_id;
        break;
      case kind::username:
        if (p.username) v = &*p.username;
        break;
      case kind::attribute:
        if (auto it = p.attributes.find(pc.text); it != p.attributes.end()) v = &it->second;
        break;
    }
    if (!v) return std::nullopt;
    auto filtered = value(*v);
    if (!filtered) return std::nullopt;
    out += *filtered;
  }
  return out;
}

std::string policy_template::with_stand_in(std::string_view stand_in) const {
  std::string out;
  for (const auto& pc : pieces_) out += pc.k == kind::literal ? pc.text : std::string(stand_in);
  return out;
}

}  // namespace edgemq::auth
