// The daemon's typed configuration. Defaults live in the structs (and in broker::limits);
// load_config() overlays a JSON file and reports every problem with its JSON path.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker/limits.hpp"
#include "config/server_options.hpp"

namespace edgemq::config {

struct statestore_options {
  bool enabled = true;
  std::size_t max_keys = 1'000'000;
  std::size_t max_bytes = std::size_t{1} << 30;
  std::string sync = "sync";  // "sync": fsync each batch before replying; "none": OS page cache
  std::string node_id = "edgemq";
};

struct persistence_options {
  bool enabled = true;
  std::string sync = "sync";  // "sync" | "batch" | "none"
  std::uint32_t batch_ms = 5;
  bool move_aside_on_corruption = false;  // otherwise refuse to start
};

// JWT verification (K8S-SAT enhanced authentication; docs/security.md): public keys from PEM
// files and/or a JWKS file (reloaded on SIGHUP), and what a token must say.
struct jwt_options {
  std::vector<std::string> key_files;  // PEM: PUBLIC KEY or CERTIFICATE (RSA >= 2048 bits, EC P-256)
  std::string jwks_file;
  std::string issuer;                  // empty: any
  std::vector<std::string> audiences;  // empty: any; else `aud` must hold one of them
  std::uint32_t leeway_s = 0;          // clock skew allowed on exp/nbf
  bool enabled() const noexcept { return !key_files.empty() || !jwks_file.empty(); }
};

// The dataflows' disk buffers, one per dataflow (docs/dataflows.md, "At least once and the disk
// buffer"): the bound of each and what happens when a record does not fit.
struct dataflow_buffer_options {
  std::uint64_t max_bytes = std::uint64_t{256} << 20;  // encoded records
  std::uint64_t max_messages = 1'000'000;
  std::string when_full = "drop_oldest";  // "drop_oldest" | "stop" (pause the source)
};

// Dataflow definitions declared at start-up (docs/dataflows.md): a directory of .json/.yaml/.yml
// files and documents in the config file. The documents are kept as JSON text so the config
// stays free of the dataflow library; they are validated when the daemon loads them.
struct dataflow_options {
  std::string dir;                     // empty: none
  std::vector<std::string> documents;  // each one Dataflow or DataflowEndpoint resource, JSON text
  dataflow_buffer_options buffer;
};

struct config_error {
  std::string path;     // JSON pointer, e.g. "/mqtt/max_packet_size"
  std::string message;  // what is wrong with it
};

// IoT Hub's device API at the edge (docs/devices.md). On when a hostname is set (or "enabled":
// true, which then needs one).
struct service_policy {
  std::string name;  // e.g. "iothubowner"
  std::string key;   // base64
};
struct devices_options {
  bool enabled = false;
  std::string hostname;  // the HostName of connection strings; device usernames and SAS `sr` name it
  std::vector<service_policy> service_policies;
  std::string service_policies_file;  // JSON: [{"name": ..., "key": ...}], read at start-up
};

// Reads a list of shared access policies ([{"name", "key"}], key base64) at JSON path `path`
// (also used for service_policies_file), appending problems to `errors`.
void read_service_policies(const nlohmann::json& v, const std::string& path, std::vector<service_policy>& out,
                           std::vector<config_error>& errors);

// Cluster mode (docs/cluster.md): on when a node name is set; the state store then lives in etcd
// and messages cross nodes over NATS. Single node (empty name) needs neither.
struct cluster_options {
  std::string node;               // this node's name in the cluster: [A-Za-z0-9_-], 1..63 characters
  std::vector<std::string> etcd;  // client URLs of the etcd members, http://HOST:PORT or https://HOST:PORT
  std::vector<std::string> nats;  // URLs of the NATS servers, nats://HOST:PORT or tls://HOST:PORT
  // Securing those connections (docs/cluster.md, "Securing the cluster connections"): the CA the
  // servers are verified against (empty: the system's store) and a client certificate and key
  // (mTLS), for https:// and tls:// URLs; etcd and NATS credentials. The *_file keys of the JSON
  // file are read into the passwords as it loads. Passwords and tokens are never logged.
  std::string tls_ca, tls_cert, tls_key;
  std::string etcd_user, etcd_password;
  std::string nats_user, nats_password, nats_token;
  bool enabled() const noexcept { return !node.empty(); }
};

// Checks a cluster section (node name, URL shapes, etcd and NATS both given when a node is, TLS
// files readable, cert and key together, credentials complete),
// appending problems under `path` ("/cluster" in the file, "" for the command line's names).
void check_cluster(const cluster_options& c, const std::string& path, std::vector<config_error>& errors);

struct daemon_config {
  server_options server;
  broker::limits limits;
  std::string data_dir = "./data";
  std::string log_level = "info";
  std::string log_format = "text";  // "text" (human) or "json" (one JSON object per line)
  std::string password_file;        // username/password authentication; empty: none (reloaded on SIGHUP)
  std::string authz_file;           // authorization policy (AIO authorizationPolicies as JSON); empty: none (reloaded)
  jwt_options jwt;                  // K8S-SAT enhanced authentication; keys reloaded on SIGHUP
  statestore_options statestore;
  persistence_options persistence;
  admin_options admin;
  dataflow_options dataflows;
  devices_options devices;
  cluster_options cluster;
};

// Overlays the JSON document `text` on `cfg`. Returns every error found; `cfg` is only
// meaningful when the list is empty. Unknown keys are errors.
std::vector<config_error> apply_json(const std::string& text, daemon_config& cfg);

// Reads `path` and applies it. An unreadable file is reported with path "".
std::vector<config_error> load_file(const std::string& path, daemon_config& cfg);

bool valid_log_level(const std::string& level);
bool valid_log_format(const std::string& format);  // text, json

// The safe-default rule: the listeners beyond loopback that would let anonymous clients in
// without anyone having said so (no password file, no JWT keys and no explicit
// allow_anonymous: true).
// Their indexes in cfg.server.listeners; the daemon refuses to start when there is any.
std::vector<std::size_t> open_listeners(const daemon_config& cfg);

// The safe-default rule for the admin server: beyond loopback it needs a token file.
bool admin_open(const daemon_config& cfg);

// Gives every listener without an explicit allow_anonymous its default: anonymous clients are
// allowed when no authentication method (password file, JWT keys) is configured, refused when
// one is.
void resolve_listener_auth(daemon_config& cfg);

}  // namespace edgemq::config
