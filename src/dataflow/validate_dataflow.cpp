// Dataflow documents: the header, spec.mode, and the operations (one Source, at most one
// BuiltInTransformation, one Destination), the endpoints they name and the AIO rule that the
// local broker (`default`) is the source or the destination.
#include <set>

#include "dataflow/endpoints/mqtt_settings.hpp"
#include "dataflow/transform.hpp"
#include "dataflow/validate.hpp"
#include "edgemq/mqtt/topic.hpp"

namespace edgemq::dataflow {
namespace {

using json = nlohmann::json;

// Keys the AIO Dataflow resource has that edgemq accepts and does not use.
const std::set<std::string> spec_keys = {"operations", "mode", "profileRef", "requestDiskPersistence"};
const std::set<std::string> operation_keys = {"operationType", "name", "sourceSettings",
                                              "builtInTransformationSettings", "destinationSettings"};
const std::set<std::string> source_keys = {"endpointRef", "dataSources", "assetRef", "serializationFormat",
                                           "schemaRef"};
const std::set<std::string> destination_keys = {"endpointRef", "dataDestination", "headers"};

void unknown_keys(const json& obj, const std::set<std::string>& known, const std::string& path, problems& out) {
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (!known.contains(it.key())) out.push_back({join_pointer(path, it.key()), "unknown key"});
}

// A topic filter for a subscription on an MQTT source, $share/<group>/<filter> included.
bool valid_source_filter(std::string_view f) {
  if (f.starts_with("$share/")) {
    const auto rest = f.substr(7);
    const auto slash = rest.find('/');
    if (slash == 0 || slash == std::string_view::npos) return false;
    const auto group = rest.substr(0, slash);
    if (group.find_first_of("+#") != std::string_view::npos) return false;
    f = rest.substr(slash + 1);
  }
  return mqtt::validate_topic_filter(f) == mqtt::reason_code::success;
}

// endpointRef of a Source or a Destination: a string naming `default` or a defined endpoint
// whose type can be that end. Returns the name ("" when bad).
std::string endpoint_ref(const json& settings, const std::string& path, bool source, const endpoint_map& endpoints,
                         const validation_context& ctx, problems& out) {
  const auto p = join_pointer(path, "endpointRef");
  const auto r = settings.find("endpointRef");
  if (r == settings.end()) {
    out.push_back({p, "missing (the endpoint's name; 'default' is the local broker)"});
    return {};
  }
  if (!r->is_string() || r->get<std::string>().empty()) {
    out.push_back({p, "must be an endpoint's name"});
    return {};
  }
  const auto name = r->get<std::string>();
  if (name == default_endpoint) return name;
  const auto e = endpoints.find(name);
  if (e == endpoints.end()) {
    out.push_back({p, "no DataflowEndpoint named '" + name + "'"});
    return {};
  }
  const auto* kind = ctx.kind(e->second->type);
  if (!kind) {
    out.push_back({p, "endpoint '" + name + "' has an unknown endpointType '" + e->second->type + "'"});
    return {};
  }
  if (source && !kind->make_source) {
    out.push_back({p, "endpoint '" + name + "' (" + e->second->type + ") cannot be a source"});
    return {};
  }
  if (!source && !kind->make_sink) {
    out.push_back({p, "endpoint '" + name + "' (" + e->second->type + ") cannot be a destination"});
    return {};
  }
  return name;
}

void source_settings(const json& s, const std::string& path, const endpoint_map& endpoints,
                     const validation_context& ctx, dataflow_definition& df, problems& out) {
  if (!s.is_object()) return out.push_back({path, "must be an object"});
  unknown_keys(s, source_keys, path, out);
  df.source_endpoint = endpoint_ref(s, path, true, endpoints, ctx, out);
  const auto p = join_pointer(path, "dataSources");
  const auto ds = s.find("dataSources");
  if (ds == s.end()) return out.push_back({p, "missing (the topics to read)"});
  if (!ds->is_array()) return out.push_back({p, "must be an array of topic filters"});
  if (ds->empty()) return out.push_back({p, "must not be empty"});
  // Topic filters on the local broker or a remote MQTT broker; other sources (Kafka topics)
  // are checked by their endpoint type.
  const bool mqtt = df.source_endpoint == default_endpoint ||
                    (endpoints.contains(df.source_endpoint) && endpoints.at(df.source_endpoint)->type == "Mqtt");
  for (std::size_t i = 0; i < ds->size(); ++i) {
    const auto& t = (*ds)[i];
    if (!t.is_string() || t.get<std::string>().empty()) {
      out.push_back({join_pointer(p, i), "must be a non-empty string"});
      continue;
    }
    if (mqtt && !valid_source_filter(t.get<std::string>())) {
      out.push_back({join_pointer(p, i), "not a valid MQTT topic filter"});
      continue;
    }
    df.data_sources.push_back(t.get<std::string>());
  }
}

void destination_settings(const json& s, const std::string& path, const endpoint_map& endpoints,
                          const validation_context& ctx, dataflow_definition& df, problems& out) {
  if (!s.is_object()) return out.push_back({path, "must be an object"});
  unknown_keys(s, destination_keys, path, out);
  df.destination_endpoint = endpoint_ref(s, path, false, endpoints, ctx, out);
  const auto p = join_pointer(path, "dataDestination");
  const auto d = s.find("dataDestination");
  if (d == s.end()) return out.push_back({p, "missing (the topic, path or name to write to)"});
  if (!d->is_string() || d->get<std::string>().empty()) return out.push_back({p, "must be a non-empty string"});
  df.data_destination = d->get<std::string>();
  // A topic (the local broker, an Mqtt endpoint): a template of ${inputTopic[.N]} that must give a
  // topic name, so a bad one is refused here rather than failing every record at run time.
  const auto e = endpoints.find(df.destination_endpoint);
  if (df.destination_endpoint == default_endpoint || (e != endpoints.end() && e->second->type == "Mqtt"))
    validate_topic_template(df.data_destination, p, out);
}

}  // namespace

std::shared_ptr<const dataflow_definition> validate_dataflow(const json& doc, const endpoint_map& endpoints,
                                                             const validation_context& ctx, problems& out) {
  const auto before = out.size();
  validate_header(doc, "Dataflow", out);
  auto df = std::make_shared<dataflow_definition>();
  df->name = name_of(doc);
  df->document = doc;
  if (!doc.is_object() || !doc.contains("spec") || !doc["spec"].is_object()) return nullptr;
  const auto& spec = doc["spec"];
  unknown_keys(spec, spec_keys, "/spec", out);

  if (const auto m = spec.find("mode"); m != spec.end()) {
    if (*m == "Enabled")
      df->enabled = true;
    else if (*m == "Disabled")
      df->enabled = false;
    else
      out.push_back({"/spec/mode", "must be Enabled or Disabled"});
  }

  const auto ops = spec.find("operations");
  if (ops == spec.end()) {
    out.push_back({"/spec/operations", "missing (a Source and a Destination operation)"});
    return nullptr;
  }
  if (!ops->is_array()) {
    out.push_back({"/spec/operations", "must be an array of operations"});
    return nullptr;
  }
  int sources = 0, transformations = 0, destinations = 0;
  for (std::size_t i = 0; i < ops->size(); ++i) {
    const auto& op = (*ops)[i];
    const auto path = join_pointer("/spec/operations", i);
    if (!op.is_object()) {
      out.push_back({path, "must be an object"});
      continue;
    }
    unknown_keys(op, operation_keys, path, out);
    const auto t = op.find("operationType");
    const auto tp = join_pointer(path, "operationType");
    if (t == op.end()) {
      out.push_back({tp, "missing (Source, BuiltInTransformation or Destination)"});
      continue;
    }
    // The settings key an operation type reads, and the count of that type so far.
    std::string settings_key;
    int* count = nullptr;
    if (*t == "Source") {
      settings_key = "sourceSettings";
      count = &sources;
    } else if (*t == "BuiltInTransformation") {
      settings_key = "builtInTransformationSettings";
      count = &transformations;
    } else if (*t == "Destination") {
      settings_key = "destinationSettings";
      count = &destinations;
    } else {
      out.push_back({tp, "unknown operationType " + t->dump() + " (Source, BuiltInTransformation or Destination)"});
      continue;
    }
    if (++*count > 1) {
      out.push_back({tp, "a dataflow has only one " + t->get<std::string>() + " operation"});
      continue;
    }
    const auto sp = join_pointer(path, settings_key);
    const auto s = op.find(settings_key);
    if (count == &transformations) {
      // Absent settings: the identity, as AIO runs a transformation without rules.
      df->transformation = s == op.end() ? json(nullptr) : *s;
      problems local;
      compile_transform(df->transformation, sp, local, ctx.datasets);
      out.insert(out.end(), local.begin(), local.end());
    } else if (s == op.end()) {
      out.push_back({sp, "missing"});
    } else if (count == &sources) {
      source_settings(*s, sp, endpoints, ctx, *df, out);
    } else {
      destination_settings(*s, sp, endpoints, ctx, *df, out);
    }
  }
  if (sources == 0) out.push_back({"/spec/operations", "missing a Source operation"});
  if (destinations == 0) out.push_back({"/spec/operations", "missing a Destination operation"});
  if (sources == 1 && destinations == 1 && !df->source_endpoint.empty() && !df->destination_endpoint.empty() &&
      df->source_endpoint != default_endpoint && df->destination_endpoint != default_endpoint)
    out.push_back({"/spec/operations",
                   "the local broker endpoint 'default' must be the source or the destination of every dataflow "
                   "(as in Azure IoT Operations)"});
  if (out.size() != before) return nullptr;
  return df;
}

}  // namespace edgemq::dataflow
