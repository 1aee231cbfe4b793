// An authorization policy in the shape of Azure IoT Operations' BrokerAuthorization
// `authorizationPolicies` (reference: statestore-protocol.md A.4), written as JSON:
//
//   {"rules": [{"principals": {"clientIds": [...], "usernames": [...], "attributes": [{"k": "v"}]},
//               "brokerResources": [{"method": "Connect|Publish|Subscribe", "topics": [...],
//                                    "clientIds": [...]}],
//               "stateStoreResources": [{"method": "Read|Write|ReadWrite",
//                                        "keyType": "Pattern|String|Binary", "keys": [...]}]}]}
//
// (or the same object under "authorizationPolicies"). Allow-only: what no rule grants is denied,
// CONNECT included. The semantics, every choice and its reason: docs/security.md,
// "Authorization", and docs/adr/0011-authorization-policy.md. I/O-free but for load().
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/policy_template.hpp"
#include "broker/authorizer.hpp"

namespace edgemq::auth {

class aio_policy final : public broker::authorizer {
 public:
  // Null, with every problem in `why` ("at /rules/0/brokerResources/1/method: must be ...",
  // joined by "; "), when the text is not a valid policy.
  static std::shared_ptr<const aio_policy> parse(std::string_view json_text, std::string& why);
  // Reads and parses `path`; `why` names the file.
  static std::shared_ptr<const aio_policy> load(const std::string& path, std::string& why);

  // Resolves every rule that applies to `p` (substitutions made once, here). Null when no such
  // rule grants Connect for p's client id.
  std::shared_ptr<const broker::client_permissions> on_connect(const broker::principal& p) const override;

  std::size_t rule_count() const noexcept { return rules_.size(); }

  enum class broker_method : std::uint8_t { connect, publish, subscribe };
  enum class key_type : std::uint8_t { pattern, string, binary };
  struct broker_resource {
    broker_method method = broker_method::connect;
    std::vector<policy_template> topics;
    std::vector<policy_template> client_ids;  // globs; empty: any client id
  };
  struct key_resource {
    key_type type = key_type::pattern;
    bool read = false, write = false;
    std::vector<policy_template> keys;  // binary: the decoded bytes, as one literal piece
  };
  struct principals {
    std::vector<std::string> client_ids, usernames;
    std::vector<broker::attribute_map> attributes;  // one map matches when all its pairs do
    bool match(const broker::principal& p) const;
  };
  struct rule {
    principals who;
    std::vector<broker_resource> broker;
    std::vector<key_resource> keys;
  };

 private:
  std::vector<rule> rules_;
};

}  // namespace edgemq::auth
