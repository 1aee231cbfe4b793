// The broker's hook for CONNECT with username and password (MQTT 3.1.2.8/3.1.2.9). The broker
// core owns this interface and never knows where the credentials live: the composition root
// plugs in an implementation (edgemq_auth's password file) and may replace it at any time
// (SIGHUP reload); a connection checks against the one current when its CONNECT arrives.
#pragma once

#include <string_view>

namespace edgemq::broker {

class password_checker {
 public:
  virtual ~password_checker() = default;
  // True when `username` is known and `password` is its password. Called on a worker thread
  // during CONNECT, so it must be thread-safe and should take milliseconds, not more.
  virtual bool check(std::string_view username, std::string_view password) const = 0;
};

}  // namespace edgemq::broker
