#include "app/command_line.hpp"

#include <cstdio>
#include <string_view>
#include <tuple>

#include <CLI/CLI.hpp>

#include "edgemq/version.hpp"

namespace edgemq::app {
namespace {

constexpr unsigned max_workers = 1024;  // as the configuration file allows

int usage_error(const std::string& text) {
  std::string line = text;
  for (auto& c : line)
    if (c == '\n') c = ' ';
  std::fprintf(stderr, "edgemq: %s (see edgemq --help)\n", line.c_str());
  return 2;
}

std::optional<unsigned> parse_workers(const std::string& s) {
  if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const auto n = std::stoul(s);
  if (n > max_workers) return std::nullopt;
  return static_cast<unsigned>(n);
}

}  // namespace

void command_line::apply(config::daemon_config& cfg) const {
  if (!listen.empty()) {
    cfg.server.listeners = listen;
    for (auto& l : cfg.server.listeners) {
      if (config::uses_tls(l.scheme)) l.tls = tls;
      if (config::is_websocket(l.scheme)) l.websocket.max_frame_size = ws_max_frame_size;
    }
  }
  if (data_dir) cfg.data_dir = *data_dir;
  if (log_level) cfg.log_level = *log_level;
  if (log_format) cfg.log_format = *log_format;
  if (workers) cfg.server.workers = *workers;
  if (password_file) cfg.password_file = *password_file;
  if (authz_file) cfg.authz_file = *authz_file;
  if (!jwt_keys.empty()) cfg.jwt.key_files = jwt_keys;
  if (jwks) cfg.jwt.jwks_file = *jwks;
  if (jwt_issuer) cfg.jwt.issuer = *jwt_issuer;
  if (!jwt_audiences.empty()) cfg.jwt.audiences = jwt_audiences;
  if (jwt_leeway) cfg.jwt.leeway_s = *jwt_leeway;
  if (admin) {
    const auto token = cfg.admin.token_file;  // --admin keeps a token file set in the file
    const auto topic = cfg.admin.command_topic;
    cfg.admin = *admin;
    if (cfg.admin.token_file.empty()) cfg.admin.token_file = token;
    cfg.admin.command_topic = topic;
  }
  if (admin_command_topic) cfg.admin.command_topic = *admin_command_topic;
  if (devices_hostname) {
    cfg.devices.hostname = *devices_hostname;
    cfg.devices.enabled = true;
  }
  if (devices_policies_file) cfg.devices.service_policies_file = *devices_policies_file;
  if (admin_token_file) cfg.admin.token_file = *admin_token_file;
  if (dataflows_dir) cfg.dataflows.dir = *dataflows_dir;
  if (events) cfg.limits.lifecycle_events = *events;
  if (cluster_node) cfg.cluster.node = *cluster_node;
  if (etcd) cfg.cluster.etcd = *etcd;
  if (nats) cfg.cluster.nats = *nats;
  if (cluster_tls_ca) cfg.cluster.tls_ca = *cluster_tls_ca;
  if (cluster_tls_cert) cfg.cluster.tls_cert = *cluster_tls_cert;
  if (cluster_tls_key) cfg.cluster.tls_key = *cluster_tls_key;
  if (dataflow_buffer_max_bytes) cfg.dataflows.buffer.max_bytes = *dataflow_buffer_max_bytes;
  if (dataflow_buffer_max_messages) cfg.dataflows.buffer.max_messages = *dataflow_buffer_max_messages;
  if (dataflow_buffer_when_full) cfg.dataflows.buffer.when_full = *dataflow_buffer_when_full;
  // --tls-cert/--tls-key serve an https:// admin address too (given with --admin or in the file).
  if (cfg.admin.https && !tls.cert.empty()) cfg.admin.tls.cert = tls.cert;
  if (cfg.admin.https && !tls.key.empty()) cfg.admin.tls.key = tls.key;
  if (allow_anonymous)
    for (auto& l : cfg.server.listeners) l.allow_anonymous = true;
}

std::optional<int> parse_command_line(int argc, char** argv, command_line& out) {
  CLI::App app{
      "edgemq: edge MQTT broker with an embedded state store.\n"
      "Exit status: 0 after a graceful stop, 1 when it cannot start or run (a port or database that\n"
      "cannot be opened), 2 for a usage or configuration error or a data dir in use."};
  app.set_version_flag("--version", std::string("edgemq ") + edgemq::version_string);
  std::vector<std::string> listen;
  std::string data_dir, log_level, log_format, workers, password_file, ws_max_frame_size, authz_file, admin,
      admin_token_file, admin_command_topic, dataflows_dir, events;
  // The last of a repeated option wins, so a wrapper can append an override.
  const auto last = CLI::MultiOptionPolicy::TakeLast;
  app.add_option("-c,--config", out.config_file, "JSON configuration file (see config/edgemq.json)")
      ->type_name("FILE")
      ->multi_option_policy(last);
  app.add_option("-l,--listen", listen,
                 "mqtt://HOST:PORT (MQTT over TCP), mqtts://HOST:PORT (MQTT over TLS), ws://HOST:PORT[/PATH] "
                 "(MQTT over WebSocket, path /mqtt by default), wss://HOST:PORT[/PATH] (WebSocket over TLS) or a "
                 "bare HOST:PORT (plain MQTT); HOST is a numeric IPv4 address, [IPv6] or localhost, port 0 picks "
                 "a free one; repeatable; replaces the configured listeners")
      ->type_name("URL");
  app.add_option("--tls-cert", out.tls.cert,
                 "certificate (PEM) of the mqtts:// and wss:// listeners given by --listen, and of an https:// --admin")
      ->type_name("FILE")
      ->multi_option_policy(last);
  app.add_option("--tls-key", out.tls.key, "private key (PEM) of that certificate")
      ->type_name("FILE")
      ->multi_option_policy(last);
  app.add_option("--tls-client-ca", out.tls.client_ca, "verify client certificates against the CAs in FILE (PEM)")
      ->type_name("FILE")
      ->multi_option_policy(last);
  app.add_flag("--tls-require-client-cert", out.tls.require_client_cert,
               "refuse TLS clients without a certificate verified by --tls-client-ca");
  app.add_option("--tls-min-version", out.tls.min_version, "oldest TLS version accepted: 1.2 (default) or 1.3")
      ->type_name("VERSION")
      ->multi_option_policy(last);
  app.add_option("--tls-ciphers", out.tls.ciphers,
                 "OpenSSL cipher list for TLS 1.2 (e.g. ECDHE+AESGCM); TLS 1.3 keeps OpenSSL's suites")
      ->type_name("LIST")
      ->multi_option_policy(last);
  app.add_option("--ws-max-frame-size", ws_max_frame_size,
                 "largest WebSocket frame a client may send to the ws:// and wss:// listeners given by --listen "
                 "(close 1009 beyond; default: 16 MiB, or the maximum packet size if larger)")
      ->type_name("BYTES")
      ->multi_option_policy(last);
  // (--listen beyond loopback needs --password-file or --allow-anonymous: checked in main, once
  // the configuration file is applied too.)
  app.add_option("--dataflows", dataflows_dir,
                 "load the Dataflow and DataflowEndpoint definitions in DIR (.json, .yaml, .yml; Azure IoT "
                 "Operations resource documents) at start-up; an invalid one exits 2")
      ->type_name("DIR")
      ->multi_option_policy(last);
  std::string df_max_bytes, df_max_messages, df_when_full;
  app.add_option("--dataflow-buffer-max-bytes", df_max_bytes,
                 "bound of each dataflow's disk buffer in bytes, 1024 to 2^50 (default 268435456)")
      ->type_name("BYTES")
      ->multi_option_policy(last);
  app.add_option("--dataflow-buffer-max-messages", df_max_messages,
                 "bound of each dataflow's disk buffer in messages, 1 to 2^40 (default 1000000)")
      ->type_name("N")
      ->multi_option_policy(last);
  app.add_option("--dataflow-buffer-when-full", df_when_full,
                 "a full dataflow buffer: drop_oldest (default) or stop (pause the source; the broker keeps "
                 "the messages in the dataflow's session)")
      ->type_name("POLICY")
      ->multi_option_policy(last);
  app.add_option("-d,--data-dir", data_dir, "directory for persistent data (default ./data)")
      ->type_name("DIR")
      ->multi_option_policy(last);
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off")
      ->type_name("LEVEL")
      ->multi_option_policy(last);
  app.add_option("--log-format", log_format, "text|json (json: one object per line: time, level, logger, message)")
      ->type_name("FORMAT")
      ->multi_option_policy(last);
  app.add_option("-w,--workers", workers, "worker threads, 0 to 1024 (0: one per core)")
      ->type_name("N")
      ->multi_option_policy(last);
  app.add_option("--password-file", password_file,
                 "username/password authentication from FILE (made by edgemq-cli passwd); reloaded on SIGHUP")
      ->type_name("FILE")
      ->multi_option_policy(last);
  app.add_option("--authz", authz_file,
                 "authorization policy FILE (JSON, Azure IoT Operations authorizationPolicies; default deny); "
                 "reloaded on SIGHUP")
      ->type_name("FILE")
      ->multi_option_policy(last);
  std::string jwks, jwt_issuer, jwt_leeway, devices_hostname, devices_policies;
  app.add_option("--devices-hostname", devices_hostname,
                 "serve IoT Hub's device API for this HostName (device MQTT dialect; docs/devices.md)")
      ->type_name("NAME")
      ->multi_option_policy(last);
  app.add_option("--devices-service-policies-file", devices_policies,
                 "shared access policies of the IoT Hub service API: JSON [{\"name\": ..., \"key\": BASE64}]")
      ->type_name("FILE")
      ->multi_option_policy(last);
  app.add_option("--jwt-key", out.jwt_keys,
                 "public key (PEM: PUBLIC KEY or CERTIFICATE; RSA for RS256, EC P-256 for ES256) that K8S-SAT "
                 "tokens are verified with; repeatable; reloaded on SIGHUP")
      ->type_name("FILE");
  app.add_option("--jwks", jwks, "JWKS file with the public keys K8S-SAT tokens are verified with; reloaded on SIGHUP")
      ->type_name("FILE")
      ->multi_option_policy(last);
  app.add_option("--jwt-issuer", jwt_issuer, "the iss claim a token must have (default: any)")
      ->type_name("ISS")
      ->multi_option_policy(last);
  app.add_option("--jwt-audience", out.jwt_audiences,
                 "an aud claim a token may have; repeatable; a token must have one of them (default: any)")
      ->type_name("AUD");
  app.add_option("--jwt-leeway", jwt_leeway, "clock skew in seconds allowed on exp/nbf, 0 to 3600 (default 0)")
      ->type_name("SECONDS")
      ->multi_option_policy(last);
  app.add_option("--admin", admin,
                 "serve the admin HTTP API, /metrics and health probes on http://HOST:PORT (or HOST:PORT), or "
                 "https://HOST:PORT with --tls-cert/--tls-key; beyond loopback it needs --admin-token-file")
      ->type_name("URL")
      ->multi_option_policy(last);
  app.add_option("--admin-command-topic", admin_command_topic,
                 "device commands over REST publish to this topic, {clientId} and {name} replaced (default "
                 "commands/{clientId}/{name})")
      ->type_name("TEMPLATE")
      ->multi_option_policy(last);
  app.add_option("--admin-token-file", admin_token_file,
                 "every admin request must carry 'Authorization: Bearer TOKEN', TOKEN the content of FILE")
      ->type_name("FILE")
      ->multi_option_policy(last);
  std::string cluster_node, etcd, nats;
  app.add_option("--cluster-node", cluster_node,
                 "run as node NAME of a cluster: the state store in etcd, messages between nodes over NATS "
                 "(needs --etcd and --nats; docs/cluster.md)")
      ->type_name("NAME")
      ->multi_option_policy(last);
  app.add_option("--etcd", etcd,
                 "client URLs of the etcd members, http://HOST:PORT (https://HOST:PORT: TLS), comma-separated")
      ->type_name("URL[,URL...]")
      ->multi_option_policy(last);
  app.add_option("--nats", nats, "URLs of the NATS servers, nats://HOST:PORT (tls://HOST:PORT: TLS), comma-separated")
      ->type_name("URL[,URL...]")
      ->multi_option_policy(last);
  std::string cluster_tls_ca, cluster_tls_cert, cluster_tls_key;
  app.add_option("--cluster-tls-ca", cluster_tls_ca,
                 "verify https:// etcd and tls:// NATS servers against the CA(s) in FILE (PEM; default: the "
                 "system's store)")
      ->type_name("FILE")
      ->multi_option_policy(last);
  app.add_option("--cluster-tls-cert", cluster_tls_cert,
                 "client certificate (PEM chain) shown to etcd and NATS (mutual TLS; with --cluster-tls-key)")
      ->type_name("FILE")
      ->multi_option_policy(last);
  app.add_option("--cluster-tls-key", cluster_tls_key, "the client certificate's private key (PEM)")
      ->type_name("FILE")
      ->multi_option_policy(last);
  app.add_option("--events", events,
                 "on|off: publish client and session lifecycle events on $edgemq/events/... (default on; "
                 "docs/dataflows.md, \"Lifecycle events\")")
      ->type_name("on|off")
      ->multi_option_policy(last);
  app.add_flag("--allow-anonymous", out.allow_anonymous,
               "let clients without credentials in on every listener (needed for a listener beyond loopback "
               "without --password-file)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    // CLI11 words it "The following argument(s) was/were not expected: A B".
    std::string_view what = e.what();
    const auto colon = what.find(": ");
    return usage_error("unknown option or argument: " +
                       std::string(colon == std::string_view::npos ? what : what.substr(colon + 2)));
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }

  for (const auto& l : listen) {
    config::listen_endpoint ep;
    std::string why;
    if (!config::parse_listen_url(l, ep, &why)) return usage_error("--listen '" + l + "': " + why);
    out.listen.push_back(ep);
  }
  if (out.tls.min_version != "1.2" && out.tls.min_version != "1.3")
    return usage_error("--tls-min-version: must be 1.2 or 1.3, got '" + out.tls.min_version + "'");
  if (app.get_option("--tls-ciphers")->count() > 0 && out.tls.ciphers.empty())
    return usage_error("--tls-ciphers: must not be empty");
  if (app.get_option("--ws-max-frame-size")->count() > 0) {
    const auto& v = ws_max_frame_size;
    const bool digits = !v.empty() && v.size() <= 12 && v.find_first_not_of("0123456789") == std::string::npos;
    const std::uint64_t n = digits ? std::stoull(v) : 0;
    if (!digits || n < config::max_frame_size_min || n > config::max_frame_size_max)
      return usage_error("--ws-max-frame-size: must be between " + std::to_string(config::max_frame_size_min) +
                         " and " + std::to_string(config::max_frame_size_max) + " bytes, got '" + v + "'");
    out.ws_max_frame_size = n;
  }
  if (out.tls.require_client_cert && out.tls.client_ca.empty())
    return usage_error(
        "--tls-require-client-cert needs --tls-client-ca (the CAs client certificates are verified against)");
  if (app.get_option("--data-dir")->count() > 0) {
    if (data_dir.empty()) return usage_error("--data-dir: must not be empty");
    out.data_dir = data_dir;
  }
  if (app.get_option("--dataflows")->count() > 0) {
    if (dataflows_dir.empty()) return usage_error("--dataflows: must not be empty");
    out.dataflows_dir = dataflows_dir;
  }
  if (app.get_option("--password-file")->count() > 0) {
    if (password_file.empty()) return usage_error("--password-file: must not be empty");
    out.password_file = password_file;
  }
  if (app.get_option("--authz")->count() > 0) {
    if (authz_file.empty()) return usage_error("--authz: must not be empty");
    out.authz_file = authz_file;
  }
  for (const auto& k : out.jwt_keys)
    if (k.empty()) return usage_error("--jwt-key: must not be empty");
  for (const auto& a : out.jwt_audiences)
    if (a.empty()) return usage_error("--jwt-audience: must not be empty");
  if (app.get_option("--jwks")->count() > 0) {
    if (jwks.empty()) return usage_error("--jwks: must not be empty");
    out.jwks = jwks;
  }
  if (app.get_option("--devices-hostname")->count() > 0) {
    if (devices_hostname.empty()) return usage_error("--devices-hostname: must not be empty");
    out.devices_hostname = devices_hostname;
  }
  if (app.get_option("--devices-service-policies-file")->count() > 0) {
    if (devices_policies.empty()) return usage_error("--devices-service-policies-file: must not be empty");
    out.devices_policies_file = devices_policies;
  }
  if (app.get_option("--jwt-issuer")->count() > 0) {
    if (jwt_issuer.empty()) return usage_error("--jwt-issuer: must not be empty");
    out.jwt_issuer = jwt_issuer;
  }
  if (app.get_option("--jwt-leeway")->count() > 0) {
    if (jwt_leeway.empty() || jwt_leeway.size() > 4 ||
        jwt_leeway.find_first_not_of("0123456789") != std::string::npos || std::stoul(jwt_leeway) > 3600)
      return usage_error("--jwt-leeway: must be a whole number of seconds between 0 and 3600, got '" + jwt_leeway +
                         "'");
    out.jwt_leeway = static_cast<std::uint32_t>(std::stoul(jwt_leeway));
  }
  const auto whole = [](const std::string& text, std::uint64_t min, std::uint64_t max) -> std::optional<std::uint64_t> {
    if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    const auto n = std::stoull(text);
    if (n < min || n > max) return std::nullopt;
    return n;
  };
  if (app.get_option("--dataflow-buffer-max-bytes")->count() > 0) {
    out.dataflow_buffer_max_bytes = whole(df_max_bytes, 1024, std::uint64_t{1} << 50);
    if (!out.dataflow_buffer_max_bytes)
      return usage_error("--dataflow-buffer-max-bytes: must be a whole number between 1024 and 2^50, got '" +
                         df_max_bytes + "'");
  }
  if (app.get_option("--dataflow-buffer-max-messages")->count() > 0) {
    out.dataflow_buffer_max_messages = whole(df_max_messages, 1, std::uint64_t{1} << 40);
    if (!out.dataflow_buffer_max_messages)
      return usage_error("--dataflow-buffer-max-messages: must be a whole number between 1 and 2^40, got '" +
                         df_max_messages + "'");
  }
  if (app.get_option("--dataflow-buffer-when-full")->count() > 0) {
    if (df_when_full != "drop_oldest" && df_when_full != "stop")
      return usage_error("--dataflow-buffer-when-full: must be drop_oldest or stop, got '" + df_when_full + "'");
    out.dataflow_buffer_when_full = df_when_full;
  }
  if (app.get_option("--admin")->count() > 0) {
    config::admin_options a;
    std::string why;
    if (!config::parse_admin_url(admin, a, &why)) return usage_error("--admin '" + admin + "': " + why);
    out.admin = a;
  }
  if (app.get_option("--admin-command-topic")->count() > 0) {
    if (const auto why = config::check_command_topic(admin_command_topic); !why.empty())
      return usage_error("--admin-command-topic '" + admin_command_topic + "': " + why);
    out.admin_command_topic = admin_command_topic;
  }
  const auto split_list = [](const std::string& text) {
    std::vector<std::string> parts;
    std::size_t from = 0;
    for (;;) {
      const auto comma = text.find(',', from);
      parts.push_back(text.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
      if (comma == std::string::npos) return parts;
      from = comma + 1;
    }
  };
  if (app.get_option("--cluster-node")->count() > 0) out.cluster_node = cluster_node;
  if (app.get_option("--etcd")->count() > 0) out.etcd = split_list(etcd);
  for (auto [flag, value, slot] : {std::tuple{"--cluster-tls-ca", &cluster_tls_ca, &out.cluster_tls_ca},
                                   std::tuple{"--cluster-tls-cert", &cluster_tls_cert, &out.cluster_tls_cert},
                                   std::tuple{"--cluster-tls-key", &cluster_tls_key, &out.cluster_tls_key}}) {
    if (app.get_option(flag)->count() == 0) continue;
    if (value->empty()) return usage_error(std::string(flag) + ": must not be empty");
    *slot = *value;
  }
  if (app.get_option("--nats")->count() > 0) out.nats = split_list(nats);
  if (out.cluster_node || out.etcd || out.nats) {
    config::cluster_options given;
    given.node = out.cluster_node.value_or("");
    given.etcd = out.etcd.value_or(std::vector<std::string>{});
    given.nats = out.nats.value_or(std::vector<std::string>{});
    std::vector<config::config_error> problems;
    // Checked whole once the file is applied too (main); here only what the flags say alone.
    if (out.cluster_node && out.etcd && out.nats) config::check_cluster(given, "", problems);
    if (out.cluster_node && !out.cluster_node->empty() && problems.empty()) {
      config::cluster_options name_only;
      name_only.node = given.node;
      name_only.etcd = {"http://x:1"};
      name_only.nats = {"nats://x:1"};
      config::check_cluster(name_only, "", problems);
    }
    if (!problems.empty()) return usage_error(problems.front().path + ": " + problems.front().message);
  }
  if (app.get_option("--events")->count() > 0) {
    if (events != "on" && events != "off") return usage_error("--events: must be on or off, got '" + events + "'");
    out.events = events == "on";
  }
  if (app.get_option("--admin-token-file")->count() > 0) {
    if (admin_token_file.empty()) return usage_error("--admin-token-file: must not be empty");
    out.admin_token_file = admin_token_file;
  }
  if (app.get_option("--log-level")->count() > 0) {
    if (!config::valid_log_level(log_level))
      return usage_error("--log-level: must be one of trace, debug, info, warn, error, critical, off, got '" +
                         log_level + "'");
    out.log_level = log_level;
  }
  if (app.get_option("--log-format")->count() > 0) {
    if (!config::valid_log_format(log_format))
      return usage_error("--log-format: must be text or json, got '" + log_format + "'");
    out.log_format = log_format;
  }
  if (app.get_option("--workers")->count() > 0) {
    out.workers = parse_workers(workers);
    if (!out.workers)
      return usage_error("--workers: must be a whole number between 0 and " + std::to_string(max_workers) + ", got '" +
                         workers + "'");
  }
  return std::nullopt;
}

}  // namespace edgemq::app
