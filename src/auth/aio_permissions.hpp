// What one connected client may do under an AIO-shaped policy, with every substitution already
// made (aio_policy::on_connect builds it once per connection). Checks run on the publish and
// subscribe paths, so they take no lock and allocate nothing: literal topics and keys are hash
// lookups; only wildcard filters and key patterns are scanned, in the order the policy lists them.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "broker/authorizer.hpp"

namespace edgemq::auth {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using string_set = std::unordered_set<std::string, string_hash, std::equal_to<>>;

// Topic filters a client was granted for one method.
class topic_grants {
 public:
  void add(std::string filter);
  // A topic name matched by some granted filter (MQTT matching).
  bool allows_topic(std::string_view topic) const noexcept;
  // A SUBSCRIBE filter covered by some granted filter (topic_cover.hpp).
  bool allows_filter(std::string_view filter) const noexcept;
  bool empty() const noexcept { return literal_.empty() && wildcard_.empty(); }

 private:
  struct wildcard_filter {
    std::string filter;
    // The literal levels before the first wildcard, without the '/' before it ("a/b/#": "a/b"):
    // a topic that does not start with them cannot match, which one compare tells (most grants
    // fail there, before the level-by-level match).
    std::size_t prefix = 0;
  };
  string_set literal_;                     // filters without + or #
  std::vector<wildcard_filter> wildcard_;  // the rest
};

// State store keys a client was granted for reading or for writing.
class key_grants {
 public:
  void add_exact(std::string key) { exact_.insert(std::move(key)); }
  void add_pattern(std::string glob) { patterns_.push_back(std::move(glob)); }
  bool allows(std::string_view key) const noexcept;

 private:
  string_set exact_;
  std::vector<std::string> patterns_;  // key_glob.hpp syntax, substitutions escaped
};

class aio_permissions final : public broker::client_permissions {
 public:
  bool may_publish(std::string_view topic) const override { return publish_.allows_topic(topic); }
  bool may_subscribe(std::string_view filter) const override { return subscribe_.allows_filter(filter); }
  bool may_read_key(std::string_view key) const override { return read_.allows(key); }
  bool may_write_key(std::string_view key) const override { return write_.allows(key); }

  topic_grants publish_, subscribe_;
  key_grants read_, write_;
};

}  // namespace edgemq::auth
