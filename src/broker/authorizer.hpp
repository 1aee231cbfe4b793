// The broker's hook for authorization (docs/security.md, "Authorization"). The broker core owns
// these interfaces and never knows the policy's shape: the composition root plugs in an
// implementation (edgemq_auth's AIO-shaped policy) per listener and may replace it at any time
// (SIGHUP reload). A connection asks the authorizer current at its CONNECT for its permissions
// once, and keeps them for its lifetime: new connections see a reloaded policy, live ones keep
// theirs (no check on the hot path ever takes a lock).
#pragma once

#include <memory>
#include <string_view>

#include "broker/principal.hpp"

namespace edgemq::broker {

// A policy resolved for one principal (substitutions applied once). Thread-safe, immutable.
class client_permissions {
 public:
  virtual ~client_permissions() = default;
  virtual bool may_publish(std::string_view topic) const = 0;
  // `filter` without any $share/<group>/ prefix.
  virtual bool may_subscribe(std::string_view filter) const = 0;
  // State store keys: Read = GET and KEYNOTIFY, Write = SET, DEL, VDEL.
  virtual bool may_read_key(std::string_view key) const = 0;
  virtual bool may_write_key(std::string_view key) const = 0;
};

class authorizer {
 public:
  virtual ~authorizer() = default;
  // The permissions of `p`, or null when `p` may not connect at all.
  virtual std::shared_ptr<const client_permissions> on_connect(const principal& p) const = 0;
};

}  // namespace edgemq::broker
