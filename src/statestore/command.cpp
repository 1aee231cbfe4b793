#include "statestore/command.hpp"

#include <algorithm>
#include <charconv>

#include "edgemq/statestore/resp3.hpp"

namespace edgemq::statestore {

namespace {

bool upper_equals(std::string_view a, std::string_view upper) {
  return a.size() == upper.size() && std::equal(a.begin(), a.end(), upper.begin(), [](char x, char y) {
           return (x >= 'a' && x <= 'z' ? x - 32 : x) == y;
         });
}

std::optional<std::uint64_t> parse_ms(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0) return std::nullopt;
  return v;
}

response refuse(std::string_view text) {
  return {resp3::error(text), std::nullopt};
}

}  // namespace

bool is_set_request(std::string_view payload) {
  const auto parts = resp3::parse_request(payload);
  return parts && upper_equals((*parts)[0], "SET");
}

std::variant<command, response> parse_command(const request& r, std::uint64_t now, std::uint64_t max_clock_skew_ms,
                                              const key_authorizer& auth, std::uint64_t& denied) {
  const auto parts = resp3::parse_request(r.payload);
  if (!parts) return refuse(err::syntax);
  const auto& args = *parts;
  const auto verb = args[0];
  command c;

  // Timestamps: malformed, or more than the allowed skew in the future, are refused.
  if (r.timestamp) {
    c.ts = hlc::parse(*r.timestamp);
    if (!c.ts) return refuse(err::malformed_ts);
    if (c.ts->wall_ms > now + max_clock_skew_ms) return refuse(err::ts_skew);
  }
  if (r.fencing_token) {
    c.ft = hlc::parse(*r.fencing_token);
    if (!c.ft) return refuse(err::malformed_ts);
    if (c.ft->wall_ms > now + max_clock_skew_ms) return refuse(err::ft_skew);
  }
  const auto check_key = [&](std::string_view key, key_access access) -> std::optional<response> {
    if (key.empty()) return refuse(err::key_zero);
    const bool allowed = (!auth || auth(r.client_id, key, access)) &&
                         (!r.permissions || (access == key_access::read ? r.permissions->may_read_key(key)
                                                                        : r.permissions->may_write_key(key)));
    if (!allowed) {
      ++denied;
      return refuse(err::not_authorized);
    }
    return std::nullopt;
  };

  if (upper_equals(verb, "SET")) {
    if (args.size() < 3) return refuse(err::arity);
    if (auto e = check_key(args[1], key_access::write)) return *e;
    if (!c.ts) return refuse(err::missing_ts);
    // SET key value [NX|NEX] [PX ms], options in that order as the SDKs send them.
    for (std::size_t i = 3; i < args.size(); ++i) {
      if (upper_equals(args[i], "NX") && c.cond == command::condition::none && !c.px)
        c.cond = command::condition::nx;
      else if (upper_equals(args[i], "NEX") && c.cond == command::condition::none && !c.px)
        c.cond = command::condition::nex;
      else if (upper_equals(args[i], "PX") && !c.px && i + 1 < args.size()) {
        c.px = parse_ms(args[++i]);
        if (!c.px) return refuse(err::syntax);
      } else {
        return refuse(err::syntax);
      }
    }
    c.op = command::verb::set;
    c.key = std::string(args[1]);
    c.value = std::string(args[2]);
    return c;
  }
  if (upper_equals(verb, "GET")) {
    if (args.size() != 2) return refuse(err::arity);
    if (auto e = check_key(args[1], key_access::read)) return *e;
    c.op = command::verb::get;
    c.key = std::string(args[1]);
    return c;
  }
  if (upper_equals(verb, "DEL")) {
    if (args.size() != 2) return refuse(err::arity);
    if (auto e = check_key(args[1], key_access::write)) return *e;
    c.op = command::verb::del;
    c.key = std::string(args[1]);
    return c;
  }
  if (upper_equals(verb, "VDEL")) {
    if (args.size() != 3) return refuse(err::arity);
    if (auto e = check_key(args[1], key_access::write)) return *e;
    c.op = command::verb::vdel;
    c.key = std::string(args[1]);
    c.value = std::string(args[2]);
    return c;
  }
  if (upper_equals(verb, "KEYNOTIFY")) {
    if (args.size() != 2 && args.size() != 3) return refuse(err::arity);
    if (auto e = check_key(args[1], key_access::read)) return *e;
    c.key = std::string(args[1]);
    c.op = command::verb::keynotify;
    if (args.size() == 3) {
      if (!upper_equals(args[2], "STOP")) return refuse(err::syntax);
      c.op = command::verb::keynotify_stop;
    }
    return c;
  }
  return refuse(err::unknown);
}

}  // namespace edgemq::statestore
