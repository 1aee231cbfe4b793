// Enhanced authentication (MQTT 4.12): the hook in the CONNECT flow. An authenticator is
// registered per Authentication Method; a CONNECT naming an unregistered method is refused
// with 0x8C. Each connection gets its own exchange object, driven by CONNECT and AUTH packets.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "broker/principal.hpp"
#include "edgemq/mqtt/types.hpp"

namespace edgemq::broker {

struct auth_step {
  // success: the client is authenticated (CONNACK / AUTH 0x00 follows);
  // continue_authentication: send `data` to the client in AUTH 0x18 and wait for its AUTH;
  // anything else: refuse (CONNACK or DISCONNECT with this code).
  mqtt::reason_code code = mqtt::reason_code::not_authorized;
  std::optional<std::string> data;
  // On success, who the client is as this method established it: the username (when the
  // CONNECT had none) and attributes for authorization (e.g. a token's claims).
  std::optional<std::string> username;
  attribute_map attributes;
  // On success: when the credentials stop being valid (a token's `exp`), on the broker's steady
  // clock. The connection ends then (DISCONNECT 0xA0) unless a re-authentication (AUTH 0x19)
  // has succeeded meanwhile; unset: they do not expire.
  std::optional<std::chrono::steady_clock::time_point> expires_at;
  // On refusal: why, for the broker's log line (never sent to the client; no secrets in it).
  std::string why;

  static auth_step refuse(mqtt::reason_code rc, std::string why = {}) {
    auto s = with(rc, std::nullopt);
    s.why = std::move(why);
    return s;
  }
  static auth_step challenge(std::string data) {
    return with(mqtt::reason_code::continue_authentication, std::move(data));
  }
  static auth_step accept(std::optional<std::string> data = std::nullopt) {
    return with(mqtt::reason_code::success, std::move(data));
  }

 private:
  static auth_step with(mqtt::reason_code rc, std::optional<std::string> data) {
    auth_step s;
    s.code = rc;
    s.data = std::move(data);
    return s;
  }
};

class auth_exchange {
 public:
  virtual ~auth_exchange() = default;
  // First step, from the CONNECT (or the AUTH 0x19 that starts re-authentication).
  virtual auth_step start(const std::string& client_id, const std::optional<std::string>& data) = 0;
  // Each AUTH 0x18 from the client.
  virtual auth_step next(const std::optional<std::string>& data) = 0;
};

class authenticator_registry {
 public:
  using factory = std::function<std::unique_ptr<auth_exchange>()>;
  void add(const std::string& method, factory f) {
    std::lock_guard g(mu_);
    methods_[method] = std::move(f);
  }
  // A new exchange for `method`, or null when no such method is registered.
  std::unique_ptr<auth_exchange> create(const std::string& method) const {
    std::lock_guard g(mu_);
    auto it = methods_.find(method);
    return it == methods_.end() ? nullptr : it->second();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, factory> methods_;
};

}  // namespace edgemq::broker
