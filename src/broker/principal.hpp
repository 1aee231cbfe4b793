// Who a connected client is, as authentication established it: the identity authorization
// decides on (docs/security.md). Built once at CONNECT from the CONNECT itself (client id,
// username), the listener's transport (a verified client certificate's subject) and the
// authenticator that accepted the client (a JWT's claims, a SCRAM user), then read-only.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace edgemq::broker {

using attribute_map = std::map<std::string, std::string, std::less<>>;

struct principal {
  std::string client_id;
  // The CONNECT's username; else the certificate's subject CN; else the authenticator's
  // (enhanced authentication may set it). Unset for an anonymous client.
  std::optional<std::string> username;
  // Certificate subject fields (CN, O, OU, C, ST, L, ...) and authenticator claims, as
  // AIO's {principal.attributes.X} reads them.
  attribute_map attributes;
};

// What the transport learnt about the peer before the first byte: the subject of a client
// certificate that the TLS handshake verified (empty fields when there was none).
struct peer_certificate {
  std::string subject_cn;
  attribute_map subject;  // short names ("CN", "O", "OU", "C", ...) to values
  // The certificate's thumbprints (SHA-1 and SHA-256 of its DER, upper-case hex), as IoT Hub's
  // registry names X.509 devices (devices/device_hub).
  std::string sha1_thumbprint, sha256_thumbprint;
};

}  // namespace edgemq::broker
