// The daemon's command line: parsed and checked here, so that every usage error ends the
// process the same way (one line naming the option and the problem, exit status 2).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace edgemq::app {

struct command_line {
  std::string config_file;
  std::vector<config::listen_endpoint> listen;  // replaces the configured listeners when not empty
  std::optional<std::string> data_dir;
  std::optional<std::string> log_level;
  std::optional<std::string> log_format;
  std::optional<unsigned> workers;
  std::optional<std::string> password_file;
  std::optional<std::string> authz_file;  // --authz FILE
  // --jwt-key (repeatable), --jwks, --jwt-issuer, --jwt-audience (repeatable), --jwt-leeway:
  // each replaces the file's value when given.
  std::vector<std::string> jwt_keys;
  std::optional<std::string> jwks;
  std::optional<std::string> jwt_issuer;
  std::vector<std::string> jwt_audiences;
  std::optional<std::uint32_t> jwt_leeway;
  bool allow_anonymous = false;
  std::optional<config::admin_options> admin;      // --admin URL
  std::optional<std::string> admin_token_file;     // --admin-token-file FILE
  std::optional<std::string> admin_command_topic;  // --admin-command-topic TEMPLATE
  std::optional<std::string> dataflows_dir;        // --dataflows DIR
  // --dataflow-buffer-max-bytes, --dataflow-buffer-max-messages, --dataflow-buffer-when-full.
  std::optional<std::uint64_t> dataflow_buffer_max_bytes;
  std::optional<std::uint64_t> dataflow_buffer_max_messages;
  std::optional<std::string> dataflow_buffer_when_full;
  // --tls-cert, --tls-key, --tls-client-ca, --tls-require-client-cert, --tls-min-version,
  // --tls-ciphers: for the mqtts:// and wss:// listeners given by --listen.
  config::tls_options tls;  // --allow-anonymous: every listener lets clients in without credentials
  // --ws-max-frame-size: for the ws:// and wss:// listeners given by --listen (0: the default).
  std::uint64_t ws_max_frame_size = 0;
  // --devices-hostname NAME, --devices-service-policies-file FILE (docs/devices.md).
  std::optional<std::string> devices_hostname;
  std::optional<std::string> devices_policies_file;
  std::optional<bool> events;  // --events on|off: lifecycle events on $edgemq/events/...
  // --cluster-node NAME, --etcd URL[,URL...], --nats URL[,URL...] (docs/cluster.md): each
  // replaces the file's value when given.
  std::optional<std::string> cluster_node;
  std::optional<std::vector<std::string>> etcd;
  std::optional<std::vector<std::string>> nats;
  // --cluster-tls-ca/--cluster-tls-cert/--cluster-tls-key FILE: TLS to etcd and NATS (cluster.tls_*).
  std::optional<std::string> cluster_tls_ca, cluster_tls_cert, cluster_tls_key;
  bool cluster_given() const noexcept {
    return cluster_node || etcd || nats || cluster_tls_ca || cluster_tls_cert || cluster_tls_key;
  }

  // Overlays the options given on `cfg` (the command line wins over the file).
  void apply(config::daemon_config& cfg) const;
};

// Parses argv. Returns the exit status when the process should end now (0 after --help or
// --version, 2 after a usage error, reported on stderr as one "edgemq: ..." line), or nullopt
// to go on with `out`.
std::optional<int> parse_command_line(int argc, char** argv, command_line& out);

}  // namespace edgemq::app
