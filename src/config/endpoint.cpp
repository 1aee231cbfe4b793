#include <arpa/inet.h>

#include "config/server_options.hpp"

namespace edgemq::config {
namespace {

bool fail(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return false;
}

bool is_ipv4(const std::string& host) {
  in_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& host) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

}  // namespace

bool parse_endpoint(std::string_view text, listen_endpoint& out, std::string* why) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return fail(why, "'" + std::string(text) + "' has no port: expected HOST:PORT, e.g. 0.0.0.0:1883 or [::1]:1883");
  std::string host(text.substr(0, colon));
  const std::string_view port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoul(std::string(port)) > 65535)
    return fail(why, "port '" + std::string(port) + "' is not a number between 0 and 65535");
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) {
    host = host.substr(1, host.size() - 2);
    if (!is_ipv6(host)) return fail(why, "'[" + host + "]' is not an IPv6 address");
  } else if (host.empty()) {
    host = "0.0.0.0";
  } else if (host == "localhost") {
    host = "127.0.0.1";  // what edgemq-cli connects to by default; names are not resolved otherwise
  } else if (host.find(':') != std::string::npos) {
    return fail(why, "IPv6 address '" + host + "' must be in brackets, e.g. [::1]:1883");
  } else if (!is_ipv4(host)) {
    return fail(why, "'" + host + "' is not an IP address (use a numeric IPv4 address, [IPv6] or localhost)");
  }
  out.host = std::move(host);
  out.port = static_cast<std::uint16_t>(std::stoul(std::string(port)));
  return true;
}

bool parse_listen_url(std::string_view text, listen_endpoint& out, std::string* why) {
  const auto sep = text.find("://");
  if (sep != std::string_view::npos) {
    const std::string scheme(text.substr(0, sep));
    if (scheme == "mqtt")
      out.scheme = listener_scheme::mqtt;
    else if (scheme == "mqtts")
      out.scheme = listener_scheme::mqtts;
    else if (scheme == "ws")
      out.scheme = listener_scheme::ws;
    else if (scheme == "wss")
      out.scheme = listener_scheme::wss;
    else
      return fail(why, "unknown scheme '" + scheme + "://': expected mqtt://, mqtts://, ws:// or wss://");
    text.remove_prefix(sep + 3);
  } else {
    out.scheme = listener_scheme::mqtt;
  }
  // A WebSocket URL may end in the path its clients ask for (an IPv6 host never holds a '/').
  const auto slash = text.find('/');
  if (slash != std::string_view::npos) {
    if (!is_websocket(out.scheme))
      return fail(why, "a path ('" + std::string(text.substr(slash)) + "') is only for ws:// and wss:// listeners");
    const std::string_view path = text.substr(slash);
    for (const char c : path)
      if (c <= ' ' || c >= 127 || c == '?' || c == '#')
        return fail(why,
                    "WebSocket path '" + std::string(path) + "' must be printable ASCII without spaces, '?' or '#'");
    out.websocket.path = std::string(path);
    text = text.substr(0, slash);
  }
  return parse_endpoint(text, out, why);
}

bool parse_admin_url(std::string_view text, admin_options& out, std::string* why) {
  bool https = false;
  if (text.starts_with("https://")) {
    https = true;
    text.remove_prefix(8);
  } else if (text.starts_with("http://")) {
    text.remove_prefix(7);
  } else if (text.find("://") != std::string_view::npos) {
    return fail(why, "expected http://HOST:PORT, https://HOST:PORT or HOST:PORT");
  }
  listen_endpoint ep;
  if (!parse_endpoint(text, ep, why)) return false;
  out.enabled = true;
  out.https = https;
  out.host = ep.host;
  out.port = ep.port;
  return true;
}

std::string format_admin(const admin_options& a, std::uint16_t port) {
  return (a.https ? "https://" : "http://") + format_endpoint(a.host, port);
}

std::string format_listener(const listen_endpoint& ep) {
  switch (ep.scheme) {
    case listener_scheme::mqtts:
      return "mqtts://" + format_endpoint(ep);
    case listener_scheme::ws:
      return "ws://" + format_endpoint(ep) + ep.websocket.path;
    case listener_scheme::wss:
      return "wss://" + format_endpoint(ep) + ep.websocket.path;
    case listener_scheme::mqtt:
      break;
  }
  return format_endpoint(ep);
}

bool is_loopback(std::string_view host) {
  const std::string h(host);
  in_addr a4{};
  if (::inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (::inet_pton(AF_INET6, h.c_str(), &a6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

std::string format_endpoint(std::string_view host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

}  // namespace edgemq::config
