#include "dataflow/endpoints/mqtt_settings.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "edgemq/mqtt/topic.hpp"

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// AIO spells its enums in PascalCase (Enabled, Keep, Mqtt); its docs also in lower case. Both go.
bool enum_is(const json& v, std::string_view want) {
  return v.is_string() && lower(v.get<std::string>()) == want;
}

// "host:port", "[v6]:port"; false when malformed.
bool split_host(const std::string& s, std::string& host, std::uint16_t& port) {
  std::string h, p;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    h = s.substr(1, close - 1);
    p = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos || s.find(':') != colon) return false;
    h = s.substr(0, colon);
    p = s.substr(colon + 1);
  }
  if (h.empty() || p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  const auto n = std::stoul(p);
  if (n == 0 || n > 65535) return false;
  host = h;
  port = static_cast<std::uint16_t>(n);
  return true;
}

struct checker {
  const std::string& base;
  problems& out;
  void add(const std::string& key, std::string msg) const { out.push_back({base + "/" + key, std::move(msg)}); }
};

void check_integer(const json& o, const char* key, std::uint64_t lo, std::uint64_t hi, const checker& c) {
  if (!o.contains(key)) return;
  const auto& v = o.at(key);
  if (!v.is_number_integer() || (v.is_number_integer() && (v.get<std::int64_t>() < static_cast<std::int64_t>(lo) ||
                                                           v.get<std::int64_t>() > static_cast<std::int64_t>(hi))))
    c.add(key, "must be a whole number between " + std::to_string(lo) + " and " + std::to_string(hi));
}

void check_string(const json& o, const char* key, const checker& c) {
  if (o.contains(key) && (!o.at(key).is_string() || o.at(key).get<std::string>().empty()))
    c.add(key, "must be a non-empty string");
}

void check_unknown(const json& o, std::initializer_list<const char*> known, const checker& c) {
  for (const auto& item : o.items()) {
    const auto& k = item.key();  // not a structured binding: clang 14 cannot capture one in the lambda
    if (std::none_of(known.begin(), known.end(), [&](const char* n) { return k == n; })) c.add(k, "unknown key");
  }
}

void check_tls(const json& tls, const std::string& path, problems& out) {
  const checker c{path, out};
  if (!tls.is_object()) return out.push_back({path, "must be an object"});
  check_unknown(tls, {"mode", "trustedCaCertificateConfigMapRef"}, c);
  if (tls.contains("mode") && !enum_is(tls["mode"], "enabled") && !enum_is(tls["mode"], "disabled"))
    c.add("mode", "must be Enabled or Disabled");
  check_string(tls, "trustedCaCertificateConfigMapRef", c);
}

void check_auth(const json& a, const std::string& path, problems& out) {
  const checker c{path, out};
  if (!a.is_object()) return out.push_back({path, "must be an object"});
  check_unknown(a,
                {"method", "x509CertificateSettings", "usernamePasswordSettings", "serviceAccountTokenSettings",
                 "systemAssignedManagedIdentitySettings", "userAssignedManagedIdentitySettings"},
                c);
  if (!a.contains("method") || !a["method"].is_string())
    return c.add("method", "is required: Anonymous, X509Certificate or UsernamePassword");
  const auto m = lower(a["method"].get<std::string>());
  const auto secret = [&](const char* settings) {
    if (!a.contains(settings) || !a[settings].is_object() || !a[settings].contains("secretRef") ||
        !a[settings]["secretRef"].is_string() || a[settings]["secretRef"].get<std::string>().empty())
      c.add(std::string(settings) + "/secretRef", "is required: the directory holding the secret's files");
  };
  if (m == "anonymous") return;
  if (m == "x509certificate") return secret("x509CertificateSettings");
  if (m == "usernamepassword") return secret("usernamePasswordSettings");
  if (m == "serviceaccounttoken" || m == "systemassignedmanagedidentity" || m == "userassignedmanagedidentity")
    return c.add("method", "'" + a["method"].get<std::string>() +
                               "' is not supported by edgemq (Anonymous, X509Certificate or UsernamePassword)");
  c.add("method", "must be Anonymous, X509Certificate or UsernamePassword");
}

}  // namespace

void validate_mqtt_settings(const json& spec, const std::string& path, problems& out) {
  const std::string base = path + "/mqttSettings";
  if (!spec.contains("mqttSettings") || !spec["mqttSettings"].is_object())
    return out.push_back({base, "is required for endpointType Mqtt (an object with at least `host`)"});
  const auto& s = spec["mqttSettings"];
  const checker c{base, out};
  check_unknown(s,
                {"host", "tls", "authentication", "clientIdPrefix", "qos", "retain", "sessionExpirySeconds",
                 "maxInflightMessages", "keepAliveSeconds", "protocol", "cloudEventAttributes", "protocolVersion"},
                c);
  std::string h;
  std::uint16_t p = 0;
  if (!s.contains("host"))
    c.add("host", "is required: \"host:port\" of the remote broker (the local broker is the endpoint `default`)");
  else if (!s["host"].is_string() || !split_host(s["host"].get<std::string>(), h, p))
    c.add("host", "must be \"host:port\" (\"[v6 address]:port\" for IPv6), port 1 to 65535");
  if (s.contains("tls")) check_tls(s["tls"], base + "/tls", out);
  if (s.contains("authentication")) check_auth(s["authentication"], base + "/authentication", out);
  if (s.contains("clientIdPrefix") && !s["clientIdPrefix"].is_string()) c.add("clientIdPrefix", "must be a string");
  check_integer(s, "qos", 0, 1, c);
  if (s.contains("retain") && !enum_is(s["retain"], "keep") && !enum_is(s["retain"], "never"))
    c.add("retain", "must be Keep or Never");
  check_integer(s, "sessionExpirySeconds", 0, 0xFFFFFFFF, c);
  check_integer(s, "maxInflightMessages", 1, 65535, c);
  check_integer(s, "keepAliveSeconds", 0, 65535, c);
  if (s.contains("protocol")) {
    if (!enum_is(s["protocol"], "websockets") && !enum_is(s["protocol"], "mqtt"))
      c.add("protocol", "must be Mqtt or WebSockets");
  }
  if (s.contains("protocolVersion") &&
      (!s["protocolVersion"].is_string() ||
       (s["protocolVersion"].get<std::string>() != "5" && s["protocolVersion"].get<std::string>() != "3.1.1")))
    c.add("protocolVersion", "must be \"5\" or \"3.1.1\"");
  if (s.contains("cloudEventAttributes") && !enum_is(s["cloudEventAttributes"], "propagate") &&
      !enum_is(s["cloudEventAttributes"], "createorremap"))
    c.add("cloudEventAttributes", "must be Propagate or CreateOrRemap");
}

mqtt_settings read_mqtt_settings(const json& spec) {
  mqtt_settings m;
  const auto& s = spec.at("mqttSettings");
  split_host(s.at("host").get<std::string>(), m.host, m.port);
  if (s.contains("tls")) {
    const auto& t = s["tls"];
    if (t.contains("mode")) m.tls = enum_is(t["mode"], "enabled");
    m.ca_file = t.value("trustedCaCertificateConfigMapRef", "");
  }
  if (s.contains("authentication")) {
    const auto& a = s["authentication"];
    const auto method = lower(a.value("method", "anonymous"));
    if (method == "x509certificate") {
      m.auth_method = mqtt_settings::auth::x509;
      const auto dir = a["x509CertificateSettings"]["secretRef"].get<std::string>();
      m.cert_file = dir + "/tls.crt";
      m.key_file = dir + "/tls.key";
    } else if (method == "usernamepassword") {
      m.auth_method = mqtt_settings::auth::username_password;
      const auto dir = a["usernamePasswordSettings"]["secretRef"].get<std::string>();
      m.username_file = dir + "/username";
      m.password_file = dir + "/password";
    }
  }
  m.client_id_prefix = s.value("clientIdPrefix", "");
  m.qos = static_cast<std::uint8_t>(s.value("qos", 1));
  if (s.contains("retain")) m.retain_keep = enum_is(s["retain"], "keep");
  m.session_expiry_s = s.value("sessionExpirySeconds", std::uint32_t{3600});
  m.max_inflight = s.value("maxInflightMessages", std::uint16_t{100});
  m.keep_alive_s = s.value("keepAliveSeconds", std::uint16_t{60});
  m.v311 = s.value("protocolVersion", "5") == "3.1.1";
  m.websockets = s.contains("protocol") && enum_is(s["protocol"], "websockets");
  return m;
}

namespace {

// Calls text(literal) and level(n) (0: the whole topic) for the parts of `tmpl`; false with `why`
// on a malformed placeholder.
template <class Text, class Level>
bool walk_template(std::string_view tmpl, Text&& text, Level&& level, std::string* why) {
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const auto open = tmpl.find("${", i);
    if (open == std::string_view::npos) {
      text(tmpl.substr(i));
      break;
    }
    text(tmpl.substr(i, open - i));
    const auto close = tmpl.find('}', open);
    if (close == std::string_view::npos) {
      if (why) *why = "unterminated ${ at offset " + std::to_string(open);
      return false;
    }
    const auto name = tmpl.substr(open + 2, close - open - 2);
    constexpr std::string_view input = "inputTopic";
    if (name == input) {
      level(0);
    } else if (name.starts_with("inputTopic.") && name.size() > input.size() + 1 && name.size() <= input.size() + 4 &&
               name.substr(input.size() + 1).find_first_not_of("0123456789") == std::string_view::npos &&
               name[input.size() + 1] != '0') {
      level(std::stoul(std::string(name.substr(input.size() + 1))));
    } else {
      if (why)
        *why = "unknown placeholder ${" + std::string(name) + "}: only ${inputTopic} and ${inputTopic.N} (N from 1)";
      return false;
    }
    i = close + 1;
  }
  return true;
}

}  // namespace

void validate_topic_template(std::string_view tmpl, const std::string& path, problems& out) {
  std::string why;
  std::string sample;  // placeholders replaced by a plain level, to check the rest
  if (!walk_template(
          tmpl, [&](std::string_view t) { sample += t; }, [&](std::size_t) { sample += "x"; }, &why))
    return out.push_back({path, why});
  if (mqtt::validate_topic_name(sample) != mqtt::reason_code::success)
    out.push_back({path, "must be a topic name without wildcards (+, #), not empty"});
}

std::optional<std::string> expand_topic_template(std::string_view tmpl, std::string_view input_topic) {
  std::string out;
  bool missing = false;
  const auto level_of = [&](std::size_t n) -> std::string_view {
    std::size_t start = 0;
    for (std::size_t i = 1; i < n; ++i) {
      const auto slash = input_topic.find('/', start);
      if (slash == std::string_view::npos) return {};
      start = slash + 1;
    }
    return input_topic.substr(start, input_topic.find('/', start) - start);
  };
  const bool ok = walk_template(
      tmpl, [&](std::string_view t) { out += t; },
      [&](std::size_t n) {
        const auto v = n == 0 ? input_topic : level_of(n);
        if (v.empty()) missing = true;
        out += v;
      },
      nullptr);
  if (!ok || missing || mqtt::validate_topic_name(out) != mqtt::reason_code::success) return std::nullopt;
  return out;
}

}  // namespace edgemq::dataflow
