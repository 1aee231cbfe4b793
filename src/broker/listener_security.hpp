// The security settings of one listener, as one immutable snapshot: the composition root builds
// it from the configuration and replaces it whole on reload; a connection takes the snapshot
// current when its CONNECT arrives and uses it to the end (new connections use new settings).
#pragma once

#include <memory>

#include "broker/authorizer.hpp"
#include "broker/password_checker.hpp"

namespace edgemq::broker {

struct listener_security {
  // Whether clients without credentials get in (MQTT 3.1.3.5: no username).
  bool allow_anonymous = true;
  // Username/password (null: none configured; every client is then anonymous).
  std::shared_ptr<const password_checker> passwords;
  // Authorization policy (null: none; only the rules of topic_access.hpp apply).
  std::shared_ptr<const authorizer> authz;
};

}  // namespace edgemq::broker
