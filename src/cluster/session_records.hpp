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

struct decoded_session {
  std::optional<broker::session_registry::restored_session> session;  // nullopt: none to resume
  bool expired = false;          // there was one, but its expiry interval has passed
  broker::message_ptr due_will;  // a will whose delay passed (or whose session ended): publish it
  std::size_t unreadable = 0;    // records skipped (corrupt or from a newer format)
};

// `records`: (persistence record key, value) pairs of one client, as read under its prefix.
// `wall`: now, in wall-clock ms; `now`: the broker's steady clock at the same moment.
decoded_session decode_session_records(std::string_view client_id,
                                       const std::vector<std::pair<std::string, std::string>>& records,
                                       broker::clock::time_point now, std::uint64_t wall);

}  // namespace edgemq::cluster
