// endpointType Http (ours): validation of httpSettings and the sink factory.
#include <nlohmann/json.hpp>

#include "dataflow/endpoints/http_sink.hpp"
#include "dataflow/endpoints/kinds.hpp"
#include "dataflow/endpoints/settings_reader.hpp"

namespace edgemq::dataflow {

namespace {

// http[s]://host[:port][/path]; host a name, an IPv4 address or an IPv6 address in brackets.
bool parse_url(const std::string& url, http_settings& s, std::string& why) {
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    s.tls = false, rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    s.tls = true, rest = url.substr(8);
  } else {
    why = "must start with http:// or https://";
    return false;
  }
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  s.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.find('@') != std::string::npos) {
    why = "must not carry credentials (use headers)";
    return false;
  }
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) {
      why = "has an unclosed '['";
      return false;
    }
    s.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        why = "has text after ']'";
        return false;
      }
      port = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.find(':');
    s.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (s.host.empty()) {
    why = "has no host";
    return false;
  }
  if (port.empty()) {
    s.port = s.tls ? "443" : "80";
  } else {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) < 1 ||
        std::stoi(port) > 65535) {
      why = "has a bad port";
      return false;
    }
    s.port = port;
  }
  return true;
}

// Header names are tokens (RFC 9110); values must not break the request apart.
bool header_name_ok(const std::string& n) {
  if (n.empty()) return false;
  for (unsigned char c : n)
    if (!(std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos))
      return false;
  return true;
}

}  // namespace

http_settings parse_http_settings(const nlohmann::json& spec, const std::string& path, problems& out) {
  const auto it = spec.find("httpSettings");
  settings_reader s(it == spec.end() ? nullptr : &*it, join_pointer(path, "httpSettings"), out);
  http_settings h;
  if (auto url = s.string("url", true)) {
    h.url = *url;
    std::string why;
    if (!parse_url(*url, h, why)) s.problem("url", why);
  }
  if (const auto* headers = s.raw("headers")) {
    const auto hp = join_pointer(s.path(), "headers");
    if (!headers->is_object()) {
      out.push_back({hp, "must be an object of header names to strings"});
    } else {
      for (const auto& [name, value] : headers->items()) {
        if (!header_name_ok(name))
          out.push_back({join_pointer(hp, name), "is not a valid header name"});
        else if (!value.is_string() || value.get_ref<const std::string&>().find_first_of("\r\n") != std::string::npos)
          out.push_back({join_pointer(hp, name), "must be a string without line breaks"});
        else
          h.headers.emplace_back(name, value.get<std::string>());
      }
    }
  }
  auto batching = s.object("batching");
  if (auto n = batching.integer("maxMessages", 1, 10000)) h.max_messages = static_cast<std::size_t>(*n);
  auto tls = s.object("tls");
  if (auto ca = tls.string("caFile")) {
    h.ca_file = *ca;  // as the daemon's own TLS files: relative to its working directory
    if (!h.tls) tls.problem("caFile", "is only used with an https:// url");
  }
  if (auto t = s.integer("timeoutSeconds", 1, 3600)) h.timeout = std::chrono::seconds(*t);
  return h;
}

endpoint_kind http_endpoint_kind() {
  endpoint_kind k;
  k.type = "Http";
  k.validate = [](const nlohmann::json& spec, const std::string& path, problems& out) {
    parse_http_settings(spec, path, out);
  };
  k.make_sink = [](const endpoint_args& a) {
    problems ignored;  // validated before
    return make_http_sink(parse_http_settings(a.spec, "", ignored), a.io, a.log);
  };
  return k;
}

}  // namespace edgemq::dataflow
