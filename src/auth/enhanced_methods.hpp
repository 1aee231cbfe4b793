// The enhanced authentication methods (MQTT 4.12) edgemq offers, as the broker's auth_exchange:
// `K8S-SAT` (a JWT in the Authentication Data, as Azure IoT Operations clients send a Kubernetes
// service account token; re-authentication with a fresh token by AUTH 0x19) and
// `SCRAM-SHA-256` (RFC 7677 over AUTH). Each reads its settings from a current_value the daemon
// replaces on SIGHUP: an exchange uses the snapshot current when it starts. docs/security.md,
// ADR 0012.
#pragma once

#include <memory>

#include "auth/current_value.hpp"
#include "auth/jwt.hpp"
#include "auth/password_file.hpp"
#include "broker/authenticator.hpp"

namespace edgemq::auth {

inline constexpr const char* k8s_sat_method = "K8S-SAT";
inline constexpr const char* scram_sha256_method = "SCRAM-SHA-256";

struct jwt_settings {
  jwt_keyset keys;
  jwt_policy policy;
};

// One K8S-SAT exchange: start() verifies the token; the principal's username is the `sub`
// claim, its attributes the claims (flattened, jwt_claims::flat); the step expires with the
// token. A re-authentication must present a token for the same subject.
std::unique_ptr<broker::auth_exchange> make_sat_exchange(std::shared_ptr<const current_value<jwt_settings>> settings);

// One SCRAM-SHA-256 exchange against the password file's SCRAM lines; the username is the
// SCRAM user. A re-authentication must be for the same user.
std::unique_ptr<broker::auth_exchange> make_scram_exchange(
    std::shared_ptr<const current_value<password_file>> passwords);

}  // namespace edgemq::auth
