#include <string>

#include "edgemq/mqtt/packet.hpp"
#include "edgemq/mqtt/types.hpp"

namespace edgemq::mqtt {

std::string_view to_string(reason_code rc) noexcept {
  switch (static_cast<std::uint8_t>(rc)) {
    case 0x00:
      return "success";
    case 0x01:
      return "granted qos 1";
    case 0x02:
      return "granted qos 2";
    case 0x04:
      return "disconnect with will message";
    case 0x10:
      return "no matching subscribers";
    case 0x11:
      return "no subscription existed";
    case 0x18:
      return "continue authentication";
    case 0x19:
      return "re-authenticate";
    case 0x80:
      return "unspecified error";
    case 0x81:
      return "malformed packet";
    case 0x82:
      return "protocol error";
    case 0x83:
      return "implementation specific error";
    case 0x84:
      return "unsupported protocol version";
    case 0x85:
      return "client identifier not valid";
    case 0x86:
      return "bad user name or password";
    case 0x87:
      return "not authorized";
    case 0x88:
      return "server unavailable";
    case 0x89:
      return "server busy";
    case 0x8A:
      return "banned";
    case 0x8B:
      return "server shutting down";
    case 0x8C:
      return "bad authentication method";
    case 0x8D:
      return "keep alive timeout";
    case 0x8E:
      return "session taken over";
    case 0x8F:
      return "topic filter invalid";
    case 0x90:
      return "topic name invalid";
    case 0x91:
      return "packet identifier in use";
    case 0x92:
      return "packet identifier not found";
    case 0x93:
      return "receive maximum exceeded";
    case 0x94:
      return "topic alias invalid";
    case 0x95:
      return "packet too large";
    case 0x96:
      return "message rate too high";
    case 0x97:
      return "quota exceeded";
    case 0x98:
      return "administrative action";
    case 0x99:
      return "payload format invalid";
    case 0x9A:
      return "retain not supported";
    case 0x9B:
      return "qos not supported";
    case 0x9C:
      return "use another server";
    case 0x9D:
      return "server moved";
    case 0x9E:
      return "shared subscriptions not supported";
    case 0x9F:
      return "connection rate exceeded";
    case 0xA0:
      return "maximum connect time";
    case 0xA1:
      return "subscription identifiers not supported";
    case 0xA2:
      return "wildcard subscriptions not supported";
    default:
      return "unknown reason code";
  }
}

std::string_view to_string(packet_type t) noexcept {
  static constexpr std::string_view names[] = {
      "reserved",  "CONNECT", "CONNACK",     "PUBLISH",  "PUBACK",  "PUBREC",   "PUBREL",     "PUBCOMP",
      "SUBSCRIBE", "SUBACK",  "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"};
  const auto i = static_cast<std::uint8_t>(t);
  return i < 16 ? names[i] : "invalid";
}

namespace {
class reason_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mqtt"; }
  std::string message(int ev) const override { return std::string(to_string(static_cast<reason_code>(ev))); }
};
}  // namespace

const std::error_category& reason_category() noexcept {
  static const reason_category_impl instance;
  return instance;
}

reason_code to_reason_code(const std::error_code& ec) noexcept {
  if (!ec) return reason_code::success;
  if (ec.category() == reason_category()) return static_cast<reason_code>(ec.value());
  return reason_code::unspecified_error;
}

packet_type type_of(const packet& p) noexcept {
  return static_cast<packet_type>(p.index() + 1);
}

}  // namespace edgemq::mqtt
