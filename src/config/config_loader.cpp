#include <cctype>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "config/config.hpp"

namespace edgemq::config {
namespace {

using json = nlohmann::json;

// Walks one JSON object against a table of known keys; every key not in the table is an error.
class object_reader {
 public:
  object_reader(json j, std::string path, std::vector<config_error>& errors)
      : j_(std::move(j)), path_(std::move(path)), errors_(errors) {}

  using handler = std::function<void(const json&, const std::string&)>;
  object_reader& key(const std::string& name, handler h) {
    handlers_.emplace(name, std::move(h));
    return *this;
  }
  void run() {
    if (!j_.is_object()) return error(path_.empty() ? "/" : path_, "must be an object");
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      const std::string p = path_ + "/" + it.key();
      auto h = handlers_.find(it.key());
      if (h == handlers_.end())
        error(p, "unknown key");
      else
        h->second(it.value(), p);
    }
  }
  void error(const std::string& p, const std::string& m) { errors_.push_back({p, m}); }

 private:
  json j_;
  std::string path_;
  std::vector<config_error>& errors_;
  std::map<std::string, handler> handlers_;
};

template <class T>
object_reader::handler integer(T& out, std::vector<config_error>& errors, std::uint64_t min, std::uint64_t max) {
  return [&out, &errors, min, max](const json& v, const std::string& p) {
    if (!v.is_number_integer() || (v.is_number_integer() && v.get<std::int64_t>() < 0 && !v.is_number_unsigned())) {
      errors.push_back({p, "must be a non-negative integer"});
      return;
    }
    const auto n = v.get<std::uint64_t>();
    if (n < min || n > max) {
      errors.push_back(
          {p, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + std::to_string(n)});
      return;
    }
    out = static_cast<T>(n);
  };
}

object_reader::handler boolean(bool& out, std::vector<config_error>& errors) {
  return [&out, &errors](const json& v, const std::string& p) {
    if (!v.is_boolean())
      errors.push_back({p, "must be true or false"});
    else
      out = v.get<bool>();
  };
}

object_reader::handler millis(std::chrono::milliseconds& out, std::vector<config_error>& errors, std::uint64_t min,
                              std::uint64_t max) {
  return [&out, &errors, min, max](const json& v, const std::string& p) {
    std::uint64_t n = 0;
    std::vector<config_error> local;
    integer(n, local, min, max)(v, p);
    if (!local.empty())
      errors.insert(errors.end(), local.begin(), local.end());
    else
      out = std::chrono::milliseconds(n);
  };
}

// A listener's "tls" object (mqtts and wss only).
void read_tls(const json& v, const std::string& p, tls_options& t, std::vector<config_error>& errors) {
  const auto file = [&errors](std::string& out) {
    return [&out, &errors](const json& f, const std::string& fp) {
      if (!f.is_string() || f.get<std::string>().empty())
        errors.push_back({fp, "must be a non-empty file name (PEM)"});
      else
        out = f.get<std::string>();
    };
  };
  object_reader r(v, p, errors);
  r.key("cert", file(t.cert))
      .key("key", file(t.key))
      .key("client_ca", file(t.client_ca))
      .key("require_client_cert", boolean(t.require_client_cert, errors))
      .key("min_version",
           [&](const json& m, const std::string& mp) {
             if (!m.is_string() || (m.get<std::string>() != "1.2" && m.get<std::string>() != "1.3"))
               errors.push_back({mp, "must be \"1.2\" or \"1.3\""});
             else
               t.min_version = m.get<std::string>();
           })
      .key("ciphers", [&](const json& c, const std::string& cp) {
        if (!c.is_string() || c.get<std::string>().empty())
          errors.push_back({cp, "must be a non-empty OpenSSL cipher list"});
        else
          t.ciphers = c.get<std::string>();
      });
  r.run();
}

// A ws/wss listener's "websocket" object.
void read_websocket(const json& v, const std::string& p, websocket_options& w, std::vector<config_error>& errors) {
  object_reader r(v, p, errors);
  r.key("max_frame_size", integer(w.max_frame_size, errors, max_frame_size_min, max_frame_size_max));
  r.run();
}

// One listener: "URL", or {"address": "URL", "allow_anonymous": true|false, "tls": {...},
// "websocket": {...}}, where URL is mqtt://HOST:PORT, mqtts://HOST:PORT, ws://HOST:PORT[/PATH],
// wss://HOST:PORT[/PATH] or a bare HOST:PORT (plain MQTT).
void read_listener(const json& v, const std::string& ip, std::vector<listen_endpoint>& eps,
                   std::vector<config_error>& errors) {
  listen_endpoint ep;
  std::string why;
  const auto address = [&](const json& a, const std::string& ap) {
    if (!a.is_string())
      errors.push_back(
          {ap,
           "must be \"host:port\" (a string such as \"0.0.0.0:1883\", \"[::1]:1883\", \"mqtts://0.0.0.0:8883\" or "
           "\"ws://0.0.0.0:8080/mqtt\")"});
    else if (!parse_listen_url(a.get<std::string>(), ep, &why))
      errors.push_back({ap, "must be \"host:port\": " + why});
    else
      return true;
    return false;
  };
  if (v.is_object()) {
    if (!v.contains("address")) return errors.push_back({ip + "/address", "missing (\"host:port\")"});
    bool ok = true;
    bool anon = false;
    bool authorization = true;
    object_reader r(v, ip, errors);
    const auto before = errors.size();
    r.key("address", [&](const json& a, const std::string& ap) { ok = address(a, ap); })
        .key("allow_anonymous", boolean(anon, errors))
        .key("authorization", boolean(authorization, errors))
        .key("tls", [&](const json& t, const std::string& tp) { read_tls(t, tp, ep.tls, errors); })
        .key("websocket", [&](const json& w, const std::string& wp) { read_websocket(w, wp, ep.websocket, errors); });
    r.run();
    if (!ok || errors.size() != before) return;
    if (v.contains("tls") && !uses_tls(ep.scheme))
      return errors.push_back({ip + "/tls", "only for an mqtts:// or wss:// listener"});
    if (v.contains("websocket") && !is_websocket(ep.scheme))
      return errors.push_back({ip + "/websocket", "only for a ws:// or wss:// listener"});
    if (v.contains("allow_anonymous")) ep.allow_anonymous = anon;
    ep.authorization = authorization;
    eps.push_back(ep);
    return;
  }
  if (address(v, ip)) eps.push_back(ep);
}

// "admin": "http://HOST:PORT", or {"address": "http(s)://HOST:PORT", "token_file": "FILE", "command_topic": "T",
// "tls": {"cert", "key", "min_version", "ciphers"}} (tls: https only, no client certificates).
void read_admin(const json& v, const std::string& p, admin_options& a, std::vector<config_error>& errors) {
  const auto address = [&](const json& x, const std::string& xp) {
    std::string why;
    if (!x.is_string())
      errors.push_back({xp, "must be \"http://HOST:PORT\" (a string such as \"http://127.0.0.1:8080\")"});
    else if (!parse_admin_url(x.get<std::string>(), a, &why))
      errors.push_back({xp, "must be \"http://HOST:PORT\": " + why});
  };
  if (!v.is_object()) return address(v, p);
  if (!v.contains("address")) return errors.push_back({p + "/address", "missing (\"http://HOST:PORT\")"});
  object_reader r(v, p, errors);
  r.key("address", address)
      .key("token_file",
           [&](const json& f, const std::string& fp) {
             if (!f.is_string() || f.get<std::string>().empty())
               errors.push_back({fp, "must be a non-empty file name (the bearer token)"});
             else
               a.token_file = f.get<std::string>();
           })
      .key("command_topic",
           [&](const json& f, const std::string& fp) {
             const auto why = f.is_string() ? check_command_topic(f.get<std::string>()) : "must be a string";
             if (!why.empty())
               errors.push_back({fp, why});
             else
               a.command_topic = f.get<std::string>();
           })
      .key("tls", [&](const json& t, const std::string& tp) {
        read_tls(t, tp, a.tls, errors);
        if (!a.tls.client_ca.empty() || a.tls.require_client_cert)
          errors.push_back({tp, "client certificates are not supported for the admin server (use token_file)"});
      });
  const auto before = errors.size();
  r.run();
  if (errors.size() == before && v.contains("tls") && !a.https)
    errors.push_back({p + "/tls", "only for an https:// admin address"});
}

void read_listeners(const json& v, const std::string& p, daemon_config& cfg, std::vector<config_error>& errors) {
  if (!v.is_array() || v.empty()) {
    errors.push_back(
        {p, "must be a non-empty array of \"host:port\" strings or {\"address\", \"allow_anonymous\"} objects"});
    return;
  }
  std::vector<listen_endpoint> eps;
  for (std::size_t i = 0; i < v.size(); ++i) read_listener(v[i], p + "/" + std::to_string(i), eps, errors);
  cfg.server.listeners = std::move(eps);
}

}  // namespace

bool valid_log_level(const std::string& l) {
  return l == "trace" || l == "debug" || l == "info" || l == "warn" || l == "error" || l == "critical" || l == "off";
}

bool valid_log_format(const std::string& f) {
  return f == "text" || f == "json";
}

namespace {
std::vector<config_error> apply_json_unguarded(const std::string& text, daemon_config& cfg);
}

// Any JSON exception is a configuration error, never an abort: json::parse throws out_of_range
// for a number beyond double's range (`1e999`, found by the config fuzzer), not parse_error.
std::vector<config_error> apply_json(const std::string& text, daemon_config& cfg) {
  try {
    return apply_json_unguarded(text, cfg);
  } catch (const json::exception& e) {
    return {{"", std::string("not a valid configuration: ") + e.what()}};
  }
}

namespace {
std::vector<config_error> apply_json_unguarded(const std::string& text, daemon_config& cfg) {
  std::vector<config_error> errors;
  json doc;
  try {
    doc = json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    errors.push_back({"", std::string("not valid JSON: ") + e.what()});
    return errors;
  }
  if (!doc.is_object()) {
    errors.push_back({"/", "the configuration must be a JSON object"});
    return errors;
  }
  auto& lim = cfg.limits;
  object_reader mqtt(doc.value("mqtt", json::object()), "/mqtt", errors);
  mqtt.key("max_packet_size", integer(lim.max_packet_size, errors, 64, 268435460))
      .key("receive_maximum", integer(lim.receive_maximum, errors, 1, 65535))
      .key("max_inflight", integer(lim.max_inflight, errors, 1, 65535))
      .key("topic_alias_maximum", integer(lim.topic_alias_maximum, errors, 0, 65535))
      .key("maximum_qos",
           [&](const json& v, const std::string& p) {
             std::uint8_t q = 2;
             std::vector<config_error> local;
             integer(q, local, 0, 2)(v, p);
             if (!local.empty())
               errors.insert(errors.end(), local.begin(), local.end());
             else
               lim.maximum_qos = static_cast<mqtt::qos>(q);
           })
      .key("retain_available", boolean(lim.retain_available, errors))
      .key("wildcard_subscription_available", boolean(lim.wildcard_subscription_available, errors))
      .key("subscription_identifiers_available", boolean(lim.subscription_identifiers_available, errors))
      .key("shared_subscription_available", boolean(lim.shared_subscription_available, errors))
      .key("response_information_prefix",
           [&](const json& v, const std::string& p) {
             if (!v.is_string())
               errors.push_back({p, "must be a string (empty: do not answer Request Response Information)"});
             else
               lim.response_information_prefix = v.get<std::string>();
           })
      .key("max_keep_alive", integer(lim.max_keep_alive, errors, 0, 65535))
      .key("max_session_expiry", integer(lim.max_session_expiry, errors, 0, 0xFFFFFFFF))
      .key("connect_timeout_ms", millis(lim.connect_timeout, errors, 100, 3600000))
      .key("max_client_id_length", integer(lim.max_client_id_length, errors, 23, 65535));
  object_reader queue(doc.value("queue", json::object()), "/queue", errors);
  queue.key("max_messages", integer(lim.max_queued_messages, errors, 1, 100000000))
      .key("max_bytes", integer(lim.max_queued_bytes, errors, 1024, std::uint64_t{1} << 40))
      .key("qos0_offline", boolean(lim.queue_qos0_offline, errors))
      .key("max_output_bytes", integer(lim.max_output_bytes, errors, 4096, std::uint64_t{1} << 32));

  auto& ss = cfg.statestore;
  object_reader statestore(doc.value("statestore", json::object()), "/statestore", errors);
  statestore.key("enabled", boolean(ss.enabled, errors))
      .key("max_keys", integer(ss.max_keys, errors, 1, std::uint64_t{1} << 40))
      .key("max_bytes", integer(ss.max_bytes, errors, 1024, std::uint64_t{1} << 50))
      .key("sync",
           [&](const json& v, const std::string& p) {
             if (!v.is_string() || (v.get<std::string>() != "sync" && v.get<std::string>() != "none"))
               errors.push_back({p, "must be \"sync\" (fsync before replying) or \"none\""});
             else
               ss.sync = v.get<std::string>();
           })
      .key("node_id", [&](const json& v, const std::string& p) {
        if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().find(':') != std::string::npos)
          errors.push_back({p, "must be a non-empty string without ':' (it is part of HLC timestamps)"});
        else
          ss.node_id = v.get<std::string>();
      });

  object_reader events(doc.value("events", json::object()), "/events", errors);
  events.key("enabled", boolean(lim.lifecycle_events, errors));

  auto& ps = cfg.persistence;
  object_reader persistence(doc.value("persistence", json::object()), "/persistence", errors);
  persistence.key("enabled", boolean(ps.enabled, errors))
      .key("sync",
           [&](const json& v, const std::string& p) {
             if (!v.is_string() ||
                 (v.get<std::string>() != "sync" && v.get<std::string>() != "batch" && v.get<std::string>() != "none"))
               errors.push_back({p, "must be \"sync\", \"batch\" or \"none\""});
             else
               ps.sync = v.get<std::string>();
           })
      .key("batch_ms", integer(ps.batch_ms, errors, 1, 10000))
      .key("move_aside_on_corruption", boolean(ps.move_aside_on_corruption, errors));

  auto& jw = cfg.jwt;
  const auto non_empty_string = [&](std::string& out, const char* what) {
    return [&out, &errors, what](const json& v, const std::string& p) {
      if (!v.is_string() || v.get<std::string>().empty())
        errors.push_back({p, std::string("must be a non-empty string (") + what + ")"});
      else
        out = v.get<std::string>();
    };
  };
  const auto string_list = [&](std::vector<std::string>& out, const char* what) {
    return [&out, &errors, what](const json& v, const std::string& p) {
      bool ok = v.is_array() && !v.empty();
      if (ok)
        for (const auto& e : v) ok = ok && e.is_string() && !e.get<std::string>().empty();
      if (!ok)
        return errors.push_back({p, std::string("must be a non-empty array of non-empty strings (") + what + ")"});
      out.clear();
      for (const auto& e : v) out.push_back(e.get<std::string>());
    };
  };
  object_reader jwt(doc.value("jwt", json::object()), "/jwt", errors);
  jwt.key("keys", string_list(jw.key_files, "PEM files with public keys"))
      .key("jwks", non_empty_string(jw.jwks_file, "a JWKS file"))
      .key("issuer", non_empty_string(jw.issuer, "the required iss claim"))
      .key("audiences", string_list(jw.audiences, "accepted aud claims"))
      .key("leeway_s", integer(jw.leeway_s, errors, 0, 3600));

  auto& dfb = cfg.dataflows.buffer;
  object_reader dataflows(doc.value("dataflows", json::object()), "/dataflows", errors);
  dataflows
      .key("dir",
           [&](const json& v, const std::string& p) {
             if (!v.is_string() || v.get<std::string>().empty())
               errors.push_back({p, "must be a non-empty string (a directory of .json/.yaml definitions)"});
             else
               cfg.dataflows.dir = v.get<std::string>();
           })
      .key("documents",
           [&](const json& v, const std::string& p) {
             if (!v.is_array())
               return errors.push_back({p, "must be an array of Dataflow and DataflowEndpoint documents"});
             cfg.dataflows.documents.clear();
             for (std::size_t i = 0; i < v.size(); ++i) {
               if (!v[i].is_object())
                 errors.push_back({p + "/" + std::to_string(i), "must be a resource document (an object)"});
               else
                 cfg.dataflows.documents.push_back(v[i].dump());
             }
           })
      .key("buffer", [&](const json& v, const std::string& p) {
        object_reader(v, p, errors)
            .key("max_bytes", integer(dfb.max_bytes, errors, 1024, std::uint64_t{1} << 50))
            .key("max_messages", integer(dfb.max_messages, errors, 1, std::uint64_t{1} << 40))
            .key("when_full",
                 [&](const json& w, const std::string& wp) {
                   if (!w.is_string() || (w.get<std::string>() != "drop_oldest" && w.get<std::string>() != "stop"))
                     errors.push_back({wp, "must be \"drop_oldest\" or \"stop\" (pause the source)"});
                   else
                     dfb.when_full = w.get<std::string>();
                 })
            .run();
      });
  auto& dv = cfg.devices;
  object_reader devices(doc.value("devices", json::object()), "/devices", errors);
  devices.key("enabled", boolean(dv.enabled, errors))
      .key("hostname", non_empty_string(dv.hostname, "the IoT Hub host name devices and SDKs use"))
      .key("service_policies",
           [&](const json& v, const std::string& p) { read_service_policies(v, p, dv.service_policies, errors); })
      .key("service_policies_file",
           non_empty_string(dv.service_policies_file, "a JSON file of shared access policies"));

  auto& cl = cfg.cluster;
  // A password kept in a file of its own (a mounted secret): read now, its last line end dropped.
  const auto secret_file = [&](std::string& out, const char* instead_of) {
    return [&out, &errors, instead_of](const json& v, const std::string& p) {
      if (!v.is_string() || v.get<std::string>().empty())
        return errors.push_back({p, std::string("must be a non-empty string (a file holding ") + instead_of + ")"});
      std::ifstream in(v.get<std::string>(), std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      if (!in.good() && !in.eof()) return errors.push_back({p, "cannot read '" + v.get<std::string>() + "'"});
      if (text.empty()) return errors.push_back({p, "'" + v.get<std::string>() + "' is empty or unreadable"});
      out = std::move(text);
    };
  };
  object_reader cluster(doc.value("cluster", json::object()), "/cluster", errors);
  cluster.key("node", non_empty_string(cl.node, "this node's name in the cluster"))
      .key("etcd", string_list(cl.etcd, "etcd client URLs, http://HOST:PORT or https://HOST:PORT"))
      .key("nats", string_list(cl.nats, "NATS server URLs, nats://HOST:PORT or tls://HOST:PORT"))
      .key("tls_ca", non_empty_string(cl.tls_ca, "a PEM file of the CA the etcd and NATS servers are checked against"))
      .key("tls_cert", non_empty_string(cl.tls_cert, "a PEM client certificate for etcd and NATS"))
      .key("tls_key", non_empty_string(cl.tls_key, "the client certificate's PEM key"))
      .key("etcd_user", non_empty_string(cl.etcd_user, "the etcd user"))
      .key("etcd_password", non_empty_string(cl.etcd_password, "the etcd user's password"))
      .key("etcd_password_file", secret_file(cl.etcd_password, "etcd_password"))
      .key("nats_user", non_empty_string(cl.nats_user, "the NATS user"))
      .key("nats_password", non_empty_string(cl.nats_password, "the NATS user's password"))
      .key("nats_password_file", secret_file(cl.nats_password, "nats_password"))
      .key("nats_token", non_empty_string(cl.nats_token, "the NATS token"));

  object_reader top(doc, "", errors);
  top.key("listeners", [&](const json& v, const std::string& p) { read_listeners(v, p, cfg, errors); })
      .key("data_dir",
           [&](const json& v, const std::string& p) {
             if (!v.is_string() || v.get<std::string>().empty())
               errors.push_back({p, "must be a non-empty string"});
             else
               cfg.data_dir = v.get<std::string>();
           })
      .key("password_file",
           [&](const json& v, const std::string& p) {
             if (!v.is_string() || v.get<std::string>().empty())
               errors.push_back({p, "must be a non-empty string (a file made by edgemq-cli passwd)"});
             else
               cfg.password_file = v.get<std::string>();
           })
      .key("authz_file",
           [&](const json& v, const std::string& p) {
             if (!v.is_string() || v.get<std::string>().empty())
               errors.push_back({p, "must be a non-empty string (an authorization policy, JSON)"});
             else
               cfg.authz_file = v.get<std::string>();
           })
      .key("log_level",
           [&](const json& v, const std::string& p) {
             if (!v.is_string() || !valid_log_level(v.get<std::string>()))
               errors.push_back({p, "must be one of trace, debug, info, warn, error, critical, off"});
             else
               cfg.log_level = v.get<std::string>();
           })
      .key("log_format",
           [&](const json& v, const std::string& p) {
             if (!v.is_string() || !valid_log_format(v.get<std::string>()))
               errors.push_back({p, "must be text or json"});
             else
               cfg.log_format = v.get<std::string>();
           })
      .key("workers", integer(cfg.server.workers, errors, 0, 1024))
      .key("shutdown_timeout_ms", millis(cfg.server.shutdown_timeout, errors, 0, 600000))
      .key("sys_interval_s",
           [&](const json& v, const std::string& p) {
             std::uint32_t n = 0;
             std::vector<config_error> local;
             integer(n, local, 0, 86400)(v, p);
             if (!local.empty())
               errors.insert(errors.end(), local.begin(), local.end());
             else
               cfg.server.sys_interval = std::chrono::seconds(n);
           })
      .key("admin", [&](const json& v, const std::string& p) { read_admin(v, p, cfg.admin, errors); })
      .key("mqtt", [&](const json&, const std::string&) { mqtt.run(); })
      .key("queue", [&](const json&, const std::string&) { queue.run(); })
      .key("statestore", [&](const json&, const std::string&) { statestore.run(); })
      .key("events", [&](const json&, const std::string&) { events.run(); })
      .key("persistence", [&](const json&, const std::string&) { persistence.run(); })
      .key("jwt", [&](const json&, const std::string&) { jwt.run(); })
      .key("dataflows", [&](const json&, const std::string&) { dataflows.run(); })
      .key("devices", [&](const json&, const std::string&) { devices.run(); })
      .key("cluster", [&](const json&, const std::string&) { cluster.run(); });
  top.run();
  if (doc.contains("cluster")) check_cluster(cl, "/cluster", errors);
  if (!dv.hostname.empty() && !doc.value("devices", json::object()).contains("enabled")) dv.enabled = true;
  if (dv.enabled && dv.hostname.empty())
    errors.push_back({"/devices/hostname", "required when devices are enabled (the IoT Hub HostName)"});
  if (!jw.enabled() && (!jw.issuer.empty() || !jw.audiences.empty()))
    errors.push_back(
        {"/jwt", "\"issuer\" and \"audiences\" need \"keys\" or \"jwks\" (the keys tokens are checked with)"});
  return errors;
}
}  // namespace

void read_service_policies(const json& v, const std::string& path, std::vector<service_policy>& out,
                           std::vector<config_error>& errors) {
  if (!v.is_array()) {
    errors.push_back({path, "must be an array of {\"name\": ..., \"key\": BASE64}"});
    return;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string p = path + "/" + std::to_string(i);
    const auto& e = v[i];
    if (!e.is_object()) {
      errors.push_back({p, "must be an object {\"name\": ..., \"key\": BASE64}"});
      continue;
    }
    service_policy sp;
    bool ok = true;
    for (const auto& [k, val] : e.items()) {
      if (k != "name" && k != "key") {
        errors.push_back({p + "/" + k, "unknown key"});
        ok = false;
      }
    }
    if (!e.contains("name") || !e["name"].is_string() || e["name"].get<std::string>().empty()) {
      errors.push_back({p + "/name", "must be a non-empty string (the policy name, e.g. iothubowner)"});
      ok = false;
    } else {
      sp.name = e["name"].get<std::string>();
    }
    const auto base64 = [](const std::string& s) {
      if (s.empty() || s.size() % 4 != 0) return false;
      for (std::size_t j = 0; j < s.size(); ++j) {
        const char c = s[j];
        const bool pad = c == '=' && j + 2 >= s.size();
        if (!pad && !std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return false;
      }
      return true;
    };
    if (!e.contains("key") || !e["key"].is_string() || !base64(e["key"].get<std::string>())) {
      errors.push_back({p + "/key", "must be a base64 string (the policy's shared access key)"});
      ok = false;
    } else {
      sp.key = e["key"].get<std::string>();
    }
    if (ok) out.push_back(std::move(sp));
  }
}

std::vector<std::size_t> open_listeners(const daemon_config& cfg) {
  std::vector<std::size_t> open;
  // Credentials are checked (passwords, tokens, IoT Hub devices): anonymous only where allowed.
  if (!cfg.password_file.empty() || cfg.jwt.enabled() || cfg.devices.enabled) return open;
  for (std::size_t i = 0; i < cfg.server.listeners.size(); ++i) {
    const auto& l = cfg.server.listeners[i];
    // A client certificate verified against client_ca is an authentication.
    const bool mtls = uses_tls(l.scheme) && l.tls.require_client_cert;
    if (!is_loopback(l.host) && !mtls && !l.allow_anonymous.value_or(false)) open.push_back(i);
  }
  return open;
}

bool admin_open(const daemon_config& cfg) {
  return cfg.admin.enabled && cfg.admin.token_file.empty() && !is_loopback(cfg.admin.host);
}

void resolve_listener_auth(daemon_config& cfg) {
  for (auto& l : cfg.server.listeners) {
    // Every client of a require_client_cert listener has been authenticated by its certificate.
    const bool mtls = uses_tls(l.scheme) && l.tls.require_client_cert;
    // With only IoT Hub devices checked (docs/devices.md), other clients stay anonymous on
    // loopback and are refused beyond it unless the listener allows them.
    const bool devices_only_beyond_loopback = cfg.devices.enabled && !is_loopback(l.host);
    if (!l.allow_anonymous)
      l.allow_anonymous = (cfg.password_file.empty() && !cfg.jwt.enabled() && !devices_only_beyond_loopback) || mtls;
  }
}

std::vector<config_error> load_file(const std::string& path, daemon_config& cfg) {
  std::ifstream in(path);
  if (!in) return {{"", "cannot read config file '" + path + "'"}};
  std::stringstream ss;
  ss << in.rdbuf();
  return apply_json(ss.str(), cfg);
}

std::string check_command_topic(std::string_view t) {
  if (t.find("{clientId}") == std::string_view::npos) return "must contain {clientId}";
  if (t.empty() || t.front() == '$') return "must not start with '$' (topics the broker owns)";
  if (t.find_first_of("+#") != std::string_view::npos || t.find('\0') != std::string_view::npos)
    return "must not contain wildcards";
  return {};
}

}  // namespace edgemq::config
