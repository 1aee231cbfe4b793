// A state store request parsed and checked, before any key is read: the RESP3 verb and its
// arguments, the __ts/__ft timestamps (malformed or too far in the future refused), arity, key
// authorization and SET's options. Shared by the single-node service and the cluster's etcd
// store, so both refuse the same requests with the same words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "edgemq/statestore/hlc.hpp"
#include "statestore/service.hpp"

namespace edgemq::statestore {

// The error texts of the protocol (after "-ERR ").
namespace err {
inline constexpr std::string_view ts_skew =
    "the request timestamp is too far in the future; ensure that the client and broker system clocks are synchronized";
inline constexpr std::string_view ft_required = "a fencing token is required for this request";
inline constexpr std::string_view ft_skew =
    "the request fencing token timestamp is too far in the future; ensure that the client and broker system clocks are "
    "synchronized";
inline constexpr std::string_view ft_lower =
    "the request fencing token is a lower version than the fencing token protecting the resource";
inline constexpr std::string_view quota = "the quota has been exceeded";
inline constexpr std::string_view syntax = "syntax error";
inline constexpr std::string_view not_authorized = "not authorized";
inline constexpr std::string_view unknown = "unknown command";
inline constexpr std::string_view arity = "wrong number of arguments";
inline constexpr std::string_view missing_ts = "missing timestamp";
inline constexpr std::string_view malformed_ts = "malformed timestamp";
inline constexpr std::string_view key_zero = "the key length is zero";
inline constexpr std::string_view notify_too_long =
    "the key and client id are too long for a notification topic (at most 65535 bytes, both in hex)";
}  // namespace err

struct command {
  enum class verb : std::uint8_t { set, get, del, vdel, keynotify, keynotify_stop } op = verb::get;
  enum class condition : std::uint8_t { none, nx, nex } cond = condition::none;
  std::string key;
  std::string value;  // SET: the value; VDEL: the expected value
  std::optional<std::uint64_t> px;
  std::optional<hlc> ts, ft;
};

// The command, or the reply that refuses it. `denied` counts "not authorized" refusals.
std::variant<command, response> parse_command(const request& r, std::uint64_t now_ms, std::uint64_t max_clock_skew_ms,
                                              const key_authorizer& auth, std::uint64_t& denied);

// True when the payload is a SET (its replies always carry a version: .NET requires one).
bool is_set_request(std::string_view payload);

}  // namespace edgemq::statestore
