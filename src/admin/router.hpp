// The admin API's routes as a function from a request to a response: authentication, routing,
// query parsing, JSON bodies and errors. Beast-free, so routing is unit-tested without sockets;
// http_server.cpp only moves these values over HTTP/1.1.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace edgemq::broker {
class broker;
}

namespace edgemq::admin {

struct http_request {
  std::string method;           // "GET", "DELETE", ...
  std::string target;           // path and query, as received
  std::string authorization;    // the Authorization header, empty when absent
  std::string if_none_match{};  // the If-None-Match header (the dashboard's files), empty when absent
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;          // for 405: the methods the path allows
  bool authenticate = false;  // for 401: send WWW-Authenticate: Bearer
  // Further headers; a Cache-Control here replaces the default "no-store" (the dashboard's files).
  std::vector<std::pair<std::string, std::string>> headers;
};

// What /readyz reports; every field true: ready.
struct readiness {
  bool started = false;     // restore done, every MQTT listener bound and accepting
  bool persistence = true;  // the broker journal writes (true when persistence is off)
  bool statestore = true;   // the state store writes (true when it is off)
};

struct admin_context {
  broker::broker& core;
  // The MQTT listeners as the ready line prints them, by index (empty until they are bound).
  std::function<std::vector<std::string>()> listeners;
  std::string version;
  std::string token;  // empty: no token asked for
  std::function<readiness()> ready;
};

// Any thread; everything it reads is safe to read concurrently with the broker running.
http_response handle(const admin_context& ctx, const http_request& req);

// A JSON error body {"code": ..., "message": ...} with its status.
http_response error_response(unsigned status, std::string code, std::string message);

// True when `a` equals `b`; the time taken depends only on their lengths, not on where they differ.
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace edgemq::admin
