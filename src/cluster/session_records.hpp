// The cluster's copy of persistent sessions in etcd (docs/adr/0029): where each record lives and
// how a node turns a client's records back into a session. The records are the persistence
// layer's (persistence/broker_records.hpp: session image, queued and in-flight deliveries,
// inbound QoS 2 packet ids, delayed will), stored under one prefix per client, so one range read
// returns a whole session and one delete_range ends it. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/session_registry.hpp"

namespace edgemq::cluster {

// Keys: `<root>o/<hex client id>` -> owner node (leased by that node); `<root>s/<hex client id>/`
// + persistence record key -> record. The client id is hex-encoded so that one client's prefix is
// never the prefix of another's ("a" and "a/b").
std::string session_owner_key(std::string_view root, std::string_view client_id);
std::string session_records_prefix(std::string_view root, std::string_view client_id);

// The will of a connection that was open when written (session_directory::arm_will): its will
// record's publish time is this flag with the Will Delay Interval in seconds, since the time its
// connection ends is not known yet. Whoever learns that the connection ended with its node
// (the client's next owner, the session janitor) decides when it is published.
inline constexpr std::uint64_t armed_will_flag = std::uint64_t{1} << 63;
constexpr std::uint64_t armed_will_at(std::uint32_t delay_s) {
  return armed_will_flag | delay_s;
}

// An armed will as it is published when found: its Message Expiry Interval counts from `now`.
struct armed_will {
  broker::message_ptr will;
  std::uint32_t delay_s = 0;
};
// The armed will in a will record's value (`value` as stored under will_key(client_id));
// nullopt when the record is not a readable armed will of `client_id`.
std::optional<armed_will> decode_armed_will(std::string_view client_id, std::string_view value,
                                            broker::clock::time_point now);

struct decoded_session {
  std::optional<broker::session_registry::restored_session> session;  // nullopt: none to resume
  bool expired = false;          // there was one, but its expiry interval has passed
  broker::message_ptr due_will;  // a will whose delay passed (or whose session ended): publish it
  // An armed will (never in `session`): its connection was open when its node last wrote it; its
  // expiry counted from the decode, as for a will published then.
  broker::message_ptr armed_will;
  std::uint32_t armed_delay_s = 0;
  std::size_t unreadable = 0;  // records skipped (corrupt or from a newer format)
};

// `records`: (persistence record key, value) pairs of one client, as read under its prefix.
// `wall`: now, in wall-clock ms; `now`: the broker's steady clock at the same moment.
decoded_session decode_session_records(std::string_view client_id,
                                       const std::vector<std::pair<std::string, std::string>>& records,
                                       broker::clock::time_point now, std::uint64_t wall);

}  // namespace edgemq::cluster
