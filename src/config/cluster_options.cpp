#include <charconv>
#include <filesystem>
#include <fstream>

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

bool readable_file(const std::string& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return false;
  std::ifstream in(file, std::ios::binary);
  return in.good();
}

// The URLs of one service: each SCHEME://HOST:PORT with the plain or the TLS scheme, all alike.
void check_urls(const std::vector<std::string>& urls, const std::string& path, const char* key, const char* flag,
                const char* plain, const char* tls, std::vector<config_error>& errors) {
  const auto where = [&](std::size_t i) {
    return path.empty() ? std::string(flag) : path + "/" + key + "/" + std::to_string(i);
  };
  for (std::size_t i = 0; i < urls.size(); ++i) {
    const bool is_tls = host_port_url(urls[i], tls);
    if (!is_tls && !host_port_url(urls[i], plain))
      errors.push_back({where(i), std::string("must be ") + plain + "://HOST:PORT or " + tls + "://HOST:PORT, got '" +
                                      urls[i] + "'"});
    else if (i > 0 && is_tls != host_port_url(urls[0], tls))
      errors.push_back({where(i), std::string("mixes ") + plain + ":// and " + tls +
                                      ":// URLs: every server is reached alike, got '" + urls[i] + "'"});
  }
}

bool any_tls(const std::vector<std::string>& urls, const char* tls) {
  for (const auto& u : urls)
    if (host_port_url(u, tls)) return true;
  return false;
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
  check_urls(c.etcd, path, "etcd", "--etcd", "http", "https", errors);
  if (c.nats.empty())
    errors.push_back({at(path, "nats", "--nats"), "required in cluster mode (the NATS servers' URLs)"});
  check_urls(c.nats, path, "nats", "--nats", "nats", "tls", errors);

  // TLS: files readable, a certificate with its key, and a URL that uses them.
  const bool tls_urls = any_tls(c.etcd, "https") || any_tls(c.nats, "tls");
  const struct {
    const std::string& value;
    const char* key;
    const char* flag;
  } files[] = {{c.tls_ca, "tls_ca", "--cluster-tls-ca"},
               {c.tls_cert, "tls_cert", "--cluster-tls-cert"},
               {c.tls_key, "tls_key", "--cluster-tls-key"}};
  for (const auto& f : files) {
    if (f.value.empty()) continue;
    if (!readable_file(f.value))
      errors.push_back({at(path, f.key, f.flag), "cannot read '" + f.value + "'"});
    else if (!tls_urls)
      errors.push_back({at(path, f.key, f.flag),
                        "set, but no etcd URL is https:// and no NATS URL is tls:// (nothing would use it)"});
  }
  if (!c.tls_cert.empty() && c.tls_key.empty())
    errors.push_back(
        {at(path, "tls_key", "--cluster-tls-key"), "required with tls_cert (the client certificate's key)"});
  if (c.tls_cert.empty() && !c.tls_key.empty())
    errors.push_back({at(path, "tls_cert", "--cluster-tls-cert"), "required with tls_key (the client certificate)"});

  // Credentials: a user with a password; a NATS token instead of a user.
  if (!c.etcd_user.empty() && c.etcd_password.empty())
    errors.push_back({at(path, "etcd_password", "cluster.etcd_password"), "required with etcd_user"});
  if (c.etcd_user.empty() && !c.etcd_password.empty())
    errors.push_back({at(path, "etcd_user", "cluster.etcd_user"), "required with etcd_password"});
  if (!c.nats_user.empty() && c.nats_password.empty())
    errors.push_back({at(path, "nats_password", "cluster.nats_password"), "required with nats_user"});
  if (c.nats_user.empty() && !c.nats_password.empty())
    errors.push_back({at(path, "nats_user", "cluster.nats_user"), "required with nats_password"});
  if (!c.nats_token.empty() && !c.nats_user.empty())
    errors.push_back({at(path, "nats_token", "cluster.nats_token"), "give nats_token or nats_user, not both"});
}

}  // namespace edgemq::config
