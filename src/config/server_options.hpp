// The network side's options as plain values: where to listen, how many workers, shutdown and
// $SYS timing. They live in config (not net) so that configuration never depends on the network
// layer; net::server consumes them. Also the one way an endpoint is parsed and printed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::config {

// TLS settings of an mqtts listener (docs/security.md, "TLS"). Files are PEM.
struct tls_options {
  std::string cert;                  // server certificate (chain)
  std::string key;                   // its private key
  std::string client_ca;             // verify client certificates against these CAs; empty: none asked for
  bool require_client_cert = false;  // refuse the handshake without a verified client certificate
  std::string min_version = "1.2";   // "1.2" or "1.3"
  std::string ciphers;               // OpenSSL cipher list for TLS 1.2; empty: OpenSSL's default
};

// WebSocket settings of a ws/wss listener (docs/security.md, "WebSocket").
struct websocket_options {
  std::string path = "/mqtt";  // the only request target upgraded (from the URL: ws://HOST:PORT/PATH)
  // The largest frame a client may send (close 1009 beyond). 0: the larger of 16 MiB and the
  // broker's maximum packet size (a client such as paho sends one frame per packet).
  std::uint64_t max_frame_size = 0;
};
// The range max_frame_size may be set to (--ws-max-frame-size, "websocket": {"max_frame_size"}).
inline constexpr std::uint64_t max_frame_size_min = 1024;
inline constexpr std::uint64_t max_frame_size_max = std::uint64_t{1} << 32;

enum class listener_scheme { mqtt, mqtts, ws, wss };

inline bool uses_tls(listener_scheme s) {
  return s == listener_scheme::mqtts || s == listener_scheme::wss;
}
inline bool is_websocket(listener_scheme s) {
  return s == listener_scheme::ws || s == listener_scheme::wss;
}

struct listen_endpoint {
  std::string host = "127.0.0.1";  // a numeric IPv4 or IPv6 address (without brackets)
  std::uint16_t port = 1883;
  // Whether clients without credentials get in. Unset: yes unless a password file is configured
  // (resolved at start-up by resolve_listener_auth); a listener beyond loopback must not be left
  // open to anonymous clients by default (check_listener_auth).
  std::optional<bool> allow_anonymous;
  // Whether the authorization policy (authz_file) applies to this listener's clients; false
  // opts it out (its clients are held only to the rules every client is held to).
  bool authorization = true;
  listener_scheme scheme = listener_scheme::mqtt;
  tls_options tls;              // mqtts and wss only
  websocket_options websocket;  // ws and wss only
};

struct server_options {
  std::vector<listen_endpoint> listeners{listen_endpoint{}};  // 127.0.0.1:1883
  unsigned workers = 0;                                       // 0: one per core
  std::chrono::milliseconds shutdown_timeout{5000};
  std::chrono::seconds sys_interval{10};  // $SYS/broker/... refresh; 0 disables
  // Called on SIGHUP (on the signal thread): reload what is documented as reloadable.
  std::function<void()> on_reload;
  // Called once when the server begins to shut down (before connections are drained), on the
  // thread that stops it: the daemon stops reporting ready from then on.
  std::function<void()> on_stopping;
};

// The admin HTTP server (docs/operations.md). Off unless an address is configured.
struct admin_options {
  bool enabled = false;
  bool https = false;  // https://: TLS with `tls` (cert and key required; no client certificates)
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string token_file;  // a bearer token every request must carry; empty: none (loopback only)
  tls_options tls;
  // Device commands (POST /api/v1/clients/{id}/commands/{name}) publish here, {clientId} and
  // {name} replaced.
  std::string command_topic = "commands/{clientId}/{name}";
};

// Why `t` is not a usable command topic template (empty: it is): it must name {clientId}, and
// be a topic a client may subscribe to (no wildcards, not starting with '$').
std::string check_command_topic(std::string_view t);

// Parses the admin address: "http://HOST:PORT", "https://HOST:PORT" or a bare HOST:PORT (http).
bool parse_admin_url(std::string_view text, admin_options& out, std::string* why = nullptr);

// Parses "host:port", "[v6]:port" or ":port" (all addresses). The host is a numeric IPv4
// address, an IPv6 address in brackets, or "localhost" (127.0.0.1); port 0 picks a free port.
// On failure returns false and, if `why` is given, says what is wrong in plain words.
bool parse_endpoint(std::string_view text, listen_endpoint& out, std::string* why = nullptr);

// Parses a listener URL: "mqtt://HOST:PORT", "mqtts://HOST:PORT", "ws://HOST:PORT[/PATH]",
// "wss://HOST:PORT[/PATH]" (WebSocket; PATH defaults to /mqtt) or a bare HOST:PORT (plain MQTT).
// Sets the scheme, the endpoint and the WebSocket path.
bool parse_listen_url(std::string_view text, listen_endpoint& out, std::string* why = nullptr);

// "http://127.0.0.1:8080" or "https://..." (with `port`, the bound one).
std::string format_admin(const admin_options& a, std::uint16_t port);

// "mqtts://0.0.0.0:8883" for a TLS listener, "ws://0.0.0.0:8080/mqtt" for WebSocket,
// "0.0.0.0:1883" for plain MQTT.
std::string format_listener(const listen_endpoint& ep);

// True for 127.0.0.0/8 and ::1 (and IPv4-mapped loopback): reachable only from this host.
bool is_loopback(std::string_view host);

// "[::1]:1883" for an IPv6 host, "127.0.0.1:1883" otherwise: how every endpoint is printed.
std::string format_endpoint(std::string_view host, std::uint16_t port);
inline std::string format_endpoint(const listen_endpoint& ep) {
  return format_endpoint(ep.host, ep.port);
}

}  // namespace edgemq::config
