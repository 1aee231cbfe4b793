// The device side of the hub: CONNECT decisions, the `$iothub/...` requests, telemetry
// annotation, direct methods, cloud-to-device messages and lifecycle events (device_hub.hpp).
#include <algorithm>

#include <spdlog/spdlog.h>

#include "broker/log_safe.hpp"
#include "devices/device_hub.hpp"
#include "devices/device_permissions.hpp"
#include "devices/dialect.hpp"
#include "devices/twin_doc.hpp"

namespace edgemq::devices {
namespace {

using json = nlohmann::json;
using rc = mqtt::reason_code;

constexpr std::string_view twin_get_prefix = "$iothub/twin/GET/";
constexpr std::string_view reported_prefix = "$iothub/twin/PATCH/properties/reported/";
constexpr std::string_view method_res_prefix = "$iothub/methods/res/";

broker::connect_decision refuse(rc code, std::string why) {
  broker::connect_decision d;
  d.code = code;
  d.why = std::move(why);
  return d;
}

// The query of a `$iothub/...` topic: what follows its "?".
std::string_view query_of(std::string_view topic) {
  const auto q = topic.find('?');
  return q == std::string_view::npos ? std::string_view{} : topic.substr(q + 1);
}

std::string error_body(int code, std::string_view message) {
  return json{{"errorCode", code}, {"message", message}}.dump();
}

}  // namespace

// ---- CONNECT -----------------------------------------------------------------------------------

std::optional<broker::connect_decision> device_hub::on_connect(const mqtt::connect& c,
                                                               const broker::peer_certificate* cert,
                                                               std::uint64_t connection_id) {
  if (!c.username) return std::nullopt;
  const auto u = parse_device_username(*c.username);
  if (!u || !iequals(u->hostname, opts_.hostname)) return std::nullopt;  // not ours: the listener's chain
  const std::string client_id = u->module_id.empty() ? u->device_id : u->device_id + "/" + u->module_id;
  if (c.client_id != client_id)
    return refuse(rc::client_identifier_not_valid, "IoT Hub client id must be the device id '" + client_id + "'");
  std::unique_lock lk(mu_);
  if (!started_) return refuse(rc::server_unavailable, "the device registry is not loaded yet");
  auto it = entries_.find(u->device_id);
  if (it == entries_.end()) return refuse(rc::bad_user_name_or_password, "unknown device");
  const device& d = it->second.d;
  std::optional<broker::clock::time_point> expires_at;
  if (c.password) {
    const auto token = parse_sas_token(*c.password);
    if (!token) return refuse(rc::bad_user_name_or_password, "password is not a SharedAccessSignature");
    // Signed as sent; then the decoded resource must be this device (or this module of it).
    const auto sr = url_decode(token->sr);
    const std::string device_path = "/devices/" + u->device_id;
    const std::string resource = u->module_id.empty() ? device_path : device_path + "/modules/" + u->module_id;
    const auto slash = sr ? sr->find('/') : std::string::npos;
    if (!sr || slash == std::string::npos || !iequals(sr->substr(0, slash), opts_.hostname) ||
        (sr->substr(slash) != resource && sr->substr(slash) != device_path))
      return refuse(rc::bad_user_name_or_password, "SAS token resource is not this device");
    const auto now_s = wall_ms_() / 1000;
    const bool good = (!d.primary_key.empty() && verify_sas(*token, d.primary_key, now_s)) ||
                      (!d.secondary_key.empty() && verify_sas(*token, d.secondary_key, now_s));
    if (!good) return refuse(rc::bad_user_name_or_password, "SAS token signature wrong or expired");
    // verify_sas checked that `se` is a number after now.
    expires_at = broker_.now() + std::chrono::seconds(std::stoull(token->se) - now_s);
  } else if (cert && !cert->sha1_thumbprint.empty()) {
    bool good = false;
    if (d.auth_type == "selfSigned") {
      for (const auto* t : {&d.primary_thumbprint, &d.secondary_thumbprint})
        if (!t->empty() && (*t == cert->sha1_thumbprint || *t == cert->sha256_thumbprint)) good = true;
    } else if (d.auth_type == "certificateAuthority") {
      good = cert->subject_cn == u->device_id;  // verified against the listener's client CA
    }
    if (!good) return refuse(rc::bad_user_name_or_password, "client certificate is not registered for this device");
  } else {
    return refuse(rc::bad_user_name_or_password, "neither a SAS token nor a client certificate");
  }
  // Checked after the credentials, so a disabled device's existence is told only to its holder.
  if (!d.enabled) return refuse(rc::not_authorized, "device disabled");
  lk.unlock();  // registered in on_connected: a CONNECT refused after this (its will) never closes
  broker::connect_decision ok;
  ok.code = rc::success;
  ok.username = client_id;
  ok.permissions = std::make_shared<device_permissions>(u->device_id, u->module_id);
  ok.expires_at = expires_at;
  return ok;
}

void device_hub::on_connected(std::string_view client_id, std::uint64_t connection_id) {
  // The client id is "deviceId" or "deviceId/moduleId" (on_connect insisted; ids have no '/').
  const auto slash = client_id.find('/');
  connection conn{std::string(client_id.substr(0, slash)),
                  slash == std::string_view::npos ? std::string() : std::string(client_id.substr(slash + 1)),
                  std::string(client_id), true};
  std::unique_lock lk(mu_);
  const auto& c = connections_.insert_or_assign(connection_id, std::move(conn)).first->second;
  if (!c.module_id.empty()) return;
  const std::string id = c.device_id;
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  auto& e = it->second;
  const bool was = e.d.connected;
  e.d.connected = true;
  e.d.last_activity_ms = wall_ms_();
  // Desired changes made while it was away: the whole desired document, as one patch.
  json pending;
  std::uint64_t version = 0;
  if (e.desired_pending) {
    pending = without_metadata(e.t.desired);
    version = pending.value("$version", std::uint64_t{0});
    pending.erase("$version");
  }
  lk.unlock();
  if (!was) publish_event(id, "connected", json{{"clientId", std::string(client_id)}});
  if (!pending.is_null()) push_desired(id, pending, version);
}

void device_hub::on_connection_closed(std::string_view, std::uint64_t connection_id) {
  std::unique_lock lk(mu_);
  auto c = connections_.find(connection_id);
  if (c == connections_.end()) return;
  const auto gone = std::move(c->second);
  connections_.erase(c);
  if (!gone.confirmed || !gone.module_id.empty() || device_connected_locked(gone.device_id)) return;
  auto it = entries_.find(gone.device_id);
  if (it == entries_.end() || !it->second.d.connected) return;
  it->second.d.connected = false;
  lk.unlock();
  publish_event(gone.device_id, "disconnected", json{{"clientId", gone.client_id}});
}

bool device_hub::device_connected_locked(const std::string& id) const {
  for (const auto& [cid, c] : connections_)
    if (c.confirmed && c.device_id == id && c.module_id.empty()) return true;
  return false;
}

void device_hub::touch_locked(std::uint64_t connection_id) {
  auto c = connections_.find(connection_id);
  if (c == connections_.end()) return;
  if (auto it = entries_.find(c->second.device_id); it != entries_.end()) it->second.d.last_activity_ms = wall_ms_();
}

void device_hub::disconnect_device(const std::string& id, bool end) {
  std::vector<std::string> clients;
  {
    std::lock_guard g(mu_);
    for (const auto& [cid, c] : connections_)
      if (c.device_id == id) clients.push_back(c.client_id);
  }
  // An offline device's session too, when ending it.
  if (std::find(clients.begin(), clients.end(), id) == clients.end()) clients.push_back(id);
  for (const auto& client : clients) {
    if (end)
      broker_.sessions().end_session(client, rc::not_authorized);
    else
      broker_.sessions().disconnect(client, rc::not_authorized);
  }
}

// ---- topics ------------------------------------------------------------------------------------

mqtt::reason_code device_hub::on_publish(const broker::publish_context& ctx, mqtt::publish& p) {
  if (p.topic.starts_with("devices/")) {
    ctx.route = true;  // telemetry (and anything else there) is routed as an ordinary message
    annotate_telemetry(p);
    std::lock_guard g(mu_);
    touch_locked(ctx.connection_id);
    return rc::success;
  }
  connection c;
  {
    std::lock_guard g(mu_);
    auto it = connections_.find(ctx.connection_id);
    if (it == connections_.end()) return rc::success;  // not a device connection: nothing to answer
    c = it->second;
    touch_locked(ctx.connection_id);
  }
  const std::string_view topic = p.topic;
  const auto rid = query_value(query_of(topic), "$rid").value_or("");
  if (topic.starts_with(twin_get_prefix)) {
    twin_get(c, rid);
  } else if (topic.starts_with(reported_prefix)) {
    reported_patch(c, rid, p.payload);
  } else if (topic.starts_with(method_res_prefix)) {
    auto rest = topic.substr(method_res_prefix.size());
    method_response_from(c, rest.substr(0, rest.find('/')), rid, p.payload);
  }
  return rc::success;
}

void device_hub::annotate_telemetry(mqtt::publish& p) {
  // devices/{id}/messages/events/{bag} or devices/{id}/modules/{mid}/messages/events/{bag}
  constexpr std::string_view marker = "/messages/events/";
  const auto at = p.topic.find(marker);
  if (at == std::string::npos) return;
  const auto bag = parse_property_bag(std::string_view(p.topic).substr(at + marker.size()));
  if (!bag) return;  // not a property bag: routed as it came
  for (const auto& [k, v] : *bag) {
    if (k == "$.ct" && !p.props.content_type) p.props.content_type = v;
    p.props.user_properties.emplace_back(k, v);
  }
}

void device_hub::reply(const std::string& client_id, std::string topic, std::string payload) {
  auto m = std::make_shared<broker::message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  broker::delivery d;
  d.msg = std::move(m);
  broker_.deliver_to(client_id, std::move(d));
}

void device_hub::twin_get(const connection& c, const std::string& rid) {
  if (!c.module_id.empty())
    return reply(c.client_id, "$iothub/twin/res/404/?$rid=" + rid, error_body(404, "module twins are not supported"));
  std::string body;
  {
    std::lock_guard g(mu_);
    auto it = entries_.find(c.device_id);
    if (it != entries_.end())
      body = json{{"desired", without_metadata(it->second.t.desired)},
                  {"reported", without_metadata(it->second.t.reported)}}
                 .dump();
  }
  if (body.empty()) return reply(c.client_id, "$iothub/twin/res/404/?$rid=" + rid, error_body(404, "no such device"));
  reply(c.client_id, "$iothub/twin/res/200/?$rid=" + rid, std::move(body));
}

void device_hub::reported_patch(const connection& c, const std::string& rid, const std::string& body) {
  const auto bad = [&](int code, std::string why) {
    reply(c.client_id, "$iothub/twin/res/" + std::to_string(code) + "/?$rid=" + rid, error_body(code, why));
  };
  if (!c.module_id.empty()) return bad(404, "module twins are not supported");
  const auto patch = json::parse(body, nullptr, false);
  if (patch.is_discarded() || !patch.is_object()) return bad(400, "the reported patch must be a JSON object");
  std::unique_lock lk(mu_);
  auto it = entries_.find(c.device_id);
  if (it == entries_.end()) {
    lk.unlock();
    return bad(404, "no such device");
  }
  auto& e = it->second;
  json reported = e.t.reported;
  std::string why;
  if (!patch_section(reported, patch, iso8601(wall_ms_()), false, why)) {
    lk.unlock();
    return bad(400, why);
  }
  const auto previous = e;
  e.t.reported = std::move(reported);
  ++e.t.version;
  e.t.etag = random_etag();
  const std::string written = e.t.etag;
  const std::uint64_t version = e.t.reported.value("$version", std::uint64_t{0});
  std::vector<kv_write> kvs{{std::string(twins_prefix) + c.device_id, twin_record(e)}};
  lk.unlock();
  write(std::move(kvs), [this, c, rid, previous, written, version, patch](bool ok) {
    if (!ok) {
      {
        std::lock_guard g(mu_);
        auto it = entries_.find(c.device_id);
        if (it != entries_.end() && it->second.t.etag == written) it->second = previous;
      }
      return reply(c.client_id, "$iothub/twin/res/503/?$rid=" + rid,
                   error_body(503, "the state store cannot write; try again later"));
    }
    reply(c.client_id, "$iothub/twin/res/204/?$rid=" + rid + "&$version=" + std::to_string(version), {});
    publish_event(c.device_id, "twinChanged", json{{"properties", {{"reported", patch}}}});
  });
}

void device_hub::push_desired(const std::string& id, const json& patch, std::uint64_t version) {
  json body = patch;
  body["$version"] = version;
  auto m = std::make_shared<broker::message>();
  m->topic = "$iothub/twin/PATCH/properties/desired/?$version=" + std::to_string(version);
  m->payload = body.dump();
  broker::delivery d;
  d.msg = std::move(m);
  if (!broker_.deliver_to(id, std::move(d))) return;  // offline: pushed when it connects
  std::lock_guard g(mu_);
  if (auto it = entries_.find(id);
      it != entries_.end() && it->second.t.desired.value("$version", std::uint64_t{0}) == version)
    it->second.desired_pending = false;
}

// ---- direct methods --------------------------------------------------------------------------

void device_hub::invoke_method(method_request r, std::function<void(status, method_response)> done) {
  // The name becomes a topic level: no separators, wildcards or query.
  if (r.method_name.empty() || r.method_name.find_first_of("/+#?") != std::string::npos ||
      r.method_name.find('\0') != std::string::npos)
    return done(status::bad_request, {});
  std::string rid;
  {
    std::lock_guard g(mu_);
    if (!started_) return done(status::unavailable, {});
    if (!entries_.contains(r.device_id)) return done(status::not_found, {});
    if (!device_connected_locked(r.device_id)) return done(status::device_offline, {});
    rid = std::to_string(next_rid_++);
    methods_[rid] = pending_method{r.device_id, std::move(done), std::chrono::steady_clock::now() + r.response_timeout};
  }
  timer_cv_.notify_all();
  auto m = std::make_shared<broker::message>();
  m->topic = "$iothub/methods/POST/" + r.method_name + "/?$rid=" + rid;
  m->payload = r.payload.is_null() ? std::string("null") : r.payload.dump();
  broker::delivery d;
  d.msg = std::move(m);
  if (broker_.deliver_to(r.device_id, std::move(d))) return;
  std::function<void(status, method_response)> cb;
  {
    std::lock_guard g(mu_);
    if (auto it = methods_.find(rid); it != methods_.end()) {
      cb = std::move(it->second.done);
      methods_.erase(it);
    }
  }
  if (cb) cb(status::device_offline, {});
}

void device_hub::method_response_from(const connection& c, std::string_view status_text, const std::string& rid,
                                      const std::string& body) {
  std::function<void(status, method_response)> cb;
  {
    std::lock_guard g(mu_);
    auto it = methods_.find(rid);
    // Only the device the method went to may answer it.
    if (it == methods_.end() || it->second.device_id != c.device_id || !c.module_id.empty()) return;
    cb = std::move(it->second.done);
    methods_.erase(it);
  }
  method_response r;
  r.status = std::atoi(std::string(status_text).c_str());
  r.payload = json::parse(body, nullptr, false);
  if (r.payload.is_discarded()) r.payload = body.empty() ? json() : json(body);
  cb(status::ok, std::move(r));
}

void device_hub::run_timer() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    auto next = std::chrono::steady_clock::time_point::max();
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::function<void(status, method_response)>> expired;
    for (auto it = methods_.begin(); it != methods_.end();) {
      if (it->second.deadline <= now) {
        expired.push_back(std::move(it->second.done));
        it = methods_.erase(it);
      } else {
        next = std::min(next, it->second.deadline);
        ++it;
      }
    }
    if (!expired.empty()) {
      lk.unlock();
      for (auto& cb : expired) cb(status::timeout, {});
      lk.lock();
      continue;
    }
    if (next == std::chrono::steady_clock::time_point::max())
      timer_cv_.wait(lk);
    else
      timer_cv_.wait_until(lk, next);
  }
}

// ---- cloud-to-device and events ----------------------------------------------------------------

status device_hub::send_c2d(const std::string& id, c2d_message m) {
  {
    std::lock_guard g(mu_);
    if (!started_) return status::unavailable;
    if (!entries_.contains(id)) return status::not_found;
  }
  property_list bag = m.properties;
  if (m.message_id) bag.emplace_back("$.mid", *m.message_id);
  if (m.correlation_id) bag.emplace_back("$.cid", *m.correlation_id);
  bag.emplace_back("$.to", "/devices/" + id + "/messages/devicebound");
  if (m.content_type) bag.emplace_back("$.ct", *m.content_type);
  if (m.content_encoding) bag.emplace_back("$.ce", *m.content_encoding);
  auto msg = std::make_shared<broker::message>();
  // The '/' after "devicebound" is always there: the SDK matches ^devices/.*/messages/devicebound/.*$.
  msg->topic = "devices/" + id + "/messages/devicebound/" + make_property_bag(bag);
  msg->payload = std::move(m.payload);
  msg->qos = mqtt::qos::at_least_once;  // queued in the device's persistent session while it is away
  mqtt::properties props;
  props.user_properties = std::move(bag);
  if (m.content_type) props.content_type = *m.content_type;
  if (m.correlation_id) props.correlation_data = *m.correlation_id;
  if (m.expiry) {
    const auto secs = std::clamp<std::int64_t>(m.expiry->count(), 1, 0xFFFFFFFF);
    props.message_expiry_interval = static_cast<std::uint32_t>(secs);
    msg->expires_at = broker_.now() + std::chrono::seconds(secs);
  }
  msg->props = std::move(props);
  broker_.publish(msg);
  return status::ok;
}

void device_hub::publish_event(const std::string& id, std::string_view kind, json body) {
  body["deviceId"] = id;
  body["event"] = kind;
  body["time"] = iso8601(wall_ms_());
  auto m = std::make_shared<broker::message>();
  m->topic = std::string(events_prefix) + id + "/" + std::string(kind);
  m->payload = body.dump();
  m->qos = mqtt::qos::at_least_once;
  mqtt::properties props;
  props.content_type = "application/json";
  m->props = std::move(props);
  broker_.publish(m);
}

}  // namespace edgemq::devices
