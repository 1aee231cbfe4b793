#include "admin/prometheus.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "broker/broker.hpp"

namespace edgemq::admin {
namespace {

struct catalog_entry {
  std::string_view topic;  // after "$SYS/broker/"
  std::string_view name;
  metric_type type;
  std::string_view help;
  std::string_view label = {};  // with label_value: the series within the family
  std::string_view label_value = {};
};

constexpr auto C = metric_type::counter;
constexpr auto G = metric_type::gauge;

// The totals $SYS also publishes (messages/received, messages/sent, messages/dropped) are not here:
// on /metrics they are the sums over the labelled series (sum by () in PromQL).
constexpr catalog_entry catalog[] = {
    {"uptime", "edgemq_uptime_seconds", G, "Seconds since the broker started."},
    {"clients/connected", "edgemq_clients_connected", G, "Clients with a live connection."},
    {"connections/accepted", "edgemq_connections_accepted_total", C, "CONNECTs accepted since start."},
    {"sessions/count", "edgemq_sessions", G, "Sessions, connected or not."},
    {"sessions/expired", "edgemq_sessions_expired_total", C, "Sessions ended by their expiry interval."},
    {"subscriptions/count", "edgemq_subscriptions", G, "Subscription filters in the index."},
    {"retained/count", "edgemq_retained_messages", G, "Retained messages."},
    {"messages/received/qos0", "edgemq_messages_received_total", C,
     "Messages routed (client publishes and wills), by QoS as published.", "qos", "0"},
    {"messages/received/qos1", "edgemq_messages_received_total", C, "", "qos", "1"},
    {"messages/received/qos2", "edgemq_messages_received_total", C, "", "qos", "2"},
    {"messages/sent/qos0", "edgemq_messages_sent_total", C, "PUBLISH packets written to clients, by QoS as granted.",
     "qos", "0"},
    {"messages/sent/qos1", "edgemq_messages_sent_total", C, "", "qos", "1"},
    {"messages/sent/qos2", "edgemq_messages_sent_total", C, "", "qos", "2"},
    {"bytes/received", "edgemq_payload_received_bytes_total", C, "Payload bytes of the messages routed."},
    {"bytes/sent", "edgemq_payload_sent_bytes_total", C, "Payload bytes of the PUBLISH packets written to clients."},
    {"messages/dropped/queue_full", "edgemq_messages_dropped_total", C, "Messages dropped, by cause.", "cause",
     "queue_full"},
    {"messages/dropped/qos0_offline", "edgemq_messages_dropped_total", C, "", "cause", "qos0_offline"},
    {"messages/dropped/too_large", "edgemq_messages_dropped_total", C, "", "cause", "too_large"},
    {"messages/dropped/expired", "edgemq_messages_dropped_total", C, "", "cause", "expired"},
    {"messages/dropped/unencodable", "edgemq_messages_dropped_total", C, "", "cause", "unencodable"},
    {"messages/refused/storage", "edgemq_messages_refused_storage_total", C,
     "QoS 1/2 messages refused because the disk failed."},
    {"protocol_errors", "edgemq_protocol_errors_total", C, "Connections closed for a protocol error."},
    {"auth/failures", "edgemq_auth_failures_total", C,
     "CONNECTs and re-authentications refused for wrong or missing credentials."},
    {"auth/expired", "edgemq_auth_expired_total", C, "Connections ended because their token expired."},
    {"auth/connect_denied", "edgemq_auth_denied_total", C, "Requests the authorization rules refused, by action.",
     "action", "connect"},
    {"auth/publish_denied", "edgemq_auth_denied_total", C, "", "action", "publish"},
    {"auth/subscribe_denied", "edgemq_auth_denied_total", C, "", "action", "subscribe"},
    {"auth/key_denied", "edgemq_auth_denied_total", C, "", "action", "statestore_key"},
    {"wills/published", "edgemq_wills_published_total", C, "Will messages published."},
    {"statestore/keys", "edgemq_statestore_keys", G, "Keys in the state store."},
    {"statestore/insertions", "edgemq_statestore_operations_total", C, "State store operations, by kind.", "op",
     "insertion"},
    {"statestore/modifications", "edgemq_statestore_operations_total", C, "", "op", "modification"},
    {"statestore/deletions", "edgemq_statestore_operations_total", C, "", "op", "deletion"},
    {"statestore/retrievals", "edgemq_statestore_operations_total", C, "", "op", "retrieval"},
    {"statestore/keynotify_requests", "edgemq_statestore_operations_total", C, "", "op", "keynotify"},
    {"statestore/notifications_sent", "edgemq_statestore_notifications_sent_total", C,
     "Key change notifications sent."},
    {"statestore/storage/healthy", "edgemq_statestore_storage_healthy", G,
     "1 while the state store's disk writes succeed."},
    {"statestore/storage/write_failures", "edgemq_statestore_storage_write_failures_total", C,
     "State store disk writes that failed."},
    {"persistence/healthy", "edgemq_persistence_healthy", G, "1 while the broker journal's disk writes succeed."},
    {"persistence/write_failures", "edgemq_persistence_write_failures_total", C, "Broker journal writes that failed."},
    {"persistence/dropped_changes", "edgemq_persistence_dropped_changes_total", C,
     "Journal changes given up after failures."},
    {"persistence/refused_writes", "edgemq_persistence_refused_writes_total", C,
     "Journal changes refused before reaching the disk (a message too large to store)."},
    {"cluster/nats/connected", "edgemq_cluster_nats_connected", G, "1 while this node is connected to NATS."},
    {"cluster/nodes", "edgemq_cluster_nodes", G, "Cluster nodes up (heard within 3.5 s), this one included."},
    {"cluster/messages/out", "edgemq_cluster_messages_out_total", C, "Messages published to the other nodes."},
    {"cluster/messages/in", "edgemq_cluster_messages_in_total", C, "Messages from other nodes routed here."},
    {"cluster/dropped/queue_full", "edgemq_cluster_messages_dropped_total", C,
     "Messages not sent to the other nodes, by cause.", "cause", "queue_full"},
    {"cluster/dropped/too_large", "edgemq_cluster_messages_dropped_total", C, "", "cause", "too_large"},
    {"cluster/dropped/nats", "edgemq_cluster_messages_dropped_total", C, "", "cause", "nats"},
    {"cluster/skipped/own", "edgemq_cluster_messages_skipped_total", C,
     "NATS messages received and not routed, by cause.", "cause", "own"},
    {"cluster/skipped/duplicate", "edgemq_cluster_messages_skipped_total", C, "", "cause", "duplicate"},
    {"cluster/skipped/malformed", "edgemq_cluster_messages_skipped_total", C, "", "cause", "malformed"},
    {"cluster/nats/reconnects", "edgemq_cluster_nats_reconnects_total", C, "Reconnections to NATS."},
    {"cluster/nats/subscriptions", "edgemq_cluster_nats_subscriptions", G,
     "NATS subscriptions for this node's distinct filters and share groups."},
    {"cluster/retained/synced", "edgemq_cluster_retained_synced_total", C,
     "Retained messages received from a peer at start-up."},
    {"cluster/queue/messages", "edgemq_cluster_outbound_queued_messages", G,
     "Messages waiting to be published to NATS."},
    {"cluster/confirms/asked", "edgemq_cluster_confirmations_total", C,
     "QoS 1/2 messages whose acknowledgement waited for other nodes' persistent sessions, by outcome.", "outcome",
     "asked"},
    {"cluster/confirms/durable", "edgemq_cluster_confirmations_total", C, "", "outcome", "durable"},
    {"cluster/confirms/failed", "edgemq_cluster_confirmations_total", C, "", "outcome", "failed"},
    {"cluster/confirms/timed_out", "edgemq_cluster_confirmations_total", C, "", "outcome", "timed_out"},
    {"cluster/confirms/answered", "edgemq_cluster_confirmations_answered_total", C,
     "Confirmations this node sent for other nodes' messages it journaled."},
    {"cluster/interest/unwritten", "edgemq_cluster_persistent_filters_unwritten", G,
     "This node's persistent-session filters not yet recorded in etcd."},
    {"dataflows/defined", "edgemq_dataflows", G, "Dataflows the runtime knows (running, disabled or failed)."},
    {"dataflows/running", "edgemq_dataflows_running", G, "Dataflows running."},
    {"dataflows/received", "edgemq_dataflow_received_total", C, "Records dataflows took from their sources."},
    {"dataflows/dropped", "edgemq_dataflow_filtered_total", C, "Records a dataflow's filter dropped."},
    {"dataflows/failed", "edgemq_dataflow_transform_errors_total", C,
     "Records a dataflow's transformation refused (never sent)."},
    {"dataflows/sent", "edgemq_dataflow_sent_total", C, "Records dataflow destinations acknowledged."},
    {"dataflows/send_failures", "edgemq_dataflow_send_failures_total", C, "Failed sends (each retried)."},
    {"dataflows/evicted", "edgemq_dataflow_evicted_total", C,
     "Records a full dataflow buffer dropped (when_full drop_oldest, or larger than the buffer)."},
    {"dataflows/buffered_messages", "edgemq_dataflow_buffered_messages", G, "Records in the dataflows' disk buffers."},
    {"dataflows/buffered_bytes", "edgemq_dataflow_buffered_bytes", G, "Bytes in the dataflows' disk buffers."},
};

constexpr std::string_view skipped[] = {"messages/received", "messages/sent", "messages/dropped"};

const char* type_name(metric_type t) {
  switch (t) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    default:
      return "untyped";
  }
}

// A $SYS topic not in the catalog, as a metric name: [a-zA-Z0-9_] only.
std::string sys_name(std::string_view topic) {
  std::string n = "edgemq_sys_";
  for (char c : topic) n += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return n;
}

}  // namespace

void metric_set::add(std::string_view name, std::string_view help, metric_type type,
                     std::vector<std::pair<std::string, std::string>> labels, std::uint64_t value) {
  auto it = std::find_if(families_.begin(), families_.end(), [&](const auto& f) { return f.name == name; });
  if (it == families_.end()) {
    families_.push_back({std::string(name), std::string(help), type, {}});
    it = families_.end() - 1;
  }
  if (it->help.empty()) it->help = help;
  for (const auto& s : it->samples)
    if (s.labels == labels) return;
  it->samples.push_back({std::move(labels), value});
}

void metric_set::add_sys(std::string_view topic, std::uint64_t value) {
  constexpr std::string_view root = "$SYS/broker/";
  if (topic.starts_with(root)) topic.remove_prefix(root.size());
  for (auto s : skipped)
    if (topic == s) return;
  for (const auto& e : catalog) {
    if (e.topic != topic) continue;
    std::vector<std::pair<std::string, std::string>> labels;
    if (!e.label.empty()) labels.emplace_back(e.label, e.label_value);
    return add(e.name, e.help, e.type, std::move(labels), value);
  }
  add(sys_name(topic), "$SYS/broker/" + std::string(topic), metric_type::untyped, {}, value);
}

namespace {
// The text format's escapes: backslash and newline everywhere, the double quote only inside a
// label value (HELP text is not quoted).
std::string escape(std::string_view v, bool quote) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quote)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}
}  // namespace

std::string escape_label_value(std::string_view v) {
  return escape(v, true);
}

std::string escape_help(std::string_view v) {
  return escape(v, false);
}

std::string render(const std::vector<metric_family>& families) {
  std::string out;
  for (const auto& f : families) {
    if (f.samples.empty()) continue;
    out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + f.name + " " + type_name(f.type) + "\n";
    for (const auto& s : f.samples) {
      out += f.name;
      if (!s.labels.empty()) {
        out += '{';
        for (std::size_t i = 0; i < s.labels.size(); ++i)
          out += (i ? "," : "") + s.labels[i].first + "=\"" + escape_label_value(s.labels[i].second) + "\"";
        out += '}';
      }
      out += ' ' + std::to_string(s.value) + '\n';
    }
  }
  return out;
}

namespace {
std::string shortest(double v) {
  char buf[512];  // fixed notation of any double fits
  const auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);  // 0.0001, not 1e-04
  return std::string(buf, ec == std::errc{} ? p : buf);
}
}  // namespace

std::string render_histogram(std::string_view name, std::string_view help, const broker::latency_histogram& h) {
  const auto snap = h.read();
  const std::string n(name);
  std::string out = "# HELP " + n + " " + escape_help(help) + "\n# TYPE " + n + " histogram\n";
  const auto& bounds = broker::latency_histogram::bounds;
  for (std::size_t i = 0; i < bounds.size(); ++i)
    out += n + "_bucket{le=\"" + shortest(bounds[i]) + "\"} " + std::to_string(snap.cumulative[i]) + "\n";
  out += n + "_bucket{le=\"+Inf\"} " + std::to_string(snap.cumulative.back()) + "\n";
  out += n + "_sum " + shortest(snap.sum_seconds) + "\n";
  out += n + "_count " + std::to_string(snap.cumulative.back()) + "\n";
  return out;
}

std::string broker_metrics(const broker::broker& core, const std::vector<std::string>& listener_names,
                           std::string_view version) {
  metric_set m;
  m.add("edgemq_build_info", "The running edgemq's version (value 1).", metric_type::gauge,
        {{"version", std::string(version)}}, 1);
  core.collect_sys([&](const std::string& topic, std::uint64_t value) { m.add_sys(topic, value); });
  for (const auto& [key, n] : core.sessions().connected_by_listener()) {
    const auto& [listener, v] = key;
    m.add("edgemq_connections", "Live connections, by listener and MQTT protocol version.", metric_type::gauge,
          {{"listener", listener < listener_names.size() ? listener_names[listener] : std::to_string(listener)},
           {"protocol", v == mqtt::protocol_version::v5 ? "5" : "3.1.1"}},
          n);
  }
  const auto q = core.sessions().queues();
  m.add("edgemq_queued_messages", "Messages waiting in session queues (connected and offline sessions).",
        metric_type::gauge, {}, q.queued);
  m.add("edgemq_queued_bytes", "Bytes (topic and payload) of the messages waiting in session queues.",
        metric_type::gauge, {}, q.queued_bytes);
  m.add("edgemq_inflight_messages", "QoS 1/2 messages sent to clients and not yet acknowledged.", metric_type::gauge,
        {}, q.inflight);
  auto out = render(m.families());
  for (const auto& h : core.histograms()) out += render_histogram(h.name, h.help, *h.h);
  return out;
}

}  // namespace edgemq::admin
