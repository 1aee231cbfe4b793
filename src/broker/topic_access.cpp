#include "broker/topic_access.hpp"

#include <string>

#include "edgemq/statestore/protocol.hpp"

namespace edgemq::broker {
namespace {

using statestore::reserved_response_prefix;

// The levels of reserved_response_prefix ("clients", "statestore", "v1", the service id).
constexpr std::size_t prefix_levels = 4;

// Splits off the next level of `s` (up to '/'); `s` keeps what follows the '/', and `done`
// tells whether there was a level at all.
std::string_view next_level(std::string_view& s, bool& done) {
  if (done) return {};
  const auto slash = s.find('/');
  std::string_view level = s.substr(0, slash);
  if (slash == std::string_view::npos)
    done = true;
  else
    s.remove_prefix(slash + 1);
  return level;
}

// The client id segment (HEX) of a topic in the per-client area; false outside it.
bool owner_segment(std::string_view topic, std::string_view& hex) {
  if (!in_per_client_area(topic)) return false;
  topic.remove_prefix(reserved_response_prefix.size() + 1);
  hex = topic.substr(0, topic.find('/'));
  return true;
}

}  // namespace

bool in_per_client_area(std::string_view topic) {
  return topic.size() > reserved_response_prefix.size() && topic[reserved_response_prefix.size()] == '/' &&
         topic.starts_with(reserved_response_prefix);
}

bool private_filter(std::string_view filter) {
  return filter.starts_with(private_prefix) &&
         (filter.size() == private_prefix.size() || filter[private_prefix.size()] == '/');
}

bool broker_owned_topic(std::string_view topic) {
  // "$SYS" itself and everything below it; the per-client area is written only by the state store;
  // the private namespace but for the command reply topic.
  return (topic.starts_with("$SYS") && (topic.size() == 4 || topic[4] == '/')) || in_per_client_area(topic) ||
         (private_filter(topic) && topic != command_reply_topic);
}

bool filter_reaches_other_clients(std::string_view filter, std::string_view client_id) {
  std::string_view prefix = reserved_response_prefix;
  bool filter_done = false, prefix_done = false;
  for (std::size_t i = 0; i < prefix_levels; ++i) {
    if (filter_done) return false;  // ends above the per-client level: matches no client's topic
    const auto f = next_level(filter, filter_done);
    const auto p = next_level(prefix, prefix_done);
    if (i == 0 && f != p) return false;  // not rooted here; a leading wildcard is filtered on delivery
    if (f == "#") return true;
    if (f != "+" && f != p) return false;
  }
  if (filter_done) return false;
  const auto owner = next_level(filter, filter_done);
  if (owner == "+" || owner == "#") return true;
  return owner != statestore::hex_upper(client_id);
}

bool may_receive(std::string_view topic, std::string_view client_id) {
  std::string_view hex;
  if (!owner_segment(topic, hex)) return true;
  return hex == statestore::hex_upper(client_id);
}

}  // namespace edgemq::broker
