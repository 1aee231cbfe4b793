// A policy string with principal tokens: `{principal.clientId}`, `{principal.username}`,
// `{principal.attributes.NAME}` (AIO BrokerAuthorization). Parsed once when the policy loads,
// resolved once per connection at CONNECT (never on the publish path).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/principal.hpp"

namespace edgemq::auth {

class policy_template {
 public:
  enum class kind : std::uint8_t { literal, client_id, username, attribute };
  struct piece {
    kind k = kind::literal;
    std::string text;  // the literal text, or the attribute's name
  };

  // Only `{principal.` opens a token; any other `{` is literal text. An unknown or unterminated
  // token is an error (`why` says which).
  static std::optional<policy_template> parse(std::string_view text, std::string& why);
  // Text taken as it is, tokens or not (a Binary key's bytes).
  static policy_template literal(std::string text) {
    policy_template t;
    t.pieces_.push_back({kind::literal, std::move(text)});
    return t;
  }

  // The text with each token replaced by `value(principal's value)`; nullopt when the principal
  // has no such value (no username, no such attribute) or `value` refuses it (returns nullopt).
  using value_filter = std::optional<std::string> (*)(std::string_view);
  std::optional<std::string> resolve(const broker::principal& p, value_filter value) const;

  const std::vector<piece>& pieces() const noexcept { return pieces_; }
  bool has_tokens() const noexcept { return pieces_.size() != 1 || pieces_.front().k != kind::literal; }
  // The text with every token replaced by `stand_in` (to validate the template's shape).
  std::string with_stand_in(std::string_view stand_in) const;

 private:
  std::vector<piece> pieces_;
};

}  // namespace edgemq::auth
