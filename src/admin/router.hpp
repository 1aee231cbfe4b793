// The admin API's routes as a function from a request to a response: authentication, routing,
// query parsing, JSON bodies and errors. Beast-free, so routing is unit-tested without sockets;
// http_server.cpp only moves these values over HTTP/1.1.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgemq::broker {
class broker;
}
namespace edgemq::dataflow {
class definition_store;
}
namespace edgemq::devices {
class hub;
}

namespace edgemq::admin {

struct http_request {
  std::string method;           // "GET", "DELETE", ...
  std::string target;           // path and query, as received
  std::string authorization;    // the Authorization header, empty when absent
  std::string content_type;     // the Content-Type header, empty when absent
  std::string body;             // at most body_limit bytes (the server answers 413 beyond)
  std::string if_none_match{};  // the If-None-Match header (the dashboard's files), empty when absent
  // Every header as received, names lower-cased, in order (If-Match, Request-Id, iothub-app-*).
  std::vector<std::pair<std::string, std::string>> headers{};
  // The value of header `name` (lower-case), empty when absent.
  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (n == name) return v;
    return {};
  }
};

// The largest request body the server reads (state store values, command payloads).
constexpr std::size_t body_limit = 64 * 1024;

struct http_response;
// Called once with the final response of a deferred request; from any thread.
using completion = std::function<void(http_response)>;

// A response that is known only later (a device command waits for the device). The server
// calls `start(done)` on its thread and waits without blocking it: `done` may be called from
// any thread; when `timeout` passes first the server answers `on_timeout` and calls the
// function `start` returned (the operation's cancel), after which `done` is ignored.
struct deferred_response {
  std::chrono::milliseconds timeout{0};
  std::function<std::function<void()>(completion done)> start;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;          // for 405: the methods the path allows
  bool authenticate = false;  // for 401: send WWW-Authenticate: Bearer
  // Set: the status and body above are the answer should the operation time out, and the
  // real answer comes through `deferred->start`.
  std::shared_ptr<deferred_response> deferred;
  // Further headers; a Cache-Control here replaces the default "no-store" (the dashboard's files).
  std::vector<std::pair<std::string, std::string>> headers;
};

// What /readyz reports; every field true: ready.
struct readiness {
  bool started = false;     // restore done, every MQTT listener bound and accepting
  bool persistence = true;  // the broker journal writes (true when persistence is off)
  bool statestore = true;   // the state store writes (true when it is off)
  bool cluster = true;      // cluster mode: connected to NATS (true in single node)
};

// State store keys for operators. The admin module knows only these values; src/app connects
// them to the state store engine (its queue, so they are ordered with MQTT requests).
struct kv_item {
  std::string key;
  std::string value;
  std::string version;  // the HLC timestamp of its last change
};
struct kv_request {
  enum class verb : std::uint8_t { list, get, put, del } op = verb::get;
  std::string key;            // get, put, del
  std::string value;          // put
  std::string prefix, after;  // list
  std::size_t limit = 100;    // list
};
struct kv_reply {
  enum class status : std::uint8_t { ok, not_found, refused, unavailable } code = status::ok;
  std::vector<kv_item> items;  // list: the page; get, put: the item
  bool more = false;           // list: further keys match
  std::string message;         // refused, unavailable: why
};

// A device command (routes_commands.cpp, command_service.hpp).
using user_properties = std::vector<std::pair<std::string, std::string>>;
struct command_request {
  std::string client_id;
  std::string topic;  // the device's command topic
  std::string payload;
  std::optional<std::string> content_type;
  user_properties properties;
  std::chrono::milliseconds timeout{10000};
};
struct command_reply {
  std::string payload;
  std::optional<std::string> content_type;
  user_properties properties;
};

// What a reload did: the file kinds that loaded, and those that failed with the reason.
struct reload_report {
  std::vector<std::string> reloaded;
  std::vector<std::pair<std::string, std::string>> failed;
};

struct admin_context {
  broker::broker& core;
  // The MQTT listeners as the ready line prints them, by index (empty until they are bound).
  std::function<std::vector<std::string>()> listeners;
  std::string version;
  std::string token;  // empty: no token asked for
  std::function<readiness()> ready;
  // Empty: the state store is off (404). `done` may be called on any thread.
  std::function<void(kv_request, std::function<void(kv_reply)>)> statestore;
  // Empty: reloading is not offered (404).
  std::function<reload_report()> reload;
  // The device command topic, "{clientId}" and "{name}" replaced.
  std::string command_topic = "commands/{clientId}/{name}";
  // Publishes the request; `done` is called (any thread) with the device's response. Returns
  // the cancel, called when the request times out first. Empty: commands are off (404).
  std::function<std::function<void()>(command_request, std::function<void(command_reply)>)> command;
  // Dataflows and their endpoints (routes_dataflows.cpp, /api/v1/dataflows...). Null: off (404).
  dataflow::definition_store* dataflows = nullptr;
  // IoT Hub's service API (routes_devices.cpp: /devices, /twins with SAS authorization). Null: off.
  devices::hub* devices = nullptr;
  // Cluster mode: this node and the others as the message bus sees them, as a JSON document
  // (docs/openapi.yaml, ClusterStatus). Empty: single node (404).
  std::function<std::string()> cluster = nullptr;
};

// Any thread; everything it reads is safe to read concurrently with the broker running.
http_response handle(const admin_context& ctx, const http_request& req);

// A JSON error body {"code": ..., "message": ...} with its status.
http_response error_response(unsigned status, std::string code, std::string message);

// True when `a` equals `b`; the time taken depends only on their lengths, not on where they differ.
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace edgemq::admin
