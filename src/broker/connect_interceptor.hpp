// A hook that takes over CONNECTs of its own dialect before the listener's authentication chain
// (the IoT Hub device dialect: username "{hostname}/{deviceId}/?api-version=...", a SAS token or
// a registered certificate thumbprint; docs/devices.md). It decides such a CONNECT entirely:
// identity, refusal, and the permissions the connection gets (its own authorization, in place of
// the listener's policy). Every other CONNECT goes through the existing chain unchanged.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "broker/authorizer.hpp"
#include "broker/principal.hpp"
#include "edgemq/mqtt/packet.hpp"

namespace edgemq::broker {

struct connect_decision {
  // success: let the client in with `username` and `permissions`; anything else: refuse with it
  // (bad_user_name_or_password -> 3.1.1 0x04, not_authorized -> 0x05).
  mqtt::reason_code code = mqtt::reason_code::not_authorized;
  std::string username;
  std::shared_ptr<const client_permissions> permissions;
  // When the credentials stop being valid (a SAS token's `se`), on the broker's steady clock: the
  // connection ends then (DISCONNECT 0xA0), as IoT Hub ends it; unset: never.
  std::optional<std::chrono::steady_clock::time_point> expires_at;
  std::string why;  // for the refusal's log line, no secrets
};

class connect_interceptor {
 public:
  virtual ~connect_interceptor() = default;
  // Nullopt: not this dialect, the listener's chain decides. Called on the connection's worker
  // during CONNECT (thread-safe, fast). `cert`: the verified client certificate, if any.
  virtual std::optional<connect_decision> on_connect(const mqtt::connect& c, const peer_certificate* cert,
                                                     std::uint64_t connection_id) = 0;
  // A connection it let in is now connected (CONNACK queued); the session is attached, so
  // broker::deliver_to reaches it. Closing is reported through topic_service::on_connection_closed.
  virtual void on_connected(std::string_view client_id, std::uint64_t connection_id) = 0;
};

}  // namespace edgemq::broker
