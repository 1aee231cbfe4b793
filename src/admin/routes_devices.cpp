// IoT Hub's service REST API on the admin server (docs/devices.md, "Service API"): the paths,
// statuses and error bodies azure-iothub's Registry and Client expect, over ctx.devices (a
// devices::hub). Authorization is an IoT Hub SharedAccessSignature of a configured service
// policy (what an IoT Hub connection string makes), or the admin bearer token for operators.
// Paths are IoT Hub's own, not under /api/v1, because the SDKs build them themselves.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

#include "admin/routes.hpp"
#include "devices/hub.hpp"

namespace edgemq::admin {
namespace {

using devices::status;

// IoT Hub's method timeouts: responseTimeoutInSeconds 5..300 there; edgemq accepts from 1 so a
// test or an impatient operator need not wait 5 s (docs/devices.md).
constexpr std::int64_t max_method_timeout_s = 300;
// The admin server's own deadline for a method comes after the hub's, which answers 504 itself.
constexpr std::chrono::seconds method_grace{5};
constexpr std::size_t max_device_id = 128;

// {"Message":"ErrorCode:<code>;<text>","ExceptionMessage":...}: azure-iot-http-base splits
// Message at ';' and ':' to find the code (DeviceNotFound, ...) that picks the SDK's error class.
http_response hub_error(unsigned code, const std::string& error_code, const std::string& text) {
  return json_response(
      code, {{"Message", "ErrorCode:" + error_code + ";" + text}, {"ExceptionMessage", error_code + ": " + text}});
}

http_response status_error(status s, const std::string& id) {
  switch (s) {
    case status::not_found:
      return hub_error(404, "DeviceNotFound", "Device " + id + " not registered");
    case status::conflict:
      return hub_error(409, "DeviceAlreadyExists", "A device with ID '" + id + "' is already registered");
    case status::precondition_failed:
      return hub_error(412, "PreconditionFailed", "Precondition failed: the etag does not match");
    case status::bad_request:
      return hub_error(400, "ArgumentInvalid", "The request is not valid (malformed, too large or too deep)");
    case status::device_offline:
      return hub_error(404, "DeviceNotOnline", "Device " + id + " is not online");
    case status::timeout:
      return hub_error(504, "GatewayTimeout", "Timed out waiting for the response from device " + id);
    case status::unavailable:
      return hub_error(503, "ServiceUnavailable", "The state store did not accept the write");
    case status::ok:
    case status::created:
      break;
  }
  return hub_error(500, "ServerError", "unexpected status");
}

bool valid_device_id(const std::string& id) {
  // IoT Hub's character set, without '+' and '#': the id becomes an MQTT topic level.
  static constexpr std::string_view extra = "-.%_*?!(),:=@$'";
  if (id.empty() || id.size() > max_device_id) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned v = 0;
    if (s[i] == '%' && i + 2 < s.size() &&
        std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16).ptr == s.data() + i + 3) {
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A SharedAccessSignature of a service policy, for this hub's hostname, not expired.
bool sas_authorized(const admin_context& ctx, const std::string& authorization) {
  const auto t = devices::parse_sas_token(authorization);
  const auto hostname = ctx.devices->hostname();
  if (!t || t->skn.empty() || hostname.empty()) return false;
  // The service SDK sends sr plain, others URL-encode it: the signature is over sr as sent
  // (verify_sas), the comparison over the decoded name.
  if (lower(url_decode(t->sr)) != lower(hostname)) return false;
  const auto key = ctx.devices->service_key(t->skn);
  if (!key) return false;
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  return devices::verify_sas(*t, *key, static_cast<std::uint64_t>(now.count()));
}

// The JSON body of a request; an empty body is the empty object. IoT Hub does not insist on
// the Content-Type, but a body that is there must be a JSON object.
std::optional<http_response> json_body(const http_request& req, json& out) {
  if (req.body.empty()) {
    out = json::object();
    return std::nullopt;
  }
  out = json::parse(req.body, nullptr, false);
  if (out.is_discarded() || !out.is_object())
    return hub_error(400, "ArgumentInvalid", "The request body is not a JSON object");
  return std::nullopt;
}

std::string string_field(const json& obj, const char* name) {
  const auto it = obj.find(name);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The device of a PUT body (as azure-iothub sends it: a new device, or one GET returned with
// its read-only fields, which are ignored).
std::optional<devices::device> device_from_json(const json& body, const std::string& id, std::string& why) {
  devices::device d;
  d.device_id = id;
  if (auto b = body.find("deviceId"); b != body.end() && !(b->is_string() && b->get<std::string>() == id)) {
    why = "deviceId in the body does not match the path";
    return std::nullopt;
  }
  if (auto s = body.find("status"); s != body.end() && !s->is_null()) {
    if (!s->is_string() || (*s != "enabled" && *s != "disabled")) {
      why = "status must be 'enabled' or 'disabled'";
      return std::nullopt;
    }
    d.enabled = *s == "enabled";
  }
  const auto auth = body.find("authentication");
  if (auth == body.end() || auth->is_null()) return d;
  if (!auth->is_object()) {
    why = "authentication must be an object";
    return std::nullopt;
  }
  if (auto t = auth->find("type"); t != auth->end() && !t->is_null()) {
    if (!t->is_string() || (*t != "sas" && *t != "selfSigned" && *t != "certificateAuthority")) {
      why = "authentication.type must be 'sas', 'selfSigned' or 'certificateAuthority'";
      return std::nullopt;
    }
    d.auth_type = t->get<std::string>();
  }
  if (auto k = auth->find("symmetricKey"); k != auth->end() && k->is_object()) {
    d.primary_key = string_field(*k, "primaryKey");
    d.secondary_key = string_field(*k, "secondaryKey");
    for (const auto* key : {&d.primary_key, &d.secondary_key}) {
      const auto bytes = key->empty() ? std::optional<std::string>("") : base64_decode(*key);
      if (!bytes || (!key->empty() && (bytes->size() < 16 || bytes->size() > 64))) {
        why = "a symmetric key must be base64 of 16 to 64 bytes";
        return std::nullopt;
      }
    }
  }
  if (auto x = auth->find("x509Thumbprint"); x != auth->end() && x->is_object()) {
    d.primary_thumbprint = string_field(*x, "primaryThumbprint");
    d.secondary_thumbprint = string_field(*x, "secondaryThumbprint");
  }
  if (d.auth_type == "selfSigned" && d.primary_thumbprint.empty()) {
    why = "a selfSigned device needs authentication.x509Thumbprint.primaryThumbprint";
    return std::nullopt;
  }
  return d;
}

http_response device_route(const admin_context& ctx, const http_request& req, const std::string& id) {
  auto& hub = *ctx.devices;
  if (req.method == "GET" || req.method == "HEAD") {
    const auto d = hub.get_device(id);
    return d ? json_response(200, d->to_json()) : status_error(status::not_found, id);
  }
  if (req.method == "DELETE") {
    auto r = hub_error(503, "ServiceUnavailable", "The registry did not answer in time");
    r.deferred = std::make_shared<deferred_response>();
    r.deferred->timeout = std::chrono::seconds(10);
    r.deferred->start = [&hub, id, if_match = req.header("if-match")](completion done) {
      hub.delete_device(id, if_match,
                        [done, id](status s) { done(s == status::ok ? no_content() : status_error(s, id)); });
      return std::function<void()>([] {});
    };
    return r;
  }
  if (req.method != "PUT") return method_not_allowed("GET, PUT, DELETE");
  json body;
  if (auto bad = json_body(req, body)) return *bad;
  std::string why;
  auto d = device_from_json(body, id, why);
  if (!d) return hub_error(400, "ArgumentInvalid", why);
  auto r = hub_error(503, "ServiceUnavailable", "The registry did not answer in time");
  r.deferred = std::make_shared<deferred_response>();
  r.deferred->timeout = std::chrono::seconds(10);
  r.deferred->start = [&hub, id, d = std::move(*d), if_match = req.header("if-match")](completion done) mutable {
    hub.put_device(std::move(d), if_match, [done, id](status s, devices::device out) {
      done(s == status::ok || s == status::created ? json_response(200, out.to_json()) : status_error(s, id));
    });
    return std::function<void()>([] {});
  };
  return r;
}

http_response twin_route(const admin_context& ctx, const http_request& req, const std::string& id) {
  auto& hub = *ctx.devices;
  if (req.method == "GET" || req.method == "HEAD") {
    const auto t = hub.get_twin(id);
    return t ? json_response(200, t->to_json()) : status_error(status::not_found, id);
  }
  if (req.method != "PATCH") return method_not_allowed("GET, PATCH");
  json patch;
  if (auto bad = json_body(req, patch)) return *bad;
  // Only tags and desired properties change here (other members, as GET returns them, are ignored).
  for (const char* k : {"tags", "properties"})
    if (auto v = patch.find(k); v != patch.end() && !v->is_object() && !v->is_null())
      return hub_error(400, "ArgumentInvalid", std::string(k) + " must be an object");
  if (auto p = patch.find("properties"); p != patch.end() && p->is_object() && p->contains("reported"))
    return hub_error(400, "ArgumentInvalid", "reported properties are written by the device only");
  auto r = hub_error(503, "ServiceUnavailable", "The twin store did not answer in time");
  r.deferred = std::make_shared<deferred_response>();
  r.deferred->timeout = std::chrono::seconds(10);
  r.deferred->start = [&hub, id, patch = std::move(patch), if_match = req.header("if-match")](completion done) {
    hub.patch_twin(id, patch, if_match, [done, id](status s, devices::twin t) {
      done(s == status::ok ? json_response(200, t.to_json()) : status_error(s, id));
    });
    return std::function<void()>([] {});
  };
  return r;
}

// A whole number of seconds in [lo, hi] from field `name`, or `def` when absent or null.
std::optional<std::int64_t> seconds_field(const json& body, const char* name, std::int64_t def, std::int64_t lo,
                                          std::int64_t hi) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return def;
  if (!it->is_number_integer()) return std::nullopt;
  const auto v = it->get<std::int64_t>();
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

http_response method_route(const admin_context& ctx, const http_request& req, const std::string& id) {
  if (req.method != "POST") return method_not_allowed("POST");
  json body;
  if (auto bad = json_body(req, body)) return *bad;
  devices::method_request m;
  m.device_id = id;
  m.method_name = string_field(body, "methodName");
  if (m.method_name.empty() || m.method_name.find_first_of("/+#") != std::string::npos)
    return hub_error(400, "ArgumentInvalid", "methodName must be a non-empty string without '/', '+' or '#'");
  m.payload = body.contains("payload") ? body["payload"] : json(nullptr);
  const auto response_s = seconds_field(body, "responseTimeoutInSeconds", 30, 1, max_method_timeout_s);
  const auto connect_s = seconds_field(body, "connectTimeoutInSeconds", 0, 0, max_method_timeout_s);
  if (!response_s || !connect_s)
    return hub_error(400, "ArgumentInvalid",
                     "responseTimeoutInSeconds must be 1 to 300 and connectTimeoutInSeconds 0 to 300");
  m.response_timeout = std::chrono::seconds(*response_s);
  if (!ctx.devices->get_device(id)) return status_error(status::not_found, id);

  auto r = status_error(status::timeout, id);
  r.deferred = std::make_shared<deferred_response>();
  r.deferred->timeout = m.response_timeout + method_grace;
  r.deferred->start = [&hub = *ctx.devices, m = std::move(m)](completion done) mutable {
    const auto id = m.device_id;
    hub.invoke_method(std::move(m), [done, id](status s, devices::method_response answer) {
      if (s != status::ok) return done(status_error(s, id));
      done(json_response(200, {{"status", answer.status}, {"payload", answer.payload}}));
    });
    // The hub times the method out itself (504 above); nothing to cancel here.
    return std::function<void()>([] {});
  };
  return r;
}

http_response c2d_route(const admin_context& ctx, const http_request& req, const std::string& id) {
  if (req.method != "POST") return method_not_allowed("POST");
  devices::c2d_message m;
  m.payload = req.body;
  for (const auto& [name, value] : req.headers) {
    constexpr std::string_view app = "iothub-app-";
    if (name.starts_with(app) && name.size() > app.size()) m.properties.emplace_back(name.substr(app.size()), value);
  }
  if (auto v = req.header("iothub-messageid"); !v.empty()) m.message_id = v;
  if (auto v = req.header("iothub-correlationid"); !v.empty()) m.correlation_id = v;
  if (auto v = req.header("iothub-contenttype"); !v.empty()) m.content_type = v;
  if (auto v = req.header("iothub-contentencoding"); !v.empty()) m.content_encoding = v;
  if (auto v = req.header("iothub-expiry"); !v.empty()) {
    std::uint64_t s = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
    if (ec != std::errc{} || p != v.data() + v.size() || s == 0 || s > 365ull * 24 * 3600)
      return hub_error(400, "ArgumentInvalid", "iothub-expiry must be a number of seconds from 1 to 31536000");
    m.expiry = std::chrono::seconds(s);
  }
  const auto s = ctx.devices->send_c2d(id, std::move(m));
  return s == status::ok ? no_content() : status_error(s, id);
}

// POST /devices/query: the one query the registry offers here, all twins ("SELECT * FROM
// devices"); anything else is 400 (IoT Hub's query language is not implemented).
http_response query_route(const admin_context& ctx, const http_request& req) {
  json body;
  if (auto bad = json_body(req, body)) return *bad;
  auto q = lower(string_field(body, "query"));
  std::string compact;
  for (char c : q)
    if (!std::isspace(static_cast<unsigned char>(c)) || (!compact.empty() && compact.back() != ' ')) compact += c;
  while (!compact.empty() && compact.back() == ' ') compact.pop_back();
  if (compact != "select * from devices")
    return hub_error(400, "ArgumentInvalid", "only 'SELECT * FROM devices' is supported");
  json out = json::array();
  for (const auto& d : ctx.devices->list_devices()) {
    auto t = ctx.devices->get_twin(d.device_id);
    if (!t) continue;
    auto j = t->to_json();
    j["status"] = d.enabled ? "enabled" : "disabled";
    j["connectionState"] = d.connected ? "Connected" : "Disconnected";
    out.push_back(std::move(j));
  }
  return json_response(200, out);
}

http_response list_route(const admin_context& ctx, const http_request& req, const query_map& q) {
  if (req.method != "GET" && req.method != "HEAD") return method_not_allowed("GET");
  std::size_t top = 1000;
  if (auto it = q.find("top"); it != q.end()) {
    const auto& s = it->second;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), top);
    if (ec != std::errc{} || p != s.data() + s.size() || top < 1 || top > 1000)
      return hub_error(400, "ArgumentInvalid", "top must be a whole number from 1 to 1000");
  }
  json out = json::array();
  for (const auto& d : ctx.devices->list_devices()) {
    if (out.size() >= top) break;
    out.push_back(d.to_json());
  }
  return json_response(200, out);
}

// "a/b/c" split at '/'.
std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  while (true) {
    const auto slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

}  // namespace

namespace {

// IoT Hub service APIs the SDK offers that edgemq does not implement: answered 501 with IoT Hub's
// error body (after authorization), so the SDK reports what is missing rather than a 401 from
// the operator API.
constexpr std::string_view unimplemented_prefixes[] = {"/jobs", "/statistics/", "/configurations", "/digitaltwins/",
                                                       "/messages/"};

http_response unimplemented(const std::string& what) {
  return hub_error(501, "NotImplemented", "edgemq does not implement IoT Hub's " + what);
}

bool prefix_of(std::string_view path, std::string_view prefix) {
  return path.starts_with(prefix) &&
         (prefix.ends_with("/") || path.size() == prefix.size() || path[prefix.size()] == '/');
}

}  // namespace

bool is_iothub_path(const std::string& path) {
  if (path == "/devices" || path.starts_with("/devices/") || path.starts_with("/twins/")) return true;
  return std::any_of(std::begin(unimplemented_prefixes), std::end(unimplemented_prefixes),
                     [&](std::string_view p) { return prefix_of(path, p); });
}

http_response iothub_route(const admin_context& ctx, const http_request& req, const std::string& path,
                           const query_map& q, bool operator_authorized) {
  // A SharedAccessSignature is checked whenever one is sent: with no admin token the operator
  // paths are open, but a wrong service signature is still a wrong signature.
  const bool sas = req.authorization.starts_with("SharedAccessSignature ");
  if (sas ? !sas_authorized(ctx, req.authorization) : !operator_authorized)
    return hub_error(401, "IotHubUnauthorizedAccess", "Unauthorized");
  for (const auto p : unimplemented_prefixes)
    if (prefix_of(path, p)) return unimplemented(std::string(p.substr(1, p.find('/', 1) - 1)) + " API");
  if ((path == "/devices" || path == "/devices/") && req.method == "POST")
    return unimplemented("bulk registry operations");
  for (const auto& [k, v] : q)
    if (k != "api-version" && k != "top")
      return hub_error(400, "ArgumentInvalid", "unknown query parameter '" + k + "'");

  if (path == "/devices" || path == "/devices/") return list_route(ctx, req, q);
  if (path == "/devices/query" && req.method == "POST") return query_route(ctx, req);
  const bool twins = path.starts_with("/twins/");
  const auto parts = segments(std::string_view(path).substr(twins ? 7 : 9));
  const auto& id = parts[0];
  if (!valid_device_id(id))
    return hub_error(400, "ArgumentInvalid", "a device id is 1 to 128 letters, digits and -.%_*?!(),:=@$'");
  if (twins && parts.size() == 1) return twin_route(ctx, req, id);
  if (twins && parts.size() == 2 && parts[1] == "methods") return method_route(ctx, req, id);
  if (!twins && parts.size() == 1) return device_route(ctx, req, id);
  if (parts.size() >= 2 && parts[1] == "modules") return unimplemented("modules");
  // IoT Hub spells it deviceBound; the SDKs' own paths use devicebound: both are accepted.
  if (!twins && parts.size() == 3 && parts[1] == "messages" && lower(parts[2]) == "devicebound")
    return c2d_route(ctx, req, id);
  return hub_error(404, "NotFound", "no such IoT Hub path: " + path);
}

}  // namespace edgemq::admin
