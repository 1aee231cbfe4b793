#include <charconv>

#include "config/config.hpp"

namespace edgemq::config {
namespace {

// SCHEME://HOST:PORT with a port 1..65535 and nothing after it.
bool host_port_url(const std::string& url, std::string_view scheme) {
  const std::string prefix = std::string(scheme) + "://";
  if (url.rfind(prefix, 0) != 0) return false;
  const std::string_view rest = std::string_view(url).substr(prefix.size());
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const auto port = rest.substr(colon + 1);
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  return ec == std::errc{} && end == port.data() + port.size() && n >= 1 && n <= 65535;
}

bool valid_node_name(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (const char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

std::string at(const std::string& path, const char* key, const char* flag) {
  return path.empty() ? std::string(flag) : path + "/" + key;
}

}  // namespace

void check_cluster(const cluster_options& c, const std::string& path, std::vector<config_error>& errors) {
  const bool any = !c.node.empty() || !c.etcd.empty() || !c.nats.empty();
  if (!any) return;
  if (c.node.empty())
    errors.push_back({at(path, "node", "--cluster-node"), "required when etcd or NATS URLs are given (cluster mode)"});
  else if (!valid_node_name(c.node))
    errors.push_back({at(path, "node", "--cluster-node"),
                      "must be 1 to 63 characters of letters, digits, '-' and '_', got '" + c.node + "'"});
  if (c.etcd.empty())
    errors.push_back({at(path, "etcd", "--etcd"), "required in cluster mode (the etcd members' client URLs)"});
  for (std::size_t i = 0; i < c.etcd.size(); ++i)
    if (!host_port_url(c.etcd[i], "http"))
      errors.push_back({path.empty() ? std::string("--etcd") : path + "/etcd/" + std::to_string(i),
                        "must be http://HOST:PORT, got '" + c.etcd[i] + "'"});
  if (c.nats.empty())
    errors.push_back({at(path, "nats", "--nats"), "required in cluster mode (the NATS servers' URLs)"});
  for (std::size_t i = 0; i < c.nats.size(); ++i)
    if (!host_port_url(c.nats[i], "nats"))
      errors.push_back({path.empty() ? std::string("--nats") : path + "/nats/" + std::to_string(i),
                        "must be nats://HOST:PORT, got '" + c.nats[i] + "'"});
}

}  // namespace edgemq::config
